package workflows

import (
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"
)

// DefaultConcurrency is how many windows a backfill or repair exports at once: a few keep MySQL
// and S3 responsive for the schedule's own runs.
const DefaultConcurrency = 4

// job is one child of a fan-out: a window's export or a week's compaction.
type job struct {
	id     string
	window *ExportWindowInput
	week   *CompactWeekInput
}

func windowJob(in ExportWindowInput) job {
	return job{id: ExportWindowID(in.Table, in.Window), window: &in}
}

func weekJob(in CompactWeekInput) job {
	return job{id: CompactWeekID(in.Table, in.Week), week: &in}
}

// awaitActivityOptions bound the wait for a window that another run is exporting: as long as
// that run's own retries may last, with heartbeats so a dead worker is noticed.
func awaitActivityOptions() workflow.ActivityOptions {
	o := exportActivityOptions()
	o.ScheduleToCloseTimeout = 7 * time.Hour
	o.StartToCloseTimeout = 7 * time.Hour
	return o
}

// fanOut runs jobs as child workflows, at most concurrency at once (a sliding window: a new
// child starts as soon as one finishes). Every child has its window's or week's id, so a window
// that another run (the schedule, another backfill) is exporting at that moment is awaited,
// not exported twice.
type fanOut struct {
	concurrency int
	running     []string
	current     string
	done        func(j job, err error)
}

func newFanOut(concurrency int, done func(job, error)) *fanOut {
	if concurrency <= 0 {
		concurrency = DefaultConcurrency
	}
	return &fanOut{concurrency: concurrency, done: done}
}

// start waits for a free slot and starts j.
func (f *fanOut) start(ctx workflow.Context, j job) error {
	if err := workflow.Await(ctx, func() bool { return len(f.running) < f.concurrency }); err != nil {
		return err
	}
	f.running = append(f.running, j.id)
	f.current = j.id
	actx := workflow.WithActivityOptions(ctx, awaitActivityOptions())
	workflow.Go(ctx, func(ctx workflow.Context) {
		var alreadyRunning bool
		var err error
		if j.week != nil {
			var res CompactResult
			res, err = runCompactChild(ctx, *j.week)
			alreadyRunning = res.AlreadyRunning
		} else {
			_, alreadyRunning, err = runExportWindowChild(ctx, *j.window)
		}
		if err == nil && alreadyRunning {
			// Another run of this window is open: it counts as done only once that run succeeded.
			err = workflow.ExecuteActivity(actx, ActivityAwaitWorkflow, AwaitWorkflowInput{WorkflowID: j.id}).Get(ctx, nil)
		}
		f.running = slices.DeleteFunc(f.running, func(r string) bool { return r == j.id })
		if err != nil {
			workflow.GetLogger(ctx).Error("child failed", "id", j.id, "error", err)
		}
		f.done(j, err)
	})
	return nil
}

// wait blocks until every started job finished.
func (f *fanOut) wait(ctx workflow.Context) error {
	return workflow.Await(ctx, func() bool { return len(f.running) == 0 })
}

// repairWindows re-exports windows through their own ExportWindow runs, concurrency at a time,
// and returns the failures.
func repairWindows(ctx workflow.Context, table string, windows []ExportWindowInput, concurrency int) []string {
	var failures []string
	f := newFanOut(concurrency, func(j job, err error) {
		if err != nil {
			failures = append(failures, j.id+": "+err.Error())
		}
	})
	for _, in := range windows {
		in.Table = table
		if err := f.start(ctx, windowJob(in)); err != nil {
			failures = append(failures, err.Error())
			return failures
		}
	}
	if err := f.wait(ctx); err != nil {
		failures = append(failures, err.Error())
	}
	return failures
}
