package workflows

import (
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/logetl/logetl/internal/partition"
)

// DefaultTable is the table of inputs that name none: runs started before table specs.
const DefaultTable = "activity_log"

func tableOf(t string) string {
	if t == "" {
		return DefaultTable
	}
	return t
}

// ExportWindowID is the workflow id of the daily export of a table's window. One window has one
// id, so two runs of the same window can never be open at once.
func ExportWindowID(table string, w partition.Window) string {
	return "export/" + tableOf(table) + "/" + string(partition.Daily) + "/" + w.RFC3339()
}

// CompactWeekID is the workflow id of the weekly compaction of a table's week.
func CompactWeekID(table string, w partition.Week) string {
	return "compact/" + tableOf(table) + "/" + string(partition.Weekly) + "/" + w.String()
}

// BackfillID is the workflow id of a backfill over [from, to) at granularity, so starting the
// same backfill twice joins the running one instead of doubling the work.
func BackfillID(table string, from, to time.Time, g partition.Granularity) string {
	return "backfill/" + tableOf(table) + "/" + string(g) + "/" + from.UTC().Format(time.RFC3339) + "/" + to.UTC().Format(time.RFC3339)
}

// PurgeID is the workflow id of a table's purge: one at a time per table.
func PurgeID(table string) string { return "purge/" + tableOf(table) }

// exportActivityOptions bounds one window's export. The retry policy keeps trying a failing
// window (MySQL restarting, S3 down) with capped exponential backoff for as long as
// ScheduleToClose allows, so outages of a few hours heal by themselves; the heartbeat timeout
// notices a dead worker within a minute instead of waiting for StartToClose.
func exportActivityOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		ScheduleToCloseTimeout: 6 * time.Hour,
		StartToCloseTimeout:    30 * time.Minute,
		HeartbeatTimeout:       time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        time.Minute,
			MaximumAttempts:        0, // unlimited, bounded by ScheduleToCloseTimeout
			NonRetryableErrorTypes: []string{ErrTypeConfig, ErrTypeKey, ErrTypeBadInput},
		},
	}
}

// quickActivityOptions bound the short planning and bookkeeping activities (plans, coverage
// updates, week lookups): a few minutes of retries, then the workflow fails with the reason.
func quickActivityOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout:    5 * time.Minute,
		ScheduleToCloseTimeout: time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        time.Minute,
			NonRetryableErrorTypes: []string{ErrTypeConfig, ErrTypeKey, ErrTypeBadInput},
		},
	}
}

func badInput(format string, a ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, a...), ErrTypeBadInput, nil)
}

// ExportWindow exports one daily-granularity window [start, end) of a table to S3. Its workflow
// id is ExportWindowID(table, window); the result is idempotent, so a completed window may be
// run again (backfill, repair) and rewrites the same keys with the same rows.
func ExportWindow(ctx workflow.Context, in ExportWindowInput) (ExportResult, error) {
	in.Table = tableOf(in.Table)
	if err := in.Window.Validate(); err != nil {
		return ExportResult{}, badInput("%v", err)
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx,
		WindowStartKey.ValueSet(in.Window.Start.UTC()),
		GranularityKey.ValueSet(string(partition.Daily)),
		TableKey.ValueSet(in.Table),
	); err != nil {
		return ExportResult{}, fmt.Errorf("upsert search attributes of window %s: %w", in.Window, err)
	}
	ctx = workflow.WithActivityOptions(ctx, exportActivityOptions())
	var res ExportResult
	if err := workflow.ExecuteActivity(ctx, ActivityExportWindow, in).Get(ctx, &res); err != nil {
		return ExportResult{}, fmt.Errorf("export window %s of %s: %w", in.Window, in.Table, err)
	}
	return res, nil
}

// ScheduledExportInput is the argument that a table's export schedule passes to every run.
type ScheduledExportInput struct {
	Table string `json:"table"`
	// Window is the table's grid step.
	Window time.Duration `json:"window"`
	// SafetyLag is how long after a window's end the window is considered closed.
	SafetyLag time.Duration `json:"safety_lag"`
}

// ScheduledWindow is the window a run nominally scheduled at nominal exports: the last whole
// grid window that ended at least safetyLag before nominal.
func ScheduledWindow(nominal time.Time, step, safetyLag time.Duration) partition.Window {
	end := partition.Floor(nominal.Add(-safetyLag), step)
	return partition.Window{Start: end.Add(-step), End: end}
}

