//go:build integration

package devstack

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/go-sql-driver/mysql"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/logetl/logetl/internal/localsvc"
	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/internal/testenv"
)

// fakeLogetlEnv makes the test binary play the logetl executable that the supervisor starts
// as api and worker: the supervisor is what is under test here, against the
// real Temporal dev server, versitygw and MariaDB.
const fakeLogetlEnv = "DEVSTACK_TEST_FAKE_LOGETL"

func TestMain(m *testing.M) {
	if os.Getenv(fakeLogetlEnv) == "1" {
		os.Exit(fakeLogetl(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakeLogetl(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	dataDir := os.Getenv("LOGETL_DATA_DIR")
	recordEnv := func(name string) {
		_ = os.WriteFile(filepath.Join(dataDir, "fake-"+name+".env"), []byte(strings.Join(os.Environ(), "\n")), 0o600)
	}
	switch strings.Join(args, " ") {
	case "api":
		recordEnv("api")
		ln, err := net.Listen("tcp", os.Getenv("LOGETL_API_ADDR"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/readyz" {
				fmt.Fprintln(w, "ok")
				return
			}
			http.NotFound(w, r)
		})}
		go func() { <-ctx.Done(); srv.Close() }()
		_ = srv.Serve(ln)
		return 0
	case "worker":
		recordEnv("worker")
		// The real worker's start-up gap report (slog text, as cmd/logetl/worker.go logs it).
		fmt.Fprintln(os.Stderr, `time=2026-01-02T03:04:05.000Z level=WARN msg="rows in MySQL the lake has never exported: backfilling them" table=activity_log rows=42`)
		fmt.Fprintln(os.Stderr, `time=2026-01-02T03:04:05.000Z level=INFO msg="worker polling" task_queue=devstack-test`)
		c, err := client.Dial(client.Options{HostPort: os.Getenv("LOGETL_TEMPORAL_ADDRESS"), Logger: localsvc.QuietLogger})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer c.Close()
		w := worker.New(c, os.Getenv("LOGETL_TASK_QUEUE"), worker.Options{})
		w.RegisterWorkflowWithOptions(func(ctx workflow.Context) (string, error) { return "done", nil }, workflow.RegisterOptions{Name: "Noop"})
		if err := w.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		<-ctx.Done()
		w.Stop()
		return 0
	}
	fmt.Fprintf(os.Stderr, "fake logetl: unknown command %q\n", args)
	return 2
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func testDSN(t *testing.T) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(testenv.MySQLServerDSN())
	if err != nil {
		t.Fatal(err)
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	cfg.DBName = "logetl_test_devstack_" + hex.EncodeToString(rnd[:])
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	name := cfg.DBName
	t.Cleanup(func() {
		root, err := sql.Open("mysql", testenv.MySQLServerDSN())
		if err == nil {
			_, _ = root.Exec("DROP DATABASE IF EXISTS `" + name + "`")
			root.Close()
		}
	})
	return cfg.FormatDSN()
}

func envFile(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("child did not record its environment: %v", err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

type runningStack struct {
	out    *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

func startStack(t *testing.T, cfg Config) *runningStack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rs := &runningStack{out: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { rs.done <- Run(ctx, cfg, NewStatus(rs.out)) }()
	deadline := time.Now().Add(3 * time.Minute)
	for !strings.Contains(rs.out.String(), "logetl is running") {
		select {
		case err := <-rs.done:
			t.Fatalf("Run returned before the stack was up: %v\n%s", err, rs.out.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			<-rs.done
			t.Fatalf("stack not up after 3 minutes:\n%s", rs.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return rs
}

func (rs *runningStack) stop(t *testing.T) {
	t.Helper()
	rs.cancel()
	select {
	case err := <-rs.done:
		if err != nil {
			t.Fatalf("Run after Ctrl-C: %v\n%s", err, rs.out.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("Run did not return after its context ended:\n%s", rs.out.String())
	}
}

// childPIDs reads the pids from the "starting (pid N" and "restarted (pid N" status lines.
func childPIDs(out string) map[string][]int {
	pids := map[string][]int{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && (f[2] == "starting" || f[2] == "restarted") && f[3] == "(pid" {
			n, _ := strconv.Atoi(strings.TrimSuffix(f[4], ","))
			pids[f[1]] = append(pids[f[1]], n)
		}
	}
	return pids
}

func TestDevStackStartsSupervisesStopsAndResumes(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	temporalAddr := "127.0.0.1:" + freePort(t)
	uiURL := "http://127.0.0.1:" + freePort(t)
	s3URL := "http://127.0.0.1:" + freePort(t)
	apiAddr := "127.0.0.1:" + freePort(t)
	cfg := Config{
		DataDir:           dataDir,
		MySQLDSN:          testDSN(t),
		APIAddr:           apiAddr,
		TemporalAddress:   temporalAddr,
		TemporalNamespace: "default",
		TemporalUIURL:     uiURL,
		TaskQueue:         "devstack-test",
		S3Endpoint:        s3URL,
		S3Bucket:          "devstack-bucket",
		S3Prefix:          "logs",
		S3Region:          "us-east-1",
		Self:              self,
		// The user's own setting wins over the dev default; the rest are filled in.
		Env:          append(os.Environ(), fakeLogetlEnv+"=1", "LOGETL_EXPORT_WINDOW=2m"),
		DevDefaults:  map[string]string{"LOGETL_SCHEDULE_PROFILE": "dev", "LOGETL_EXPORT_WINDOW": "1m"},
		Grace:        5 * time.Second,
		InfraTimeout: 2 * time.Minute,
		AppTimeout:   time.Minute,
		Backoff:      Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Reset: time.Minute},
	}
	ctx := context.Background()

	// First run: everything starts, secrets and bucket are created.
	rs := startStack(t, cfg)
	out := rs.out.String()
	for _, want := range []string{
		"mariadb   ready at",
		"temporal  ready at " + temporalAddr,
		"s3        ready at " + s3URL,
		"s3        created bucket devstack-bucket",
		"secrets   generated the JWT secret",
		"secrets   generated the keyring",
		"api       ready at http://" + apiAddr,
		"worker    ready at task queue devstack-test",
		uiURL + "/namespaces/default/schedules",
		`worker    level=WARN msg="rows in MySQL the lake has never exported: backfilling them" table=activity_log rows=42`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q", want)
		}
	}
	paths := PathsFor(dataDir, "")
	creds, created, err := LoadOrCreateCredentials(paths.Credentials)
	if err != nil || created {
		t.Fatalf("credentials file after first run: created=%v err=%v", created, err)
	}
	buckets, err := localsvc.S3Client(s3URL, "us-east-1", creds.AccessKeyID, creds.SecretAccessKey).ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatalf("list buckets with the generated credentials: %v", err)
	}
	if !slices.ContainsFunc(buckets.Buckets, func(b s3types.Bucket) bool { return *b.Name == "devstack-bucket" }) {
		t.Errorf("bucket devstack-bucket not created")
	}
	if st, err := os.Stat(filepath.Join(paths.S3Root, "devstack-bucket")); err != nil || !st.IsDir() {
		t.Errorf("bucket folder not in the posix store: %v", err)
	}
	if _, err := protect.LoadKeyring(paths.Keyring); err != nil {
		t.Errorf("generated keyring does not load: %v", err)
	}
	if err := localsvc.HTTPReady(ctx, uiURL+"/"); err != nil {
		t.Errorf("Temporal UI: %v", err)
	}

	// Children get the resolved settings; only the worker gets the S3 credentials.
	jwt, err := os.ReadFile(paths.JWTSecret)
	if err != nil {
		t.Fatal(err)
	}
	apiEnv := envFile(t, filepath.Join(dataDir, "fake-api.env"))
	workerEnv := envFile(t, filepath.Join(dataDir, "fake-worker.env"))
	for key, want := range map[string]string{
		"LOGETL_DATA_DIR": dataDir, "LOGETL_API_URL": "http://" + apiAddr, "LOGETL_KEYRING": paths.Keyring,
		"LOGETL_S3_ENDPOINT": s3URL, "LOGETL_S3_BUCKET": "devstack-bucket", "LOGETL_TEMPORAL_ADDRESS": temporalAddr,
		"LOGETL_SCHEDULE_PROFILE": "dev", "LOGETL_EXPORT_WINDOW": "2m",
	} {
		if got := workerEnv[key]; got != want {
			t.Errorf("worker env %s = %q, want %q", key, got, want)
		}
		if got := apiEnv[key]; got != want {
			t.Errorf("api env %s = %q, want %q", key, got, want)
		}
	}
	if workerEnv["LOGETL_BACKFILL_GAPS"] != "true" {
		t.Errorf("worker env LOGETL_BACKFILL_GAPS = %q, want true", workerEnv["LOGETL_BACKFILL_GAPS"])
	}
	if strings.Contains(out, "worker polling") {
		t.Error("the worker's other log lines reached the status terminal")
	}
	if apiEnv["LOGETL_JWT_SECRET"] != strings.TrimSpace(string(jwt)) {
		t.Error("api did not get the generated JWT secret")
	}
	if workerEnv["AWS_ACCESS_KEY_ID"] != creds.AccessKeyID || workerEnv["AWS_SECRET_ACCESS_KEY"] != creds.SecretAccessKey {
		t.Error("worker did not get the local S3 credentials")
	}
	if _, ok := apiEnv["AWS_SECRET_ACCESS_KEY"]; ok && apiEnv["AWS_SECRET_ACCESS_KEY"] == creds.SecretAccessKey {
		t.Error("api got the S3 secret it does not need")
	}

	// dev.env gives another shell the stack's settings: sourced by sh, it yields the values
	// the children got (the DSN has shell metacharacters), and never the JWT secret.
	if st, err := os.Stat(paths.Env); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("dev.env: %v (want mode 0600)", err)
	}
	envBody, _ := os.ReadFile(paths.Env)
	if strings.Contains(string(envBody), "LOGETL_JWT_SECRET") {
		t.Error("dev.env holds the JWT secret")
	}
	sourced, err := exec.Command("sh", "-c", `set -a; . "$1"; set +a; printf '%s\n' "$LOGETL_MYSQL_DSN" "$LOGETL_EXPORT_WINDOW" "$AWS_SECRET_ACCESS_KEY" "$LOGETL_S3_ENDPOINT"`, "sh", paths.Env).Output()
	if err != nil {
		t.Fatalf("source dev.env: %v", err)
	}
	if want := strings.Join([]string{cfg.MySQLDSN, "2m", creds.SecretAccessKey, s3URL}, "\n") + "\n"; string(sourced) != want {
		t.Errorf("sourced dev.env gives\n%s\nwant\n%s", sourced, want)
	}

	// The custom search attributes are registered.
	tc, err := localsvc.DialTemporal(ctx, temporalAddr, "default")
	if err != nil {
		t.Fatal(err)
	}
	sa, err := tc.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	if sa.GetCustomAttributes()["LogetlWindowStart"] != enumspb.INDEXED_VALUE_TYPE_DATETIME || sa.GetCustomAttributes()["LogetlGranularity"] != enumspb.INDEXED_VALUE_TYPE_KEYWORD {
		t.Errorf("custom search attributes: %v", sa.GetCustomAttributes())
	}
	// A run made now must still be there after a restart of the stack.
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "devstack-resume-check", TaskQueue: "devstack-test"}, "Noop")
	if err != nil {
		t.Fatal(err)
	}
	var result string
	if err := run.Get(ctx, &result); err != nil || result != "done" {
		t.Fatalf("workflow on the supervised worker: %q, %v", result, err)
	}
	tc.Close()

	// A crashed child is restarted and becomes ready again.
	apiPID := childPIDs(rs.out.String())["api"][0]
	if err := syscall.Kill(apiPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "api restarted and ready", func() bool {
		return len(childPIDs(rs.out.String())["api"]) == 2 && strings.Count(rs.out.String(), "api       ready at") == 2
	})
	if !strings.Contains(rs.out.String(), "api       exited (killed by SIGKILL)") {
		t.Errorf("crash not reported:\n%s", rs.out.String())
	}

	// Ctrl-C: children stop in reverse order and nothing is left running.
	rs.stop(t)
	out = rs.out.String()
	order := []string{"worker    stopping", "api       stopping", "s3        stopping", "temporal  stopping"}
	last := -1
	for _, o := range order {
		i := strings.Index(out, o)
		if i < 0 || i < last {
			t.Errorf("stop order: %q missing or out of order:\n%s", o, out)
		}
		last = i
	}
	for name, pids := range childPIDs(out) {
		for _, pid := range pids {
			if alive(pid) {
				t.Errorf("%s pid %d still running after stop", name, pid)
			}
		}
	}
	for _, addr := range []string{temporalAddr, apiAddr, strings.TrimPrefix(s3URL, "http://")} {
		if localsvc.PortOpen(ctx, addr) == nil {
			t.Errorf("%s still accepts connections after stop", addr)
		}
	}

	// Second run on the same folder resumes: same credentials, bucket and Temporal history.
	rs2 := startStack(t, cfg)
	defer rs2.stop(t)
	out2 := rs2.out.String()
	for _, unwanted := range []string{"generated", "created bucket"} {
		if strings.Contains(out2, unwanted) {
			t.Errorf("second run %s something again:\n%s", unwanted, out2)
		}
	}
	again, _, err := LoadOrCreateCredentials(paths.Credentials)
	if err != nil || again != creds {
		t.Errorf("credentials changed across runs (err %v)", err)
	}
	tc, err = localsvc.DialTemporal(ctx, temporalAddr, "default")
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	desc, err := tc.DescribeWorkflow(ctx, "devstack-resume-check", "")
	if err != nil {
		t.Fatalf("workflow of the first run is gone after restart: %v", err)
	}
	if desc.Status != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Errorf("resumed workflow status %v", desc.Status)
	}
	// A second supervisor on the same folder is refused while this one runs.
	if _, err := lockDataDir(paths.Lock); err == nil || !strings.Contains(err.Error(), "already using") {
		t.Errorf("second supervisor on the same data folder: err = %v", err)
	}
}
