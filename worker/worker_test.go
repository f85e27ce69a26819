package worker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/testenv"
	"github.com/logetl/logetl/workflows"
)

var temporalSrv *testenv.Temporal

func TestMain(m *testing.M) { testenv.RunWithTemporal(m, "worker", &temporalSrv) }

func prodConfig() ScheduleConfig {
	return ScheduleConfig{Profile: ProfileProd, TaskQueue: "logetl", SafetyLag: time.Minute,
		Tables:         []TableSchedule{{Name: "activity_log", Window: 15 * time.Minute, Timezone: "Asia/Seoul"}, {Name: "audit", Window: 5 * time.Minute, Timezone: "UTC", Retention: 30 * 24 * time.Hour}},
		BotSignupCount: 1, BotActivityCount: 3}
}

func TestSchedulesDeriveCadencesFromTheProfile(t *testing.T) {
	dev := prodConfig()
	dev.Profile, dev.SafetyLag = ProfileDev, 10*time.Second
	dev.Tables = []TableSchedule{{Name: "activity_log", Window: time.Minute, Timezone: "UTC", Retention: 2 * time.Minute}}
	tests := []struct {
		name string
		cfg  ScheduleConfig
		want map[string]string // id → rendered spec
	}{
		{"prod", prodConfig(), map[string]string{
			"logetl-export-activity_log":       "every 15m0s offset 1m0s",
			"logetl-compact-week-activity_log": "calendar dow 1 00:11:00 Asia/Seoul",
			"logetl-verify-activity_log":       "every 1h0m0s offset 30m0s",
			"logetl-export-audit":              "every 5m0s offset 1m0s",
			"logetl-compact-week-audit":        "calendar dow 1 00:11:00 UTC",
			"logetl-verify-audit":              "every 1h0m0s offset 30m0s",
			"logetl-purge-audit":               "every 1h0m0s offset 45m0s",
			ScheduleBotSignup:                  "every 1h0m0s offset 0s",
			ScheduleBotActivity:                "every 5m0s offset 2m30s",
		}},
		{"dev", dev, map[string]string{
			"logetl-export-activity_log":       "every 1m0s offset 10s",
			"logetl-compact-week-activity_log": "every 2m0s offset 0s",
			"logetl-verify-activity_log":       "every 5m0s offset 30s",
			"logetl-purge-activity_log":        "every 1m0s offset 40s",
			ScheduleBotSignup:                  "every 1m0s offset 0s",
			ScheduleBotActivity:                "every 1m0s offset 30s",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Schedules(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d schedules, want %d", len(got), len(tt.want))
			}
			for _, s := range got {
				if r := renderSpec(s.Spec); r != tt.want[s.ID] {
					t.Errorf("%s: spec %q, want %q", s.ID, r, tt.want[s.ID])
				}
				if s.Action.TaskQueue != "logetl" || s.Action.ID != s.ID {
					t.Errorf("%s: action %+v", s.ID, s.Action)
				}
			}
		})
	}
}

func renderSpec(s client.ScheduleSpec) string {
	if len(s.Intervals) == 1 {
		return fmt.Sprintf("every %s offset %s", s.Intervals[0].Every, s.Intervals[0].Offset)
	}
	c := s.Calendars[0]
	return fmt.Sprintf("calendar dow %d %02d:%02d:%02d %s", c.DayOfWeek[0].Start, c.Hour[0].Start, c.Minute[0].Start, c.Second[0].Start, s.TimeZoneName)
}

func TestExportScheduleTicksMapToTheWindowThatJustClosed(t *testing.T) {
	for _, cfg := range []ScheduleConfig{prodConfig(), {Profile: ProfileDev, TaskQueue: "q", SafetyLag: 10 * time.Second,
		Tables: []TableSchedule{{Name: "t", Window: time.Minute, Timezone: "UTC"}}, BotSignupCount: 1, BotActivityCount: 1}} {
		scheds, err := Schedules(cfg)
		if err != nil {
			t.Fatal(err)
		}
		exp := scheds[0]
		in := exp.Action.Args[0].(workflows.ScheduledExportInput)
		iv := exp.Spec.Intervals[0]
		// A tick of the interval spec: epoch + n*every + offset.
		tick := time.Unix(0, 0).UTC().Add(time.Duration(1_900_000_000/iv.Every.Seconds())*iv.Every + iv.Offset)
		w := workflows.ScheduledWindow(tick, in.Window, in.SafetyLag)
		if !w.End.Equal(tick.Add(-iv.Offset)) || w.End.Sub(w.Start) != cfg.Tables[0].Window || in.Table != cfg.Tables[0].Name {
			t.Errorf("tick %s exports %s; want the window ending at %s", tick, w, tick.Add(-iv.Offset))
		}
		if exp.Overlap != enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL || exp.CatchupWindow != 24*time.Hour {
			t.Errorf("export policies %v %s", exp.Overlap, exp.CatchupWindow)
		}
	}
}

