//go:build integration

package worker

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/logetl/logetl/internal/testenv"
	"github.com/logetl/logetl/workflows"
)

var temporalSrv *testenv.Temporal

func TestMain(m *testing.M) { testenv.RunWithTemporal(m, "worker", &temporalSrv) }

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
