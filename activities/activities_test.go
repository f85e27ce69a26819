package activities

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/export"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/internal/s3store"
	"github.com/logetl/logetl/internal/synthetic"
	"github.com/logetl/logetl/internal/testenv"
	"github.com/logetl/logetl/workflows"
)

var (
	db          *testenv.Database
	s3srv       *testenv.S3Server
	temporalSrv *testenv.Temporal
)

func TestMain(m *testing.M) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "logetl-activities-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if db, err = testenv.NewDatabase(ctx, "activities"); err != nil {
		fail(err)
	}
	if s3srv, err = testenv.LaunchS3(ctx, dir); err != nil {
		fail(err)
	}
	if temporalSrv, err = testenv.StartTemporal(ctx, dir); err != nil {
		s3srv.Stop()
		fail(err)
	}
	code := m.Run()
	_ = temporalSrv.Stop()
	s3srv.Stop()
	_ = db.Drop(ctx)
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

const window = time.Minute

// newExporter is the real export library on the test MariaDB and versitygw; prot may be nil.
func newExporter(t *testing.T, withKeys bool) Library {
	t.Helper()
	ctx := context.Background()
	store, err := s3store.New(ctx, s3srv.Config(), s3store.WithStaticCredentials(s3srv.AccessKey, s3srv.SecretKey), s3store.WithMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := export.ConfigFrom(s3srv.Config(), config.Partitioning{Timezone: "UTC"}, config.Export{Compression: "zstd", RowGroupRows: 1000, Window: window})
	if err != nil {
		t.Fatal(err)
	}
	var prot *protect.Protector
	if withKeys {
		kr, err := protect.GenerateKeyring()
		if err != nil {
			t.Fatal(err)
		}
		if prot, err = protect.NewProtector(kr); err != nil {
			t.Fatal(err)
		}
	}
	var p export.Protector
	if prot != nil {
		p = prot
	}
	e, err := export.New(cfg, db.DB, store, p)
	if err != nil {
		t.Fatal(err)
	}
	return Library{E: e}
}

func activityEnv() *testsuite.TestActivityEnvironment {
	var s testsuite.WorkflowTestSuite
	return s.NewTestActivityEnvironment()
}

func appType(err error) (string, bool) {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Type(), appErr.NonRetryable()
	}
	return "", false
}

func TestExportWindowActivityWritesTheWindowAndHeartbeatsProgress(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 10, 5, 12, 0, 0, 0, time.UTC)
	if _, err := synthetic.Load(ctx, db.DB, synthetic.Options{Rows: 120, Seed: 1, Start: start, End: start.Add(window)}); err != nil {
		t.Fatal(err)
	}
	env := activityEnv()
	var mu sync.Mutex
	var beats []Progress
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, details converter.EncodedValues) {
		var p Progress
		if err := details.Get(&p); err == nil {
			mu.Lock()
			beats = append(beats, p)
			mu.Unlock()
		}
	})
	a := &Activities{Exporter: newExporter(t, true)}
	env.RegisterActivity(a.ExportWindow)
	v, err := env.ExecuteActivity(a.ExportWindow, workflows.ExportWindowInput{Window: workflows.Window{Start: start, End: start.Add(window)}})
	if err != nil {
		t.Fatal(err)
	}
	var res workflows.ExportResult
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	if res.Rows != 120 || len(res.Files) != 1 || res.Bytes <= 0 {
		t.Fatalf("result %+v, want 120 rows in one file", res)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(beats) == 0 || beats[len(beats)-1].Rows != 120 {
		t.Fatalf("heartbeats %+v, want the last to report 120 rows", beats)
	}
}

