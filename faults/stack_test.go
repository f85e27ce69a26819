//go:build faults

package faults

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/logetl/logetl/internal/export"
	"github.com/logetl/logetl/internal/lake"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/s3store"
	"github.com/logetl/logetl/internal/tablespec"
	"github.com/logetl/logetl/internal/testenv"
	"github.com/logetl/logetl/worker"
)

// The stack's cadence: the dev profile's one-minute windows with a short safety lag, so that a
// fault shows in the schedule's runs within a minute.
const (
	window    = time.Minute
	safetyLag = 10 * time.Second
	taskQueue = "logetl-faults"
	prefix    = "logs"
	table     = "activity_log" // the built-in spec's table, the API's log
	// adminEmail is made an admin of the API (LOGETL_ADMIN_EMAILS): backfills through
	// POST /admin/backfills.
	adminEmail    = "faults.admin.3c9e@example.org"
	adminPassword = "admin-password-5d81c0"
)

// proc is a logetl child process in its own process group, so that kill -9 takes it down
// whole, with its output appended to a log file that the security check reads later.
type proc struct {
	name    string
	bin     string
	args    []string
	env     []string
	logPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	starts int
}

func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return nil
	}
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("%s log: %w", p.name, err)
	}
	defer f.Close()
	fmt.Fprintf(f, "=== faults: start %s #%d at %s\n", p.name, p.starts+1, time.Now().UTC().Format(time.RFC3339Nano))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	p.cmd, p.exited = cmd, exited
	p.starts++
	return nil
}

// alive reports whether the process is running; a crashed child fails the waits below early.
func (p *proc) alive() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// kill9 sends SIGKILL to the whole process group: no deferred clean-up, no abort of a
// multipart upload, no graceful worker stop. It is what a host crash looks like to the rest.
func (p *proc) kill9() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.exited
	p.cmd = nil
}

// stop asks for a graceful stop (SIGTERM) and kills after grace.
func (p *proc) stop(grace time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
	}
	p.cmd = nil
}

// stack is the whole pipeline, as separate processes where a fault needs them to be.
type stack struct {
	root, logs, data string
	bin              string
	env              []string

	db       *testenv.Database
	temporal *testenv.Temporal
	s3       *testenv.S3Server
	store    *s3store.Store
	tc       client.Client
	spec     tablespec.Spec
	grid     partition.Grid
	layout   lake.Layout
	// exp reads MySQL and S3 only (no keyring): the test's own view of what was exported.
	exp *export.Exporter

	api, worker *proc
	apiURL      string
	metricsURL  string
	jwtSecret   string

	cliRuns int
}

// moduleRoot is the folder of go.mod: tests run in their package's folder.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the logetl module")
	}
	return filepath.Dir(gomod), nil
}

// cleanEnv is the test's environment without any LOGETL_ or AWS_ setting of the developer's
// shell, so that the children see only what the stack gives them.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "LOGETL_") || strings.HasPrefix(kv, "AWS_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func randomSecret(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// stackOptions change what startStackWith runs.
type stackOptions struct {
	// tables is a --tables YAML file for every process (LOGETL_TABLES); nil: the built-in spec.
	tables []byte
	// env adds or overrides settings of every process.
	env map[string]string
}

// startStack builds bin/logetl, starts Temporal, versitygw and a fresh MariaDB database, makes
// a keyring with `logetl keys generate`, applies the schedules (dev profile) and starts
// `logetl api` and `logetl worker`. The verify and compaction schedules are paused so that a
// fault's windows are healed by the export schedule's own retries, not by the safety net; the
// late-commit fault triggers verify itself.
func startStack(ctx context.Context, t *testing.T) *stack {
	t.Helper()
	return startStackWith(ctx, t, stackOptions{})
}

