package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/logetl/logetl/internal/partition"
)

// Backfill defaults.
const (
	// DefaultBackfillPageSize is how many windows (or weeks) with rows one page plans: one
	// page per run keeps each run's history far below Temporal's limits.
	DefaultBackfillPageSize = 200
	// ProgressQuery is the name of Backfill's query handler.
	ProgressQuery       = "progress"
	maxRecordedFailures = 20
)

// BackfillInput is the argument of Backfill. The cursor and counters carry state across
// continue-as-new; callers leave them zero.
type BackfillInput struct {
	Table       string                `json:"table"`
	From        time.Time             `json:"from"`
	To          time.Time             `json:"to"`
	Granularity partition.Granularity `json:"granularity"`
	Concurrency int                   `json:"concurrency,omitempty"`
	PageSize    int                   `json:"page_size,omitempty"`

	Cursor   time.Time `json:"cursor,omitempty"`
	Done     int       `json:"done,omitempty"`
	Failed   int       `json:"failed,omitempty"`
	Failures []string  `json:"failures,omitempty"`
	Pages    int       `json:"pages,omitempty"`
}

// BackfillProgress answers the progress query and is Backfill's result. A range is planned a
// page at a time, so the total is not known ahead: Cursor says how far the range is planned.
type BackfillProgress struct {
	Table    string    `json:"table"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Cursor   time.Time `json:"cursor"`
	Done     int       `json:"done"`
	Failed   int       `json:"failed"`
	Pages    int       `json:"pages"`
	Running  []string  `json:"running,omitempty"` // ids of the children in flight
	Current  string    `json:"current,omitempty"` // id of the child started last
	Failures []string  `json:"failures,omitempty"`
}

// Backfill exports every daily window (or compacts every ISO week) of a table's [From, To)
// that has rows, a bounded number of children at a time. It never lists the range's windows:
// an activity plans the next page from the cursor (jumping over stretches without rows with one
// index lookup, so 56 years of one-minute windows cost what their rows cost), the page's
// children run, the page's range is recorded in the coverage (which proves its empty windows),
// and the run continues as new with the cursor: memory and history per run are independent of
// the range. Every child has its window's id: running the same backfill again, or over windows
// the schedule is exporting at that moment, duplicates nothing. Children that fail for good are
// listed and fail the backfill at the end, after every other window was done.
func Backfill(ctx workflow.Context, in BackfillInput) (BackfillProgress, error) {
	in.Table = tableOf(in.Table)
	// The table's runs of every kind are found in the UI (and by logetl status) by LogetlTable.
	if err := workflow.UpsertTypedSearchAttributes(ctx, TableKey.ValueSet(in.Table)); err != nil {
		return BackfillProgress{}, fmt.Errorf("upsert search attributes: %w", err)
	}
	if in.From.IsZero() || !in.To.After(in.From) {
		return BackfillProgress{}, badInput("backfill: to (%s) must be after from (%s)", in.To, in.From)
	}
	if in.Granularity != partition.Daily && in.Granularity != partition.Weekly {
		return BackfillProgress{}, badInput("backfill: granularity %q is not daily or weekly", in.Granularity)
	}
	if in.PageSize <= 0 {
		in.PageSize = DefaultBackfillPageSize
	}
	cursor := in.Cursor
	if cursor.IsZero() {
		cursor = in.From
	}
	st := BackfillProgress{Table: in.Table, From: in.From, To: in.To, Cursor: cursor, Done: in.Done, Failed: in.Failed,
		Pages: in.Pages, Failures: slices.Clone(in.Failures)}
	var f *fanOut
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (BackfillProgress, error) {
		p := st
		p.Failures = slices.Clone(st.Failures)
		if f != nil {
			p.Running, p.Current = slices.Clone(f.running), f.current
		}
		return p, nil
	}); err != nil {
		return BackfillProgress{}, fmt.Errorf("backfill: register progress query: %w", err)
	}

	if cursor.Before(in.To) {
		qctx := workflow.WithActivityOptions(ctx, quickActivityOptions())
		var page PlanResult
		if err := workflow.ExecuteActivity(qctx, ActivityPlanBackfill, PlanInput{
			Table: in.Table, Granularity: in.Granularity, From: cursor, To: in.To, Limit: in.PageSize,
		}).Get(ctx, &page); err != nil {
			return st, fmt.Errorf("backfill: plan from %s: %w", cursor.Format(time.RFC3339), err)
		}
		if !page.Next.After(cursor) {
			return st, badInput("backfill: the plan from %s made no progress", cursor.Format(time.RFC3339))
		}
		var failedWindows []partition.Window
		f = newFanOut(in.Concurrency, func(j job, err error) {
			if err != nil {
				st.Failed++
				if len(st.Failures) < maxRecordedFailures {
					st.Failures = append(st.Failures, fmt.Sprintf("%s: %v", j.id, err))
				}
				if j.window != nil {
					failedWindows = append(failedWindows, j.window.Window)
				}
				return
			}
			st.Done++
		})
		for _, w := range page.Windows {
			if err := f.start(ctx, windowJob(ExportWindowInput{Table: in.Table, Window: w, Reason: ReasonBackfill})); err != nil {
				return st, err
			}
		}
		for _, w := range page.Weeks {
			if err := f.start(ctx, weekJob(CompactWeekInput{Table: in.Table, Week: w, UpTo: in.To})); err != nil {
				return st, err
			}
		}
		if err := f.wait(ctx); err != nil {
			return st, err
		}
		if in.Granularity == partition.Daily {
			// The page's windows without rows are proven empty by the coverage; failed
			// windows stay unproven until exported.
			slices.SortFunc(failedWindows, func(a, b partition.Window) int { return a.Start.Compare(b.Start) })
			if err := workflow.ExecuteActivity(qctx, ActivityCoverRange, CoverInput{
				Table: in.Table, From: cursor, To: page.Next, Failed: failedWindows,
			}).Get(ctx, nil); err != nil {
				return st, fmt.Errorf("backfill: record %s..%s: %w", cursor.Format(time.RFC3339), page.Next.Format(time.RFC3339), err)
			}
		}
		st.Pages++
		st.Cursor = page.Next
		if page.Next.Before(in.To) {
			in.Cursor, in.Done, in.Failed, in.Failures, in.Pages = page.Next, st.Done, st.Failed, st.Failures, st.Pages
			return st, workflow.NewContinueAsNewError(ctx, Backfill, in)
		}
	}
	st.Cursor, st.Current = in.To, ""
	if st.Failed > 0 {
		return st, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("backfill of %s: %d children failed, %d done", in.Table, st.Failed, st.Done), "BackfillIncomplete", nil, st)
	}
	return st, nil
}