func TestSchedulesRejectBadConfig(t *testing.T) {
	for name, mutate := range map[string]func(*ScheduleConfig){
		"window not whole minutes": func(c *ScheduleConfig) { c.Tables[0].Window = 90 * time.Second },
		"negative lag":             func(c *ScheduleConfig) { c.SafetyLag = -time.Second },
		"unknown profile":          func(c *ScheduleConfig) { c.Profile = "staging" },
		"unknown zone":             func(c *ScheduleConfig) { c.Tables[1].Timezone = "Mars/Olympus" },
		"no bots":                  func(c *ScheduleConfig) { c.BotActivityCount = 0 },
		"no task queue":            func(c *ScheduleConfig) { c.TaskQueue = "" },
	} {
		cfg := prodConfig()
		mutate(&cfg)
		if _, err := Schedules(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestApplySchedulesCreatesThenUpdatesInPlaceKeepingPause(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := temporalSrv.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc := c.ScheduleClient()
	cfg := prodConfig()
	cfg.TaskQueue = "apply-test" // no worker polls it: scheduled runs just wait
	scheds, err := Schedules(cfg)
	if err != nil {
		t.Fatal(err)
	}
	applied, err := ApplySchedules(ctx, sc, scheds)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range applied {
		if !a.Created {
			t.Fatalf("%s not created on first apply", a.ID)
		}
	}
	if err := sc.GetHandle(ctx, ScheduleBotActivity).Pause(ctx, client.SchedulePauseOptions{Note: "operator"}); err != nil {
		t.Fatal(err)
	}

	// A config change (window 15m → 30m, 5 bots) applied again updates in place.
	cfg.Tables[0].Window, cfg.BotActivityCount = 30*time.Minute, 5
	scheds, err = Schedules(cfg)
	if err != nil {
		t.Fatal(err)
	}
	applied, err = ApplySchedules(ctx, sc, scheds)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != len(scheds) {
		t.Fatalf("applied %v", applied)
	}
	for _, a := range applied {
		if a.Created {
			t.Fatalf("%s created again", a.ID)
		}
	}
	d, err := sc.GetHandle(ctx, ScheduleID(ScheduleExport, "activity_log")).Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Schedule.Spec.Intervals; len(got) != 1 || got[0].Every != 30*time.Minute || got[0].Offset != time.Minute {
		t.Fatalf("export spec after update: %+v", got)
	}
	if d.Schedule.Policy.Overlap != enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL || d.Schedule.Policy.CatchupWindow != 24*time.Hour {
		t.Fatalf("export policy %+v", d.Schedule.Policy)
	}
	act, err := sc.GetHandle(ctx, ScheduleBotActivity).Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !act.Schedule.State.Paused {
		t.Fatal("re-apply unpaused a schedule the operator paused")
	}
	wa, ok := act.Schedule.Action.(*client.ScheduleWorkflowAction)
	if !ok || len(wa.Args) != 1 {
		t.Fatalf("bot action %+v", act.Schedule.Action)
	}
	var in workflows.BotsInput
	if err := converter.GetDefaultDataConverter().FromPayload(wa.Args[0].(*commonpb.Payload), &in); err != nil {
		t.Fatal(err)
	}
	if in.N != 5 {
		t.Fatalf("bot action args %+v, want n=5", in)
	}
	// Listing shows exactly logetl's schedules.
	it, err := sc.List(ctx, client.ScheduleListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	if len(ids) != len(scheds) {
		t.Fatalf("schedules %v", ids)
	}
}

// A schedule of a logetl before per-table schedules is removed when the new ones are applied,
// so the built-in table is not exported twice.
func TestApplySchedulesRemovesThePreTableSchedules(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := temporalSrv.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc := c.ScheduleClient()
	if _, err := sc.Create(ctx, client.ScheduleOptions{ID: ScheduleExport, Spec: client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: time.Hour}}},
		Action: &client.ScheduleWorkflowAction{Workflow: workflows.WorkflowScheduledExport, TaskQueue: "legacy"}, Note: "Exports the activity_log window (managed by logetl schedules apply)."}); err != nil {
		t.Fatal(err)
	}
	cfg := prodConfig()
	cfg.TaskQueue = "legacy-test"
	scheds, _ := Schedules(cfg)
	applied, err := ApplySchedules(ctx, sc, scheds)
	if err != nil {
		t.Fatal(err)
	}
	if last := applied[len(applied)-1]; last.ID != ScheduleExport || !last.Deleted {
		t.Fatalf("applied %v, want the legacy %s deleted", applied, ScheduleExport)
	}
	if _, err := sc.GetHandle(ctx, ScheduleExport).Describe(ctx); err == nil {
		t.Fatal("the legacy schedule is still there")
	}
	for _, s := range scheds {
		_ = sc.GetHandle(ctx, s.ID).Delete(ctx)
	}
}

func TestMetricsExposeRowsBytesLagAndStartAtZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	now := time.Date(2026, 11, 24, 10, 20, 0, 0, time.UTC)
	m, err := NewMetrics(reg, []string{"activity_log", "audit"}, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := series(t, reg, "logetl_export_lag_seconds", "activity_log"); ok {
		t.Fatal("a lag before any export is known")
	}
	if v, ok := series(t, reg, "logetl_export_failures_total", "audit"); !ok || v.GetCounter().GetValue() != 0 {
		t.Fatal("failure counters do not start at zero, so a first failure would not show as an increase")
	}
	w := func(h, min int) partition.Window {
		s := time.Date(2026, 11, 24, h, min, 0, 0, time.UTC)
		return partition.Window{Start: s, End: s.Add(15 * time.Minute)}
	}
	m.Exported("activity_log", partition.Daily, w(10, 0), 100, 4000, time.Second)
	m.Exported("activity_log", partition.Daily, w(8, 0), 50, 2000, time.Second) // a backfill of an older window
	m.Exported("audit", partition.Daily, w(9, 0), 1, 10, time.Second)
	if v, _ := series(t, reg, "logetl_export_rows_total", "activity_log"); v.GetCounter().GetValue() != 150 {
		t.Errorf("rows %v", v)
	}
	if v, _ := series(t, reg, "logetl_export_lag_seconds", "activity_log"); v.GetGauge().GetValue() != 300 {
		t.Errorf("lag %v, want 300 s (newest window ended 10:15, now 10:20)", v)
	}
	if v, _ := series(t, reg, "logetl_export_lag_seconds", "audit"); v.GetGauge().GetValue() != 65*60 {
		t.Errorf("audit lag %v", v)
	}
	m.Purged("audit", "refused", "the files hold 3 rows, their manifests say 2", 0)
	if v, _ := series(t, reg, "logetl_purge_refused_windows_total", "audit"); v.GetCounter().GetValue() != 1 {
		t.Errorf("refusals %v", v)
	}
}

// series finds the series of metric name whose table label is table.
func series(t *testing.T, reg *prometheus.Registry, name, table string) (*dto.Metric, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "table" && l.GetValue() == table {
					return m, true
				}
			}
		}
	}
	return nil, false
}

