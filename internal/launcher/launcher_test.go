package launcher

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	sdkworker "go.temporal.io/sdk/worker"

	"github.com/logetl/logetl/apiserver"
	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/testenv"
	"github.com/logetl/logetl/workflows"
)

var temporalSrv *testenv.Temporal

func TestMain(m *testing.M) { testenv.RunWithTemporal(m, "launcher", &temporalSrv) }

var now = time.Date(2026, 11, 24, 10, 7, 30, 0, time.UTC)

func testConfig(addr string) Config {
	return Config{
		Temporal: config.Temporal{TemporalAddress: addr, TemporalNamespace: "default", TaskQueue: "launcher-test", TemporalUIURL: "http://127.0.0.1:8233/"},
		Window:   15 * time.Minute, SafetyLag: time.Minute, Timezone: "UTC",
		Now: func() time.Time { return now },
	}
}

func TestBackfillInputRejectsWhatTheCallerMustFix(t *testing.T) {
	l := New(testConfig("127.0.0.1:1"))
	day := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		from, to    time.Time
		granularity string
		wantErr     string
	}{
		{"a past day", day, day.AddDate(0, 0, 1), "daily", ""},
		{"granularity defaults to daily", day, day.Add(time.Hour), "", ""},
		{"weekly need not be aligned to windows", day.Add(7 * time.Minute), day.AddDate(0, 0, 1), "weekly", ""},
		{"unknown granularity", day, day.AddDate(0, 0, 1), "hourly", "not daily or weekly"},
		{"reversed", day.AddDate(0, 0, 1), day, "daily", "must be after"},
		{"not aligned", day.Add(7 * time.Minute), day.AddDate(0, 0, 1), "daily", "aligned to the 15m0s"},
		{"open window", now.Add(-37 * time.Minute).Truncate(15 * time.Minute), now.Add(-7*time.Minute - 30*time.Second).Add(15 * time.Minute), "daily", "last closed window"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := l.BackfillInput(tt.from, tt.to, tt.granularity)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if in.Window != 15*time.Minute || in.Granularity == "" {
					t.Fatalf("input %+v", in)
				}
				return
			}
			if !errors.Is(err, apiserver.ErrInvalidBackfill) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want ErrInvalidBackfill with %q", err, tt.wantErr)
			}
		})
	}
}

func TestStartBackfillJoinsTheOpenRunOfTheSameRange(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// No worker polls the task queue, so the first run stays open.
	l := New(testConfig(temporalSrv.Address))
	defer l.Close()
	from := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	to := from.Add(2 * time.Hour)
	first, err := l.StartBackfill(ctx, from, to, "daily")
	if err != nil {
		t.Fatal(err)
	}
	wantID := "backfill/daily/2026-11-20T00:00:00Z/2026-11-20T02:00:00Z"
	if first.WorkflowID != wantID || first.RunID == "" {
		t.Fatalf("run %+v, want id %s", first, wantID)
	}
	if want := "http://127.0.0.1:8233/namespaces/default/workflows/backfill%2Fdaily%2F2026-11-20T00:00:00Z%2F2026-11-20T02:00:00Z"; first.UIURL != want {
		t.Fatalf("ui url %s, want %s", first.UIURL, want)
	}
	again, err := l.StartBackfill(ctx, from, to, "daily")
	if err != nil {
		t.Fatal(err)
	}
	if again.RunID != first.RunID {
		t.Fatalf("second start made run %s, want to join %s", again.RunID, first.RunID)
	}
	c, _ := l.Client(ctx)
	d, err := c.DescribeWorkflowExecution(ctx, wantID, "")
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
	third, err := l.StartBackfill(ctx, from, to, "daily")
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
	_, err = l.StartBackfill(ctx, from, from.Add(time.Hour), "daily")
	if err == nil || errors.Is(err, apiserver.ErrInvalidBackfill) || !strings.Contains(err.Error(), "dial Temporal") {
		t.Fatalf("error %v, want a dial error (the API answers 503)", err)
	}
	// A failed dial is not cached: once Temporal answers, the next call works.
	l.cfg.Temporal.TemporalAddress = temporalSrv.Address
	run, err := l.StartBackfill(ctx, from, from.Add(time.Hour), "daily")
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
	// A worker with the workflows but no activities: the windows' exports stay pending, so the
	// backfill stays open with its children in flight.
	w := sdkworker.New(c, cfg.Temporal.TaskQueue, sdkworker.Options{})
	workflows.Register(w)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	from := time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC)
	run, err := l.StartBackfill(ctx, from, from.Add(90*time.Minute), "daily")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.TerminateWorkflow(context.Background(), run.WorkflowID, "", "test done") }()
	var p workflows.BackfillProgress
	for {
		if p, err = l.Progress(ctx, run.WorkflowID); err == nil && len(p.Running) == workflows.DefaultBackfillConcurrency {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("progress %+v, %v", p, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if p.Total != 6 || p.Done != 0 || p.Current != workflows.ExportWindowID(workflows.Window{Start: from.Add(45 * time.Minute), End: from.Add(time.Hour)}) {
		t.Fatalf("progress %+v, want 6 windows, 4 in flight, the 4th current", p)
	}
}
