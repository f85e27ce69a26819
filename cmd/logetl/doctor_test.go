//go:build integration

package main

import (
	"bytes"
	"context"
	"fmt"

	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/status"

	"github.com/logetl/logetl/activities"
	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/testenv"
	"github.com/logetl/logetl/worker"
	"github.com/logetl/logetl/workflows"
)

// bareTemporal starts `temporal server start-dev` without logetl's search attributes, as a new
// operator's server would be, and returns its address.
func bareTemporal(t *testing.T) string {
	t.Helper()
	bin, err := testenv.TemporalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var ports [3]int
	for i := range ports {
		if ports[i], err = testenv.FreePort(); err != nil {
			t.Fatal(err)
		}
	}
	log, err := os.Create(filepath.Join(t.TempDir(), "temporal.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", strconv.Itoa(ports[0]),
		"--http-port", strconv.Itoa(ports[1]), "--metrics-port", strconv.Itoa(ports[2]), "--log-level", "error")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := client.DialContext(ctx, client.Options{HostPort: addr, Logger: quietSDK{}})
		cancel()
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("temporal dev server at %s did not start: %v", addr, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

type quietSDK struct{}

func (quietSDK) Debug(string, ...any) {}
func (quietSDK) Info(string, ...any)  {}
func (quietSDK) Warn(string, ...any)  {}
func (quietSDK) Error(string, ...any) {}

// rawCodec passes gRPC messages through unparsed, for the proxy.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

var _ encoding.Codec = rawCodec{}

// refusingFrontend is a gRPC proxy in front of a Temporal frontend that refuses to register
// search attributes, as Temporal Cloud or a cluster without operator rights does.
func refusingFrontend(t *testing.T, backend string) string {
	t.Helper()
	conn, err := grpc.NewClient(backend, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	refused := "/temporal.api.operatorservice.v1.OperatorService/AddSearchAttributes"
	srv := grpc.NewServer(grpc.ForceServerCodec(rawCodec{}), grpc.UnknownServiceHandler(func(_ any, ss grpc.ServerStream) error {
		method, _ := grpc.MethodFromServerStream(ss)
		if method == refused {
			return status.Error(codes.PermissionDenied, "Request unauthorized: this frontend does not let clients register search attributes")
		}
		// Temporal's frontend calls are unary: one message each way.
		var req []byte
		if err := ss.RecvMsg(&req); err != nil {
			return err
		}
		var resp []byte
		if err := conn.Invoke(ss.Context(), method, &req, &resp); err != nil {
			return err
		}
		return ss.SendMsg(&resp)
	}))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return l.Addr().String()
}

func customAttributes(t *testing.T, addr string) map[string]string {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: addr, Logger: quietSDK{}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := c.OperatorService().ListSearchAttributes(context.Background(), &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range resp.GetCustomAttributes() {
		out[k] = v.String()
	}
	return out
}

// A worker pointed at a Temporal server without logetl's search attributes registers them
// and starts; behind a frontend that refuses registration it exits non-zero within 30 s, one
// log line per problem, with the command that registers them.
func TestTheWorkerRegistersSearchAttributesOrExitsWithTheFix(t *testing.T) {
	e := newCLIEnv(t)
	addr := bareTemporal(t)
	flags := e.flags()
	tc := config.Temporal{TemporalAddress: addr, TemporalNamespace: "default", TaskQueue: "preflight-test"}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))

	// 1. Behind a frontend that refuses: the worker refuses to start, fast, with the fix.
	start := time.Now()
	refusing := tc
	refusing.TemporalAddress = refusingFrontend(t, addr)
	err := preflightWorker(context.Background(), flags, refusing, log)
	if err == nil || time.Since(start) > 30*time.Second {
		t.Fatalf("preflight behind a refusing frontend: %v after %s", err, time.Since(start))
	}
	for _, sa := range workflows.SearchAttributes {
		if want := "temporal operator search-attribute create --namespace default --name " + sa.Name + " --type " + sa.Type; !strings.Contains(logs.String(), want) {
			t.Fatalf("the log lacks the fix %q:\n%s", want, logs.String())
		}
	}
	if !strings.Contains(logs.String(), "level=ERROR msg=\"preflight failed\" check=\"search attributes\"") {
		t.Fatalf("no ERROR line for the search attributes:\n%s", logs.String())
	}
	if got := customAttributes(t, addr); len(got) != 0 && got["LogetlTable"] != "" {
		t.Fatalf("the refusing frontend registered %v", got)
	}

	// 2. Against the bare dev server itself: registered, and the worker starts.
	logs.Reset()
	if err := preflightWorker(context.Background(), flags, tc, log); err != nil {
		t.Fatalf("preflight against a bare dev server: %v\n%s", err, logs.String())
	}
	got := customAttributes(t, addr)
	for _, sa := range workflows.SearchAttributes {
		if !strings.Contains(strings.ToLower(got[sa.Name]), strings.ToLower(sa.Type)) {
			t.Fatalf("search attributes after registration: %v", got)
		}
	}
	// The whole command refuses to start the same way, and exits within 30 s.
	start = time.Now()
	w := &workerCmd{pipelineFlags: flags, Temporal: refusing}
	w.NoSchedules = true
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	// (registered by now, so this start passes the search attributes; break the keyring instead)
	w.KeyringPath = filepath.Join(t.TempDir(), "missing.json")
	if err := w.Run(ctx); err == nil || time.Since(start) > 30*time.Second {
		t.Fatalf("worker with a missing keyring: %v after %s", err, time.Since(start))
	}
}

// logetl doctor gives a one-line reason for a wrong bucket, keyring and MySQL grant.
func TestDoctorNamesEachProblemInOneLine(t *testing.T) {
	e := newCLIEnv(t)
	srv, err := testenv.StartTemporal(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	tc := config.Temporal{TemporalAddress: srv.Address, TemporalNamespace: srv.Namespace, TaskQueue: "doctor-test"}
	doctor := func(change func(*pipelineFlags)) (string, error) {
		f := e.flags()
		if change != nil {
			change(&f)
		}
		var out bytes.Buffer
		err := (&doctorCmd{pipelineFlags: f, Temporal: tc, stdout: &out}).Run(context.Background())
		return out.String(), err
	}
	if out, err := doctor(nil); err != nil {
		t.Fatalf("doctor on a good setup: %v\n%s", err, out)
	}
	// A MySQL user who may connect but not read the table.
	user := fmt.Sprintf("logetl_nogrant_%d", time.Now().UnixNano()%1e6)
	if _, err := e.db.DB.Exec("CREATE USER '" + user + "'@'%' IDENTIFIED BY 'pw'"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = e.db.DB.Exec("DROP USER '" + user + "'@'%'") })
	if _, err := e.db.DB.Exec("GRANT USAGE ON *.* TO '" + user + "'@'%'"); err != nil {
		t.Fatal(err)
	}
	noGrant := strings.Replace(e.dsn, "root@", user+":pw@", 1)
	tests := []struct {
		name   string
		change func(*pipelineFlags)
		check  string
		want   string
	}{
		{"a wrong bucket", func(f *pipelineFlags) { f.S3Bucket = "no-such-bucket" }, "s3", `bucket "no-such-bucket" does not exist`},
		{"a wrong keyring", func(f *pipelineFlags) { f.KeyringPath = "/nonexistent/keyring.json" }, "keyring", "logetl keys generate"},
		{"a MySQL user without grants", func(f *pipelineFlags) { f.MySQLDSN = noGrant }, "mysql activity_log", "GRANT SELECT ON `activity_log` TO the DSN's user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := doctor(tt.change)
			if err == nil {
				t.Fatalf("doctor passed:\n%s", out)
			}
			var line string
			for _, l := range strings.Split(out, "\n") {
				if strings.HasPrefix(l, "FAIL  "+tt.check+" ") {
					line = l
				}
			}
			if line == "" || !strings.Contains(line, tt.want) {
				t.Fatalf("no FAIL line for %s containing %q (err %v):\n%s", tt.check, tt.want, err, out)
			}
		})
	}
}

// A workflow whose task Temporal keeps rejecting (here: it upserts a search attribute the
// server lacks, because the worker was started with --no-preflight) is logged at ERROR with
// its workflow id and the fix, instead of an INFO line the operator never sees.
func TestARejectedWorkflowTaskIsLoggedAtErrorWithTheWorkflowID(t *testing.T) {
	addr := bareTemporal(t)
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	tc, err := dialWorkerTemporal(ctx, config.Temporal{TemporalAddress: addr, TemporalNamespace: "default"}, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	w := worker.New(tc, "rejected-task-test", &activities.Activities{}, worker.Options{})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	const id = "verify-rejected-task-test"
	if _, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: "rejected-task-test"},
		workflows.WorkflowVerify, workflows.VerifyWorkflowInput{Table: "activity_log", Window: time.Minute, Lookback: time.Hour}); err != nil {
		t.Fatal(err)
	}
	for {
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, "level=ERROR") && strings.Contains(line, "workflow_id="+id) &&
				strings.Contains(line, "workflow_type=Verify") && strings.Contains(line, "LogetlTable") &&
				strings.Contains(line, "logetl doctor") {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no ERROR line naming %s within 90 s:\n%s", id, logs.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// syncBuffer is a bytes.Buffer the SDK's goroutines and the test may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