// TestWorkerMetricsServeSDKAndPipelineMetrics runs a worker whose client reports through
// NewSDKMetrics, makes an activity fail, a workflow task fail and a request fail, and reads
// /metrics as Prometheus scrapes it: the SDK's series (named as alert rules use them) are there
// next to the pipeline's logetl_* ones, and no SDK series was dropped for a label clash.
func TestWorkerMetricsServeSDKAndPipelineMetrics(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	reg := prometheus.NewRegistry()
	if _, err := NewMetrics(reg, []string{"activity_log"}, nil); err != nil {
		t.Fatal(err)
	}
	sdkm := NewSDKMetrics(reg)
	defer sdkm.Close()
	c, err := client.Dial(client.Options{HostPort: temporalSrv.Address, Namespace: temporalSrv.Namespace, MetricsHandler: sdkm, Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	const queue = "sdk-metrics-test"
	w := sdkworker.New(c, queue, sdkworker.Options{})
	w.RegisterActivityWithOptions(func(context.Context) error {
		return temporal.NewNonRetryableApplicationError("boom", "Test", nil)
	}, activity.RegisterOptions{Name: "FailingActivity"})
	w.RegisterWorkflowWithOptions(func(ctx workflow.Context) error {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
		return workflow.ExecuteActivity(ctx, "FailingActivity").Get(ctx, nil)
	}, workflow.RegisterOptions{Name: "ActivityFails"})
	w.RegisterWorkflowWithOptions(func(workflow.Context) error {
		panic("workflow task fails") // the SDK fails the task and the server retries it
	}, workflow.RegisterOptions{Name: "TaskFails"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: queue}, "ActivityFails")
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Get(ctx, nil); err == nil {
		t.Fatal("workflow of a failing activity succeeded")
	}
	stuck, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: queue}, "TaskFails")
	if err != nil {
		t.Fatal(err)
	}
	defer c.TerminateWorkflow(context.WithoutCancel(ctx), stuck.GetID(), "", "test done") //nolint:errcheck // best effort
	// Requests the server refuses: a plain one, and a long poll (the kind task polls are).
	if _, err := c.DescribeWorkflow(ctx, "no-such-workflow", ""); err == nil {
		t.Fatal("describe of a missing workflow succeeded")
	}
	if err := c.GetWorkflow(ctx, "no-such-workflow", "").Get(ctx, nil); err == nil {
		t.Fatal("waiting for a missing workflow succeeded")
	}

	addr, err := ServeMetrics(ctx, "127.0.0.1:0", reg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	// Each must have a sample above zero. tally copies the SDK's values into the collectors every
	// sdkReportEvery, and the workflow task failure is counted when the worker gets to the task:
	// scrape until all are in.
	want := []string{
		"temporal_activity_execution_failed_total",
		"temporal_workflow_task_execution_failed_total",
		"temporal_workflow_failed_total",
		"temporal_request_failure_total",
		"temporal_long_request_failure_total",
		"temporal_request_total",
		"temporal_long_request_total",
		"temporal_request_latency_seconds_count",
		"temporal_activity_execution_latency_seconds_count",
	}
	var body string
	for {
		body = scrape(t, "http://"+addr+"/metrics")
		missing := slices.DeleteFunc(slices.Clone(want), func(name string) bool { return sampleSum(body, name) > 0 })
		if len(missing) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("/metrics has no counts for %v:\n%s", missing, body)
		case <-time.After(200 * time.Millisecond):
		}
	}
	// The series alert rules select on, label by label.
	for _, series := range []string{
		`temporal_activity_execution_failed_total{activity_type="FailingActivity",client_name="temporal_go",failure_reason="ActivityError",namespace="default",task_queue="sdk-metrics-test",worker_type="none",workflow_type="ActivityFails"}`,
		`temporal_workflow_task_execution_failed_total{activity_type="none",client_name="temporal_go",failure_reason="WorkflowError",namespace="default",task_queue="sdk-metrics-test",worker_type="none",workflow_type="TaskFails"}`,
		`temporal_request_failure_total{activity_type="none",client_name="temporal_go",namespace="default",operation="DescribeWorkflowExecution",status_code="NOT_FOUND",task_queue="none",worker_type="none",workflow_type="none"}`,
		`temporal_long_request_failure_total{activity_type="none",client_name="temporal_go",namespace="default",operation="GetWorkflowExecutionHistory",status_code="NOT_FOUND",task_queue="none",worker_type="none",workflow_type="none"}`,
		`temporal_long_request_total{activity_type="none",client_name="temporal_go",namespace="default",operation="PollActivityTaskQueue",task_queue="none",worker_type="none",workflow_type="none"}`,
	} {
		if !strings.Contains(body, series+" ") {
			t.Errorf("/metrics lacks %s", series)
		}
	}
	// The pipeline's own metrics are served by the same registry.
	for _, name := range []string{"logetl_verify_runs_total", "logetl_export_failures_total"} {
		if !hasSeries(body, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if n := sdkm.RegisterErrors(); n != 0 {
		t.Errorf("%d SDK series were dropped for clashing label sets", n)
	}
}

// sampleSum adds up the samples of name (all its series) in the exposition text.
func sampleSum(body, name string) float64 {
	sum := 0.0
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
			sum += v
		}
	}
	return sum
}

// hasSeries reports whether the exposition text has a sample of name.
func hasSeries(body, name string) bool {
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			return true
		}
	}
	return false
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(b)
}
