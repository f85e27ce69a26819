package workflows

import (
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/logetl/logetl/internal/partition"
)

// PurgeInput is the argument of Purge. The schedule sets Retention (rows older than it go);
// `logetl purge` sets Before. The cursor and counters carry state across continue-as-new.
type PurgeInput struct {
	Table     string        `json:"table"`
	Retention time.Duration `json:"retention,omitempty"`
	Window    time.Duration `json:"window"` // the table's grid step
	Before    time.Time     `json:"before,omitempty"`
	DryRun    bool          `json:"dry_run,omitempty"`
	PageSize  int           `json:"page_size,omitempty"`

	Cursor  time.Time     `json:"cursor,omitempty"`
	Summary PurgeProgress `json:"summary"`
}

// PurgeProgress is Purge's result: windows by verdict, rows deleted, and the refused windows
// with their reasons (the first few).
type PurgeProgress struct {
	Before   time.Time        `json:"before"`
	Windows  int              `json:"windows"`
	Purged   int              `json:"purged"`
	Repaired int              `json:"repaired"`
	Refused  int              `json:"refused"`
	Deleted  int64            `json:"deleted"`
	Refusals []string         `json:"refusals,omitempty"`
	Current  partition.Window `json:"current,omitzero"`
}

// purgeActivityOptions: one window's purge deletes in short chunks and heartbeats after each;
// a dead worker is noticed within a minute and the next attempt resumes (deleting what is
// left, never anything the lake lacks).
func purgeActivityOptions() workflow.ActivityOptions {
	o := exportActivityOptions()
	o.ScheduleToCloseTimeout = 2 * time.Hour
	return o
}

// Purge deletes from MySQL the rows of a table's closed windows older than the retention (or
// before Before), one window at a time, each only after the window is verified against its
// manifest in the same activity (and repaired when it is not). Windows are planned a page at a
// time from the oldest row, and the run continues as new after each page. A window that cannot
// be verified is refused with its reason, never purged; the run goes on with the next. Its
// workflow id is PurgeID(table): one purge per table at a time. Purge and the window's export
// take the same window lock, so they never interleave.
func Purge(ctx workflow.Context, in PurgeInput) (PurgeProgress, error) {
	in.Table = tableOf(in.Table)
	// The table's runs of every kind are found in the UI (and by logetl status) by LogetlTable.
	if err := workflow.UpsertTypedSearchAttributes(ctx, TableKey.ValueSet(in.Table)); err != nil {
		return PurgeProgress{}, fmt.Errorf("upsert search attributes: %w", err)
	}
	if in.Window <= 0 || (in.Retention <= 0 && in.Before.IsZero()) {
		return PurgeProgress{}, badInput("purge of %s: a window and a retention or a cutoff are required", in.Table)
	}
	if in.PageSize <= 0 {
		in.PageSize = DefaultBackfillPageSize
	}
	before := in.Before
	if before.IsZero() {
		before = partition.Floor(NominalTime(ctx).Add(-in.Retention), in.Window)
	}
	st := in.Summary
	st.Before = before
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (PurgeProgress, error) { return st, nil }); err != nil {
		return st, fmt.Errorf("purge: register progress query: %w", err)
	}
	cursor := in.Cursor
	if cursor.IsZero() {
		cursor = time.Unix(0, 0).UTC()
	}
	if !cursor.Before(before) {
		return st, nil
	}
	qctx := workflow.WithActivityOptions(ctx, quickActivityOptions())
	var page PlanResult
	if err := workflow.ExecuteActivity(qctx, ActivityPlanPurge, PlanInput{
		Table: in.Table, Granularity: partition.Daily, From: cursor, To: before, Limit: in.PageSize,
	}).Get(ctx, &page); err != nil {
		return st, fmt.Errorf("purge of %s: plan from %s: %w", in.Table, cursor.Format(time.RFC3339), err)
	}
	pctx := workflow.WithActivityOptions(ctx, purgeActivityOptions())
	for _, w := range page.Windows {
		st.Current = w
		var r PurgeResult
		err := workflow.ExecuteActivity(pctx, ActivityPurgeWindow, PurgeWindowInput{Table: in.Table, Window: w, DryRun: in.DryRun}).Get(ctx, &r)
		st.Windows++
		switch {
		case err != nil:
			r = PurgeResult{Window: w, Verdict: "refused", Reason: err.Error()}
			fallthrough
		case r.Verdict == "refused":
			st.Refused++
			if len(st.Refusals) < maxRecordedFailures {
				st.Refusals = append(st.Refusals, fmt.Sprintf("%s: %s", w, r.Reason))
			}
			workflow.GetLogger(ctx).Error("window refused by the purge", "table", in.Table, "window", w.String(), "reason", r.Reason)
		case r.Verdict == "repaired-purged":
			st.Repaired++
			st.Purged++
		case r.Verdict == "purged":
			st.Purged++
		}
		st.Deleted += r.Deleted
	}
	st.Current = partition.Window{}
	if page.Next.Before(before) && page.Next.After(cursor) {
		in.Cursor, in.Summary, in.Before = page.Next, st, before
		return st, workflow.NewContinueAsNewError(ctx, Purge, in)
	}
	if st.Refused > 0 {
		return st, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("purge of %s: %d of %d windows refused (kept in MySQL): %s", in.Table, st.Refused, st.Windows, st.Refusals[0]), "PurgeRefused", nil, st)
	}
	return st, nil
}

// ScheduledPurge is the purge schedule's action. Temporal names each scheduled run after its
// nominal time, so the schedule's runs cannot carry PurgeID themselves: this run computes the
// cutoff from its nominal time (now minus the retention, floored to the grid) and runs Purge as
// a child with the table's PurgeID. A purge of the table already open (a long one, or one
// started by hand) makes this run return at once: one purge per table at a time.
func ScheduledPurge(ctx workflow.Context, in PurgeInput) (PurgeProgress, error) {
	in.Table = tableOf(in.Table)
	if in.Window <= 0 || in.Retention <= 0 {
		return PurgeProgress{}, badInput("scheduled purge of %s: a window and a retention are required", in.Table)
	}
	in.Before = partition.Floor(NominalTime(ctx).Add(-in.Retention), in.Window)
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            PurgeID(in.Table),
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		// A purge is worth finishing on its own: each window it completes is one less to do.
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
	})
	f := workflow.ExecuteChildWorkflow(cctx, Purge, in)
	if err := f.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		if isAlreadyStarted(err) {
			workflow.GetLogger(ctx).Info("a purge of the table is already running; this run leaves the work to it", "table", in.Table)
			return PurgeProgress{Before: in.Before}, nil
		}
		return PurgeProgress{}, fmt.Errorf("start the purge of %s: %w", in.Table, err)
	}
	var st PurgeProgress
	err := f.Get(ctx, &st)
	return st, err
}