func TestExportWindowActivityClassifiesFailures(t *testing.T) {
	start := time.Date(2026, 10, 5, 13, 0, 0, 0, time.UTC)
	aligned := workflows.Window{Start: start, End: start.Add(window)}
	tests := []struct {
		name          string
		keys          bool
		window        workflows.Window
		s3Down        bool
		wantType      string
		wantRetryable bool
	}{
		{"no keyring is a configuration error", false, aligned, false, workflows.ErrTypeConfig, false},
		{"a window off the grid is bad input", true, workflows.Window{Start: start.Add(time.Second), End: start.Add(window + time.Second)}, false, workflows.ErrTypeBadInput, false},
		{"S3 unreachable is retried", true, aligned, true, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.s3Down {
				s3srv.Stop()
				defer func() {
					if err := s3srv.Start(context.Background()); err != nil {
						t.Fatal(err)
					}
				}()
			}
			env := activityEnv()
			a := &Activities{Exporter: newExporter(t, tt.keys)}
			env.RegisterActivity(a.ExportWindow)
			_, err := env.ExecuteActivity(a.ExportWindow, workflows.ExportWindowInput{Window: tt.window})
			if err == nil {
				t.Fatal("activity succeeded")
			}
			typ, nonRetryable := appType(err)
			if tt.wantRetryable {
				if nonRetryable {
					t.Fatalf("error %v is non-retryable; want retryable", err)
				}
				return
			}
			if typ != tt.wantType || !nonRetryable {
				t.Fatalf("error %v: type %q non-retryable %v, want %s non-retryable", err, typ, nonRetryable, tt.wantType)
			}
		})
	}
}

func TestLibraryPermanentMapsErrorKinds(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("load: %w", protect.ErrKeyring), workflows.ErrTypeKey},
		{fmt.Errorf("window: %w", partition.ErrInvalid), workflows.ErrTypeBadInput},
		{fmt.Errorf("exporter: %w", export.ErrInvalidConfig), workflows.ErrTypeConfig},
		{errors.New("dial tcp 127.0.0.1:3306: connection refused"), ""},
		{fmt.Errorf("get: %w", s3store.ErrNotFound), ""},
	}
	for _, tt := range tests {
		if got := (Library{}).Permanent(tt.err); got != tt.want {
			t.Errorf("Permanent(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestAwaitWorkflowWaitsForTheRunAndReportsItsFailure(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := temporalSrv.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const queue = "await-test"
	w := sdkworker.New(c, queue, sdkworker.Options{})
	workflows.Register(w)
	acts := &Activities{Exporter: newExporter(t, true), Workflows: c}
	acts.Register(w)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	start := time.Date(2026, 10, 5, 14, 0, 0, 0, time.UTC)
	win := workflows.Window{Start: start, End: start.Add(window)}
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.ExportWindowID(win), TaskQueue: queue}, workflows.WorkflowExportWindow, workflows.ExportWindowInput{Window: win})
	if err != nil {
		t.Fatal(err)
	}
	env := activityEnv()
	env.RegisterActivity(acts.AwaitWorkflow)
	if _, err := env.ExecuteActivity(acts.AwaitWorkflow, workflows.AwaitWorkflowInput{WorkflowID: run.GetID()}); err != nil {
		t.Fatalf("await a run that succeeds: %v", err)
	}
	if err := run.Get(ctx, nil); err != nil {
		t.Fatal(err)
	}

	// A run that ends badly (terminated by an operator) fails the wait for good.
	other := workflows.Window{Start: start.Add(window), End: start.Add(2 * window)}
	run2, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.ExportWindowID(other), TaskQueue: "no-worker-here"}, workflows.WorkflowExportWindow, workflows.ExportWindowInput{Window: other})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.TerminateWorkflow(ctx, run2.GetID(), "", "operator"); err != nil {
		t.Fatal(err)
	}
	_, err = env.ExecuteActivity(acts.AwaitWorkflow, workflows.AwaitWorkflowInput{WorkflowID: run2.GetID()})
	if typ, nonRetryable := appType(err); typ != "AwaitedRunFailed" || !nonRetryable {
		t.Fatalf("await a terminated run: %v, want non-retryable AwaitedRunFailed", err)
	}
}
