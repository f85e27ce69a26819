package workflows

import (
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// CompactWeek builds the weekly partition of one ISO week (Monday start in the configured time
// zone) from the rows before UpTo. Its workflow id is CompactWeekID(week), so one week is never
// compacted twice at once; a run may be repeated and rewrites the same key.
func CompactWeek(ctx workflow.Context, in CompactWeekInput) (ExportResult, error) {
	if in.Week.IsZero() || !in.UpTo.After(in.Week) {
		return ExportResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("compact week %s: up_to %s must be after the week's start", in.Week, in.UpTo), ErrTypeBadInput, nil)
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx,
		WindowStartKey.ValueSet(in.Week.UTC()),
		GranularityKey.ValueSet(GranularityWeekly),
	); err != nil {
		return ExportResult{}, fmt.Errorf("upsert search attributes of week %s: %w", WeekLabel(in.Week), err)
	}
	ctx = workflow.WithActivityOptions(ctx, exportActivityOptions())
	var res ExportResult
	if err := workflow.ExecuteActivity(ctx, ActivityCompactWeek, in).Get(ctx, &res); err != nil {
		return ExportResult{}, fmt.Errorf("compact week %s: %w", WeekLabel(in.Week), err)
	}
	return res, nil
}

// ScheduledCompactInput is the argument that the compaction schedule passes to every run.
type ScheduledCompactInput struct {
	Timezone  string        `json:"timezone"`
	SafetyLag time.Duration `json:"safety_lag"`
	// ToDate compacts the current week up to the last closed window instead of the week that
	// just closed; the dev profile uses it to show a weekly file within minutes.
	ToDate bool `json:"to_date"`
	// Window is the grid step, used to round UpTo in ToDate mode.
	Window time.Duration `json:"window"`
}

// ScheduledCompactWeek is the compaction schedule's action. From its nominal time n it picks the
// ISO week before the one holding n - SafetyLag (the week that just closed), or with ToDate the
// week holding it, compacted up to the last closed window.
func ScheduledCompactWeek(ctx workflow.Context, in ScheduledCompactInput) (ExportResult, error) {
	loc, err := loadLocation(in.Timezone)
	if err != nil {
		return ExportResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeConfig, nil)
	}
	closed := NominalTime(ctx).Add(-in.SafetyLag)
	cur := WeekStart(closed, loc)
	var week, upTo time.Time
	if in.ToDate {
		if in.Window <= 0 {
			return ExportResult{}, temporal.NewNonRetryableApplicationError("scheduled compaction: window must be > 0", ErrTypeBadInput, nil)
		}
		week, upTo = cur, FloorGrid(closed, in.Window)
		if !upTo.After(week) {
			// The week has just begun and holds no closed window yet: compact the previous one.
			week, upTo = WeekStart(cur.Add(-time.Hour), loc), cur
		}
	} else {
		y, m, d := cur.Date()
		week, upTo = time.Date(y, m, d-7, 0, 0, 0, 0, loc), cur
	}
	return runCompactChild(ctx, CompactWeekInput{Week: week, UpTo: upTo, Timezone: loc.String()})
}

// runCompactChild runs the week's CompactWeek child; an open run of the same week does the work.
func runCompactChild(ctx workflow.Context, in CompactWeekInput) (ExportResult, error) {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            CompactWeekID(in.Week),
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
	})
	f := workflow.ExecuteChildWorkflow(cctx, CompactWeek, in)
	if err := f.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		if isAlreadyStarted(err) {
			return ExportResult{AlreadyRunning: true}, nil
		}
		return ExportResult{}, fmt.Errorf("start compaction of week %s: %w", WeekLabel(in.Week), err)
	}
	var res ExportResult
	if err := f.Get(ctx, &res); err != nil {
		return ExportResult{}, fmt.Errorf("compaction of week %s: %w", WeekLabel(in.Week), err)
	}
	return res, nil
}