// ScheduledExport is the export schedule's action. It exports the window that its nominal
// scheduled time stands for, never the wall clock's: end = floor(nominal - SafetyLag, Window),
// start = end - Window. So a late run, a run after an outage (catch-up) or the Temporal UI's
// "backfill" of the schedule over a past range each export exactly their own past windows.
//
// The nominal time is the TemporalScheduledStartTime search attribute that the schedule puts on
// every run it starts. A manual start (e.g. `temporal workflow start --type ScheduledExport`)
// has no such attribute; it falls back to the workflow's start time, i.e. "the last closed
// window as of now".
func ScheduledExport(ctx workflow.Context, in ScheduledExportInput) (ExportResult, error) {
	if in.Window <= 0 || in.SafetyLag < 0 {
		return ExportResult{}, badInput("scheduled export: window %s must be > 0 and safety lag %s >= 0", in.Window, in.SafetyLag)
	}
	nominal := NominalTime(ctx)
	w := ScheduledWindow(nominal, in.Window, in.SafetyLag)
	workflow.GetLogger(ctx).Info("scheduled export", "table", tableOf(in.Table), "nominal", nominal, "window", w.String())
	res, _, err := runExportWindowChild(ctx, ExportWindowInput{Table: tableOf(in.Table), Window: w, Reason: ReasonSchedule})
	return res, err
}

// NominalTime is the time a schedule meant this run to start (TemporalScheduledStartTime), or
// the workflow's start time for a run that no schedule started.
func NominalTime(ctx workflow.Context) time.Time {
	if t, ok := workflow.GetTypedSearchAttributes(ctx).GetTime(ScheduledStartTimeKey); ok && !t.IsZero() {
		return t.UTC()
	}
	// Payloads written without type metadata (older servers, untyped starts) only decode this way.
	//lint:ignore SA1019 typed access above is preferred; this is the fallback for untyped payloads
	if sa := workflow.GetInfo(ctx).SearchAttributes; sa != nil { //nolint:staticcheck
		if p, ok := sa.IndexedFields[ScheduledStartTimeKey.GetName()]; ok {
			var t time.Time
			if err := converter.GetDefaultDataConverter().FromPayload(p, &t); err == nil && !t.IsZero() {
				return t.UTC()
			}
		}
	}
	return workflow.GetInfo(ctx).WorkflowStartTime.UTC()
}

// windowChildOptions are the options of an ExportWindow child: the window's id, so a duplicate
// start is refused while a run is open, and a reuse policy that lets a completed window be
// exported again. ABANDON keeps the child running if its parent is terminated, since the
// window's export is worth finishing on its own.
func windowChildOptions(table string, w partition.Window) workflow.ChildWorkflowOptions {
	return workflow.ChildWorkflowOptions{
		WorkflowID:            ExportWindowID(table, w),
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
	}
}

// runExportWindowChild runs the window's ExportWindow child and waits for it. When a run of the
// same window is already open it returns alreadyRunning and no error: that run is doing the work.
func runExportWindowChild(ctx workflow.Context, in ExportWindowInput) (res ExportResult, alreadyRunning bool, err error) {
	cctx := workflow.WithChildOptions(ctx, windowChildOptions(in.Table, in.Window))
	f := workflow.ExecuteChildWorkflow(cctx, ExportWindow, in)
	if err := f.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		if isAlreadyStarted(err) {
			workflow.GetLogger(ctx).Info("window already being exported", "table", in.Table, "window", in.Window.String())
			return ExportResult{AlreadyRunning: true}, true, nil
		}
		return ExportResult{}, false, fmt.Errorf("start export of window %s of %s: %w", in.Window, in.Table, err)
	}
	if err := f.Get(ctx, &res); err != nil {
		return ExportResult{}, false, fmt.Errorf("export of window %s of %s: %w", in.Window, in.Table, err)
	}
	return res, false, nil
}

// isAlreadyStarted tells whether err is a refused duplicate start.
func isAlreadyStarted(err error) bool {
	var e *temporal.ChildWorkflowExecutionAlreadyStartedError
	return errors.As(err, &e) || temporal.IsWorkflowExecutionAlreadyStartedError(err)
}