// startStackWith is startStack with a table spec file and settings of the test's own.
func startStackWith(ctx context.Context, t *testing.T, opts stackOptions) *stack {
	t.Helper()
	root, err := os.MkdirTemp("", "logetl-faults-")
	if err != nil {
		t.Fatal(err)
	}
	st := &stack{root: root, logs: filepath.Join(root, "logs"), data: filepath.Join(root, "data"), bin: filepath.Join(root, "logetl")}
	t.Cleanup(func() {
		st.shutdown()
		if t.Failed() || os.Getenv("LOGETL_FAULTS_KEEP") != "" {
			t.Logf("kept the stack's logs and data in %s", root)
			return
		}
		_ = os.RemoveAll(root)
	})
	for _, d := range []string{st.logs, st.data} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}

	mod, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	build := exec.CommandContext(ctx, "go", "build", "-o", st.bin, "./cmd/logetl")
	build.Dir = mod
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/logetl: %v\n%s", err, out)
	}

	if st.db, err = testenv.NewDatabase(ctx, "faults"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.db.Drop(context.WithoutCancel(ctx)) })
	if st.temporal, err = testenv.StartTemporal(ctx, st.logs); err != nil {
		t.Fatal(err)
	}
	st.s3, err = testenv.LaunchS3(ctx, filepath.Join(root, "s3"))
	if err != nil {
		t.Fatal(err)
	}
	if st.tc, err = st.temporal.Dial(); err != nil {
		t.Fatal(err)
	}

	s3cfg := st.s3.Config()
	s3cfg.S3Prefix = prefix
	if st.store, err = s3store.New(ctx, s3cfg, s3store.WithStaticCredentials(st.s3.AccessKey, st.s3.SecretKey)); err != nil {
		t.Fatal(err)
	}
	specs := tablespec.Builtin()
	tablesFile := ""
	if opts.tables != nil {
		tablesFile = filepath.Join(root, "tables.yaml")
		if err := os.WriteFile(tablesFile, opts.tables, 0o600); err != nil {
			t.Fatal(err)
		}
		if specs, err = tablespec.Load(tablesFile); err != nil {
			t.Fatalf("the test's table spec: %v", err)
		}
	}
	if len(specs.Tables) != 1 || specs.Tables[0].Name != table {
		t.Fatalf("the stack exports one table, %s; the spec declares %v", table, specs.Names())
	}
	st.spec = specs.Tables[0]
	if w := st.spec.Window.D(); w != 0 && w != window {
		t.Fatalf("the spec's window %s is not the stack's %s", w, window)
	}
	if st.grid, err = partition.NewGrid(window, time.UTC); err != nil {
		t.Fatal(err)
	}
	st.layout = lake.Layout{Prefix: prefix, Table: table}
	if st.exp, err = export.New(export.Config{Spec: st.spec, Layout: st.layout, Grid: st.grid}, st.db.DB, st.store, nil); err != nil {
		t.Fatal(err)
	}

	apiPort, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	metricsPort, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	st.apiURL = "http://127.0.0.1:" + strconv.Itoa(apiPort)
	st.metricsURL = "http://127.0.0.1:" + strconv.Itoa(metricsPort) + "/metrics"
	st.jwtSecret = randomSecret(48)
	settings := map[string]string{
		"LOGETL_DATA_DIR":              st.data,
		"LOGETL_MYSQL_DSN":             st.db.DSN,
		"LOGETL_TEMPORAL_ADDRESS":      st.temporal.Address,
		"LOGETL_TEMPORAL_NAMESPACE":    st.temporal.Namespace,
		"LOGETL_TASK_QUEUE":            taskQueue,
		"LOGETL_TEMPORAL_UI_URL":       "http://127.0.0.1:1",
		"LOGETL_S3_ENDPOINT":           st.s3.Endpoint,
		"LOGETL_S3_BUCKET":             st.s3.Bucket,
		"LOGETL_S3_PREFIX":             prefix,
		"LOGETL_S3_REGION":             st.s3.Region,
		"LOGETL_S3_PART_SIZE":          strconv.Itoa(5 << 20),
		"AWS_ACCESS_KEY_ID":            st.s3.AccessKey,
		"AWS_SECRET_ACCESS_KEY":        st.s3.SecretKey,
		"AWS_REGION":                   st.s3.Region,
		"LOGETL_KEYRING":               filepath.Join(st.data, "keyring.json"),
		"LOGETL_TIMEZONE":              "UTC",
		"LOGETL_EXPORT_WINDOW":         window.String(),
		"LOGETL_SAFETY_LAG":            safetyLag.String(),
		"LOGETL_SCHEDULE_PROFILE":      "dev",
		"LOGETL_BOT_SIGNUP_COUNT":      "1",
		"LOGETL_BOT_ACTIVITY_COUNT":    "2",
		"LOGETL_API_ADDR":              "127.0.0.1:" + strconv.Itoa(apiPort),
		"LOGETL_API_URL":               st.apiURL,
		"LOGETL_WORKER_METRICS_ADDR":   "127.0.0.1:" + strconv.Itoa(metricsPort),
		"LOGETL_JWT_SECRET":            st.jwtSecret,
		"LOGETL_PRODUCTION":            "true",
		"LOGETL_REQUEST_TIMEOUT":       "3s",
		"LOGETL_LOGIN_PER_MINUTE":      "600",
		"LOGETL_LOGIN_BURST":           "100",
		"LOGETL_FIELD_ENCRYPTION":      "per-value",
		"LOGETL_LOG_LEVEL":             "debug",
		"LOGETL_S3_UPLOAD_CONCURRENCY": "2",
		"LOGETL_ADMIN_EMAILS":          adminEmail,
	}
	if tablesFile != "" {
		settings["LOGETL_TABLES"] = tablesFile
	}
	for k, v := range opts.env {
		settings[k] = v
	}
	st.env = cleanEnv()
	for k, v := range settings {
		st.env = append(st.env, k+"="+v)
	}

	if out, err := st.cli(ctx, "keys", "generate"); err != nil {
		t.Fatalf("logetl keys generate: %v\n%s", err, out)
	}
	if out, err := st.cli(ctx, "migrate"); err != nil {
		t.Fatalf("logetl migrate: %v\n%s", err, out)
	}
	if out, err := st.cli(ctx, "schedules", "apply"); err != nil {
		t.Fatalf("logetl schedules apply: %v\n%s", err, out)
	}
	for _, id := range []string{worker.ScheduleID(worker.ScheduleVerify, table), worker.ScheduleID(worker.ScheduleCompactWeek, table)} {
		if err := st.tc.ScheduleClient().GetHandle(ctx, id).Pause(ctx, client.SchedulePauseOptions{Note: "fault tests: healed by the export schedule alone"}); err != nil {
			t.Fatalf("pause %s: %v", id, err)
		}
	}

	st.api = &proc{name: "api", bin: st.bin, args: []string{"api"}, env: st.env, logPath: filepath.Join(st.logs, "api.log")}
	st.worker = &proc{name: "worker", bin: st.bin, args: []string{"worker"}, env: st.env, logPath: filepath.Join(st.logs, "worker.log")}
	if err := st.startAPI(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.startWorker(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

func (st *stack) shutdown() {
	for _, p := range []*proc{st.worker, st.api} {
		if p != nil {
			p.stop(30 * time.Second)
		}
	}
	if st.tc != nil {
		st.tc.Close()
	}
	if st.s3 != nil {
		st.s3.Stop()
	}
	if st.temporal != nil {
		_ = st.temporal.Stop()
	}
}

// waitHTTP waits until url answers 200 while p is alive.
func waitHTTP(ctx context.Context, p *proc, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if !p.alive() {
			return fmt.Errorf("%s exited while starting: %s", p.name, tailFile(p.logPath, 3000))
		}
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		req, _ := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready at %s within %s: %s", p.name, url, timeout, tailFile(p.logPath, 3000))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (st *stack) startAPI(ctx context.Context) error {
	if err := st.api.start(); err != nil {
		return err
	}
	return waitHTTP(ctx, st.api, st.apiURL+"/readyz", 60*time.Second)
}

// startWorker starts the worker and waits for its metrics endpoint, which it serves once the
// schedules are applied and just before it polls.
func (st *stack) startWorker(ctx context.Context) error {
	if err := st.worker.start(); err != nil {
		return err
	}
	return waitHTTP(ctx, st.worker, st.metricsURL, 60*time.Second)
}

// cli runs one logetl command with the stack's environment. Its output is also kept under the
// logs folder, since command output is log output for the security check.
func (st *stack) cli(ctx context.Context, args ...string) (string, error) {
	return st.cliWith(ctx, nil, args...)
}

// cliWith is cli with settings added to the stack's (KEY=value; later ones win).
func (st *stack) cliWith(ctx context.Context, env []string, args ...string) (string, error) {
	st.cliRuns++
	cmd := exec.CommandContext(ctx, st.bin, args...)
	cmd.Env = append(slices.Clip(st.env), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	name := fmt.Sprintf("cli-%02d-%s.log", st.cliRuns, args[0])
	_ = os.WriteFile(filepath.Join(st.logs, name), out.Bytes(), 0o600)
	return out.String(), err
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
