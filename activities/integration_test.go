//go:build integration

package activities

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/logetl/logetl/internal/export"
	"github.com/logetl/logetl/internal/lake"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/internal/s3store"
	"github.com/logetl/logetl/internal/synthetic"
	"github.com/logetl/logetl/internal/tablespec"
	"github.com/logetl/logetl/internal/testenv"
	"github.com/logetl/logetl/workflows"
)

var db *testenv.Database

var s3srv *testenv.S3Server

var temporalSrv *testenv.Temporal

// TestMain starts the services of the integration tier.
func TestMain(m *testing.M) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "logetl-activities-test")
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err != nil {
		fail(err)
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

// newLibrary is the real export library of the built-in table on the test services.
func newLibrary(t *testing.T, withKeys bool) Library {
	t.Helper()
	ctx := context.Background()
	store, err := s3store.New(ctx, s3srv.Config(), s3store.WithStaticCredentials(s3srv.AccessKey, s3srv.SecretKey), s3store.WithMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	var prot export.Protector
	if withKeys {
		kr, _ := protect.GenerateKeyring()
		p, err := protect.NewProtector(kr)
		if err != nil {
			t.Fatal(err)
		}
		prot = p
	}
	spec, _ := tablespec.Builtin().Table(tablespec.BuiltinName)
	grid, _ := partition.NewGrid(window, time.UTC)
	e, err := export.New(export.Config{Spec: spec, Layout: lake.Layout{Prefix: "activities-test", Table: spec.Name}, Grid: grid, RowGroupRows: 1000}, db.DB, store, prot)
	if err != nil {
		t.Fatal(err)
	}
	return Library{E: e, Partitions: store.ListPrefixes}
}

func TestTheLibraryExportsAWindowAndNamesTheRepairsItNeeds(t *testing.T) {
	ctx := context.Background()
	l := newLibrary(t, true)
	w := testWindow()
	if _, err := synthetic.Load(ctx, db.DB, synthetic.Options{Rows: 120, Seed: 1, Start: w.Start, End: w.End}); err != nil {
		t.Fatal(err)
	}
	a := &Activities{Tables: map[string]Table{tablespec.BuiltinName: l}}
	env := activityEnv()
	env.RegisterActivity(a.ExportWindow)
	v, err := env.ExecuteActivity(a.ExportWindow, workflows.ExportWindowInput{Window: w})
	if err != nil {
		t.Fatal(err)
	}
	var res workflows.ExportResult
	if err := v.Get(&res); err != nil || res.Rows != 120 || len(res.Files) != 1 {
		t.Fatalf("result %+v %v", res, err)
	}
	// The next window gets a late row without an export: the compaction names it to repair.
	late := partition.Window{Start: w.End, End: w.End.Add(window)}
	if _, err := synthetic.Load(ctx, db.DB, synthetic.Options{Rows: 3, Seed: 2, Start: late.Start, End: late.End}); err != nil {
		t.Fatal(err)
	}
	cr, err := l.CompactWeek(ctx, l.E.Grid().WeekOf(w.Start), late.End)
	if err != nil || cr.Compacted || len(cr.Repair) != 1 || cr.Repair[0] != late {
		t.Fatalf("compaction %+v %v, want the late window to repair", cr, err)
	}
	vr, err := l.Verify(ctx, workflows.VerifyInput{From: w.Start, To: late.End})
	if err != nil || len(vr.Mismatched) != 1 || vr.Mismatched[0] != late {
		t.Fatalf("verify %+v %v", vr, err)
	}
}

func TestAwaitWorkflowWaitsForTheRunAndReportsItsFailure(t *testing.T) {
	l := newLibrary(t, true)
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
	acts := &Activities{Tables: map[string]Table{tablespec.BuiltinName: l}, Workflows: c}
	acts.Register(w)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	start := time.Date(2026, 10, 5, 14, 0, 0, 0, time.UTC)
	win := partition.Window{Start: start, End: start.Add(window)}
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.ExportWindowID("", win), TaskQueue: queue}, workflows.WorkflowExportWindow, workflows.ExportWindowInput{Window: win})
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
	other := partition.Window{Start: start.Add(window), End: start.Add(2 * window)}
	run2, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.ExportWindowID("", other), TaskQueue: "no-worker-here"}, workflows.WorkflowExportWindow, workflows.ExportWindowInput{Window: other})
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
