package workflows

import (
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/logetl/logetl/internal/partition"
)

// maxRepairRounds bounds how often a compaction repairs and checks again before it gives up.
const maxRepairRounds = 5

// CompactWeek builds a table's weekly partition of one ISO week from its daily files. Windows
// whose daily files do not hold MySQL's rows (a gap left by an outage, a lake lost or
// replaced, a late commit) are first re-exported through their own ExportWindow runs, a page at
// a time with the backfill's fan-out, then the week is compacted; it fails only on what the
// repair cannot fix, with the reason. Its workflow id is CompactWeekID, so one week is never
// compacted twice at once; a run may be repeated and rewrites the same key.
func CompactWeek(ctx workflow.Context, in CompactWeekInput) (CompactResult, error) {
	in.Table = tableOf(in.Table)
	if in.Week.Year == 0 || in.UpTo.IsZero() {
		return CompactResult{}, badInput("compact week %s of %s: week and up_to are required", in.Week, in.Table)
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx,
		GranularityKey.ValueSet(string(partition.Weekly)),
		TableKey.ValueSet(in.Table),
	); err != nil {
		return CompactResult{}, fmt.Errorf("upsert search attributes of week %s: %w", in.Week, err)
	}
	actx := workflow.WithActivityOptions(ctx, exportActivityOptions())
	for round := 0; ; round++ {
		var res CompactResult
		if err := workflow.ExecuteActivity(actx, ActivityCompactWeek, in).Get(ctx, &res); err != nil {
			return CompactResult{}, fmt.Errorf("compact week %s of %s: %w", in.Week, in.Table, err)
		}
		if res.Compacted {
			return res, nil
		}
		if round == maxRepairRounds {
			return res, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("compact week %s of %s: %d windows still differ from MySQL after %d repairs, e.g. %s",
					in.Week, in.Table, res.RepairCount, round, res.Repair[0]), "CompactionIncomplete", nil, res)
		}
		workflow.GetLogger(ctx).Warn("repairing windows before compacting", "table", in.Table, "week", in.Week.String(), "windows", res.RepairCount)
		jobs := make([]ExportWindowInput, len(res.Repair))
		for i, w := range res.Repair {
			jobs[i] = ExportWindowInput{Table: in.Table, Window: w, Reason: ReasonCompaction}
		}
		if failures := repairWindows(ctx, in.Table, jobs, DefaultConcurrency); len(failures) > 0 {
			return res, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("compact week %s of %s: %d repairs failed: %s", in.Week, in.Table, len(failures), strings.Join(failures[:min(3, len(failures))], "; ")),
				"CompactionIncomplete", nil, res)
		}
	}
}

// ScheduledCompactInput is the argument that a table's compaction schedule passes to every run.
type ScheduledCompactInput struct {
	Table     string        `json:"table"`
	SafetyLag time.Duration `json:"safety_lag"`
	// ToDate compacts the current week up to the last closed window instead of the week that
	// just closed; the dev profile uses it to show a weekly file within minutes.
	ToDate bool `json:"to_date"`
}

// ScheduledCompactWeek is the compaction schedule's action. From its nominal time n it compacts
// the ISO week before the one holding n - SafetyLag in the table's zone (the week that just
// closed), or with ToDate the week holding it, up to the last closed window. Which week that is
// needs the table's time zone, so an activity says.
func ScheduledCompactWeek(ctx workflow.Context, in ScheduledCompactInput) (CompactResult, error) {
	qctx := workflow.WithActivityOptions(ctx, quickActivityOptions())
	var wk ClosedWeek
	if err := workflow.ExecuteActivity(qctx, ActivityClosedWeek, ClosedWeekInput{
		Table: tableOf(in.Table), Nominal: NominalTime(ctx), SafetyLag: in.SafetyLag, ToDate: in.ToDate,
	}).Get(ctx, &wk); err != nil {
		return CompactResult{}, fmt.Errorf("find the week to compact: %w", err)
	}
	res, err := runCompactChild(ctx, CompactWeekInput{Table: tableOf(in.Table), Week: wk.Week, UpTo: wk.UpTo})
	if err != nil {
		return res, err
	}
	// Runs started before the lifecycle existed replay without it.
	if workflow.GetVersion(ctx, "daily-files-lifecycle", workflow.DefaultVersion, 1) == 1 {
		lc, err := removeDailies(ctx, RemoveDailiesInput{Table: tableOf(in.Table), Nominal: NominalTime(ctx)})
		if err != nil {
			return res, err
		}
		res.Lifecycle = &lc
	}
	return res, nil
}

// maxLifecycleCalls bounds one run's lifecycle calls (each does up to a page of weeks); what
// is left waits for the next run.
const maxLifecycleCalls = 50

// removeDailies runs the table's S3 lifecycle until no week is left, or maxLifecycleCalls. A
// week it must leave alone is a warning in the worker's log and the result, never a failure.
func removeDailies(ctx workflow.Context, in RemoveDailiesInput) (RemoveDailiesResult, error) {
	actx := workflow.WithActivityOptions(ctx, exportActivityOptions())
	var total RemoveDailiesResult
	for call := 0; call < maxLifecycleCalls; call++ {
		var r RemoveDailiesResult
		if err := workflow.ExecuteActivity(actx, ActivityRemoveDailies, in).Get(ctx, &r); err != nil {
			return total, fmt.Errorf("remove the daily files of compacted weeks of %s: %w", in.Table, err)
		}
		total.Off, total.Cutoff = r.Off, r.Cutoff
		total.Weeks += r.Weeks
		total.Done = r.Done
		total.Removed += r.Removed
		total.Bytes += r.Bytes
		total.Skipped = append(total.Skipped, r.Skipped...)
		total.More = r.More
		if !r.More {
			break
		}
	}
	return total, nil
}

// runCompactChild runs the week's CompactWeek child; an open run of the same week does the work.
func runCompactChild(ctx workflow.Context, in CompactWeekInput) (CompactResult, error) {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            CompactWeekID(in.Table, in.Week),
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
	})
	f := workflow.ExecuteChildWorkflow(cctx, CompactWeek, in)
	if err := f.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		if isAlreadyStarted(err) {
			return CompactResult{ExportResult: ExportResult{AlreadyRunning: true}}, nil
		}
		return CompactResult{}, fmt.Errorf("start compaction of week %s of %s: %w", in.Week, in.Table, err)
	}
	var res CompactResult
	if err := f.Get(ctx, &res); err != nil {
		return CompactResult{}, fmt.Errorf("compaction of week %s of %s: %w", in.Week, in.Table, err)
	}
	return res, nil
}
