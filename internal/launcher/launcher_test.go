//go:build integration

package launcher

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/logetl/logetl/apiserver"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/testenv"
	"github.com/logetl/logetl/workflows"
)

var temporalSrv *testenv.Temporal

func TestMain(m *testing.M) { testenv.RunWithTemporal(m, "launcher", &temporalSrv) }

func TestStartBackfillJoinsTheOpenRunOfTheSameRange(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// No worker polls the task queue, so the first run stays open.
	l := New(testConfig(temporalSrv.Address))
	defer l.Close()
	from := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	to := from.Add(2 * time.Hour)
	first, err := l.StartBackfill(ctx, req(from, to, "daily"))
	if err != nil {
		t.Fatal(err)
	}
	wantID := "backfill/activity_log/daily/2026-11-20T00:00:00Z/2026-11-20T02:00:00Z"
	if first.WorkflowID != wantID || first.RunID == "" {
		t.Fatalf("run %+v, want id %s", first, wantID)
	}
	if want := "http://127.0.0.1:8233/namespaces/default/workflows/backfill%2Factivity_log%2Fdaily%2F2026-11-20T00:00:00Z%2F2026-11-20T02:00:00Z"; first.UIURL != want {
		t.Fatalf("ui url %s, want %s", first.UIURL, want)
	}
	again, err := l.StartBackfill(ctx, req(from, to, "daily"))
	if err != nil {
		t.Fatal(err)
	}
	if again.RunID != first.RunID {
		t.Fatalf("second start made run %s, want to join %s", again.RunID, first.RunID)
	}
	c, _ := l.Client(ctx)
	d, err := Describe(ctx, c, wantID, "")
	if err != nil {
		t.Fatal(err)
	}
	if tq := d.WorkflowExecutionInfo.GetTaskQueue(); tq != "launcher-test" {
		t.Fatalf("task queue %s", tq)
	}
	if err := c.TerminateWorkflow(ctx, wantID, "", "test done"); err != nil {
		t.Fatal(err)
	}
	// Once the run is closed, the same range may run again (it is idempotent).
	third, err := l.StartBackfill(ctx, req(from, to, "daily"))
	if err != nil || third.RunID == first.RunID {
		t.Fatalf("start after close: %+v, %v", third, err)
	}
	_ = c.TerminateWorkflow(ctx, wantID, "", "test done")
}

func TestStartBackfillReportsAnUnreachableTemporalAndRecovers(t *testing.T) {
	ctx := context.Background()
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	l := New(testConfig(fmt.Sprintf("127.0.0.1:%d", port)))
	defer l.Close()
	from := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	_, err = l.StartBackfill(ctx, req(from, from.Add(time.Hour), "daily"))
	if err == nil || errors.Is(err, apiserver.ErrInvalidBackfill) || !strings.Contains(err.Error(), "dial Temporal") {
		t.Fatalf("error %v, want a dial error (the API answers 503)", err)
	}
	// A failed dial is not cached: once Temporal answers, the next call works.
	l.cfg.Temporal.TemporalAddress = temporalSrv.Address
	run, err := l.StartBackfill(ctx, req(from, from.Add(time.Hour), "daily"))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := l.Client(ctx)
	_ = c.TerminateWorkflow(ctx, run.WorkflowID, "", "test done")
}

func TestProgressQueriesTheRunningBackfill(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := testConfig(temporalSrv.Address)
	cfg.Temporal.TaskQueue = "launcher-progress"
	l := New(cfg)
	defer l.Close()
	c, err := l.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A worker with the workflows and a planner of 6 windows but no export activity: the
	// windows' exports stay pending, so the backfill stays open with its children in flight.
	w := sdkworker.New(c, cfg.Temporal.TaskQueue, sdkworker.Options{})
	workflows.Register(w)
	from := time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC)
	var six []partition.Window
	for i := 0; i < 6; i++ {
		s := from.Add(time.Duration(i) * 15 * time.Minute)
		six = append(six, partition.Window{Start: s, End: s.Add(15 * time.Minute)})
	}
	w.RegisterActivityWithOptions(func(context.Context, workflows.PlanInput) (workflows.PlanResult, error) {
		return workflows.PlanResult{Windows: six, Next: from.Add(90 * time.Minute)}, nil
	}, activity.RegisterOptions{Name: workflows.ActivityPlanBackfill})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	run, err := l.StartBackfill(ctx, req(from, from.Add(90*time.Minute), "daily"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.TerminateWorkflow(context.Background(), run.WorkflowID, "", "test done") }()
	var p workflows.BackfillProgress
	for {
		if p, err = l.Progress(ctx, run.WorkflowID); err == nil && len(p.Running) == workflows.DefaultConcurrency {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("progress %+v, %v", p, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if p.Done != 0 || p.Current != workflows.ExportWindowID("activity_log", six[3]) {
		t.Fatalf("progress %+v, want 4 in flight, the 4th current", p)
	}
}

// A backfill whose children's workflow tasks keep failing (here: a worker that lacks the
// ExportWindow workflow) is reported as stuck, with the reason, instead of waited for forever.
func TestWaitBackfillReportsAStuckRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := testConfig(temporalSrv.Address)
	cfg.Temporal.TaskQueue = "launcher-stuck"
	cfg.StuckCheck = 500 * time.Millisecond
	l := New(cfg)
	defer l.Close()
	c, err := l.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC)
	w := sdkworker.New(c, cfg.Temporal.TaskQueue, sdkworker.Options{})
	w.RegisterWorkflowWithOptions(workflows.Backfill, workflow.RegisterOptions{Name: workflows.WorkflowBackfill})
	w.RegisterWorkflowWithOptions(func(workflow.Context, workflows.ExportWindowInput) error {
		panic("this worker cannot export")
	}, workflow.RegisterOptions{Name: workflows.WorkflowExportWindow})
	w.RegisterActivityWithOptions(func(context.Context, workflows.PlanInput) (workflows.PlanResult, error) {
		return workflows.PlanResult{Windows: []partition.Window{{Start: from, End: from.Add(15 * time.Minute)}}, Next: from.Add(15 * time.Minute)}, nil
	}, activity.RegisterOptions{Name: workflows.ActivityPlanBackfill})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	run, err := l.StartBackfill(ctx, req(from, from.Add(15*time.Minute), "daily"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = c.TerminateWorkflow(context.Background(), run.WorkflowID, "", "test done")
		_ = c.TerminateWorkflow(context.Background(), workflows.ExportWindowID("activity_log", partition.Window{Start: from, End: from.Add(15 * time.Minute)}), "", "test done")
	}()
	_, err = l.WaitBackfill(ctx, run.WorkflowID)
	if err == nil || !strings.Contains(err.Error(), "is stuck") || !strings.Contains(err.Error(), "this worker cannot export") {
		t.Fatalf("WaitBackfill = %v, want a stuck run with the panic's reason", err)
	}
}
