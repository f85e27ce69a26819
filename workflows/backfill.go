package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Backfill defaults: a few windows at a time keeps MySQL and S3 responsive for the schedule's
// own runs; a few hundred children per run keeps each run's history far below Temporal's limits.
const (
	DefaultBackfillConcurrency = 4
	DefaultBackfillPageSize    = 200
	// ProgressQuery is the name of Backfill's query handler.
	ProgressQuery       = "progress"
	maxRecordedFailures = 20
)

// BackfillInput is the argument of Backfill. The last four fields carry state across
// continue-as-new; callers leave them zero.
type BackfillInput struct {
	From        time.Time     `json:"from"`
	To          time.Time     `json:"to"`
	Granularity string        `json:"granularity"`
	Window      time.Duration `json:"window"`   // grid step of daily windows
	Timezone    string        `json:"timezone"` // zone of ISO weeks
	Concurrency int           `json:"concurrency,omitempty"`
	PageSize    int           `json:"page_size,omitempty"`

	Next     int      `json:"next,omitempty"`
	Done     int      `json:"done,omitempty"`
	Failed   int      `json:"failed,omitempty"`
	Failures []string `json:"failures,omitempty"`
}

// BackfillProgress answers the progress query and is Backfill's result.
type BackfillProgress struct {
	Total    int      `json:"total"`
	Done     int      `json:"done"`
	Failed   int      `json:"failed"`
	Running  []string `json:"running,omitempty"` // ids of the children in flight
	Current  string   `json:"current,omitempty"` // id of the child started last
	Failures []string `json:"failures,omitempty"`
}

// backfillTask is one child of a backfill: a daily window or an ISO week.
type backfillTask struct {
	id     string
	window Window
	week   *CompactWeekInput
}

func backfillTasks(in BackfillInput) ([]backfillTask, error) {
	switch in.Granularity {
	case GranularityDaily:
		if in.Window <= 0 {
			return nil, fmt.Errorf("backfill: window must be > 0")
		}
		ws := GridWindows(in.From, in.To, in.Window)
		tasks := make([]backfillTask, len(ws))
		for i, w := range ws {
			tasks[i] = backfillTask{id: ExportWindowID(w), window: w}
		}
		return tasks, nil
	case GranularityWeekly:
		loc, err := loadLocation(in.Timezone)
		if err != nil {
			return nil, err
		}
		var tasks []backfillTask
		for s := WeekStart(in.From, loc); s.Before(in.To); {
			y, m, d := s.Date()
			next := time.Date(y, m, d+7, 0, 0, 0, 0, loc)
			upTo := next
			if in.To.Before(upTo) {
				upTo = in.To
			}
			tasks = append(tasks, backfillTask{id: CompactWeekID(s), week: &CompactWeekInput{Week: s, UpTo: upTo, Timezone: loc.String()}})
			s = next
		}
		return tasks, nil
	default:
		return nil, fmt.Errorf("backfill: granularity %q is not daily or weekly", in.Granularity)
	}
}

// awaitActivityOptions bound the wait for a window that another run is exporting: as long as
// that run's own retries may last, with heartbeats so a dead worker is noticed.
func awaitActivityOptions() workflow.ActivityOptions {
	o := exportActivityOptions()
	o.ScheduleToCloseTimeout = 7 * time.Hour
	o.StartToCloseTimeout = 7 * time.Hour
	return o
}

// Backfill exports every daily window (or compacts every ISO week) of [From, To), a bounded
// number of children at a time (a sliding window: a new child starts as soon as one finishes).
// After PageSize children it waits for those in flight and continues as new, so a range of any
// length keeps a short history. Every child has its window's id: running the same backfill
// again, or over windows the schedule is exporting at that moment, duplicates nothing (a window
// already being exported is awaited, not started twice). The progress query tells
// done/total/failed/current. Children that fail for good are listed and fail the backfill at
// the end, after every other window was done.
func Backfill(ctx workflow.Context, in BackfillInput) (BackfillProgress, error) {
	if in.From.IsZero() || !in.To.After(in.From) {
		return BackfillProgress{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("backfill: to (%s) must be after from (%s)", in.To, in.From), ErrTypeBadInput, nil)
	}
	tasks, err := backfillTasks(in)
	if err != nil {
		return BackfillProgress{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeBadInput, nil)
	}
	concurrency := in.Concurrency
	if concurrency <= 0 {
		concurrency = DefaultBackfillConcurrency
	}
	pageSize := in.PageSize
	if pageSize <= 0 {
		pageSize = DefaultBackfillPageSize
	}

	st := BackfillProgress{Total: len(tasks), Done: in.Done, Failed: in.Failed, Failures: slices.Clone(in.Failures)}
	var running []string
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (BackfillProgress, error) {
		p := st
		p.Running = slices.Clone(running)
		p.Failures = slices.Clone(st.Failures)
		return p, nil
	}); err != nil {
		return BackfillProgress{}, fmt.Errorf("backfill: register progress query: %w", err)
	}

	actx := workflow.WithActivityOptions(ctx, awaitActivityOptions())
	finish := func(id string, err error) {
		running = slices.DeleteFunc(running, func(r string) bool { return r == id })
		if err != nil {
			st.Failed++
			if len(st.Failures) < maxRecordedFailures {
				st.Failures = append(st.Failures, fmt.Sprintf("%s: %v", id, err))
			}
			workflow.GetLogger(ctx).Error("backfill child failed", "id", id, "error", err)
			return
		}
		st.Done++
	}

	next := in.Next
	for started := 0; next < len(tasks) && started < pageSize; started++ {
		if err := workflow.Await(ctx, func() bool { return len(running) < concurrency }); err != nil {
			return st, err
		}
		if started > 0 && workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			break
		}
		t := tasks[next]
		next++
		running = append(running, t.id)
		st.Current = t.id
		workflow.Go(ctx, func(ctx workflow.Context) {
			var alreadyRunning bool
			var err error
			if t.week != nil {
				var res ExportResult
				res, err = runCompactChild(ctx, *t.week)
				alreadyRunning = res.AlreadyRunning
			} else {
				_, alreadyRunning, err = runExportWindowChild(ctx, t.window)
			}
			if err == nil && alreadyRunning {
				// Another run of this window is open (the schedule, another backfill): the
				// window counts as done only once that run has succeeded.
				err = workflow.ExecuteActivity(actx, ActivityAwaitWorkflow, AwaitWorkflowInput{WorkflowID: t.id}).Get(ctx, nil)
			}
			finish(t.id, err)
		})
	}
	if err := workflow.Await(ctx, func() bool { return len(running) == 0 }); err != nil {
		return st, err
	}
	if next < len(tasks) {
		in.Next, in.Done, in.Failed, in.Failures = next, st.Done, st.Failed, st.Failures
		return st, workflow.NewContinueAsNewError(ctx, Backfill, in)
	}
	st.Current = ""
	if st.Failed > 0 {
		return st, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("backfill: %d of %d children failed", st.Failed, st.Total), "BackfillIncomplete", nil, st)
	}
	return st, nil
}
