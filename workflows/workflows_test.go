package workflows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// fakeExporter stands in for the export activities: the test decides what each call returns
// and the fake records every call it gets.
type fakeExporter struct {
	mu       sync.Mutex
	windows  []Window           // every ExportWindow activity call, in order
	weeks    []CompactWeekInput // every CompactWeek activity call
	awaited  []string           // every AwaitWorkflow call
	failures map[string][]error // per window: errors returned by the first attempts
}

func (f *fakeExporter) exportWindow(ctx context.Context, in ExportWindowInput) (ExportResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.windows = append(f.windows, in.Window)
	if errs := f.failures[in.Window.String()]; len(errs) > 0 {
		f.failures[in.Window.String()] = errs[1:]
		return ExportResult{}, errs[0]
	}
	return ExportResult{Rows: 10, Bytes: 100, Files: []FileResult{{Key: "k/" + in.Window.String(), Rows: 10, Bytes: 100}}}, nil
}

func (f *fakeExporter) compactWeek(ctx context.Context, in CompactWeekInput) (ExportResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.weeks = append(f.weeks, in)
	return ExportResult{Rows: 70}, nil
}

func (f *fakeExporter) awaitWorkflow(ctx context.Context, in AwaitWorkflowInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.awaited = append(f.awaited, in.WorkflowID)
	return nil
}

func (f *fakeExporter) exportedWindows() []Window {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.windows)
}

// quietSuite silences the SDK's logs: the tests provoke failures on purpose.
func quietSuite() *testsuite.WorkflowTestSuite {
	s := &testsuite.WorkflowTestSuite{}
	s.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError + 4}))))
	return s
}

func newEnv(t *testing.T, f *fakeExporter) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	env := quietSuite().NewTestWorkflowEnvironment()
	Register(env)
	env.RegisterActivityWithOptions(f.exportWindow, activity.RegisterOptions{Name: ActivityExportWindow})
	env.RegisterActivityWithOptions(f.compactWeek, activity.RegisterOptions{Name: ActivityCompactWeek})
	env.RegisterActivityWithOptions(f.awaitWorkflow, activity.RegisterOptions{Name: ActivityAwaitWorkflow})
	return env
}

// hasErrType tells whether any ApplicationError in err's chain has type typ: workflows wrap
// activity failures with the window they were exporting.
func hasErrType(err error, typ string) bool {
	for ; err != nil; err = errors.Unwrap(err) {
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.Type() == typ {
			return true
		}
	}
	return false
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestExportWindowRetryPolicy(t *testing.T) {
	w := Window{Start: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 24, 10, 15, 0, 0, time.UTC)}
	tests := []struct {
		name         string
		errs         []error
		wantAttempts int
		wantErrType  string // "" means success
	}{
		{"succeeds at once", nil, 1, ""},
		{"retries transient failures until it succeeds", []error{errors.New("mysql: connection refused"), errors.New("s3: 503"), errors.New("s3: 503")}, 4, ""},
		{"non-retryable error fails at the first attempt", []error{temporal.NewNonRetryableApplicationError("bucket missing", ErrTypeConfig, nil)}, 1, ErrTypeConfig},
		{"key error type is not retried even when raised as retryable", []error{temporal.NewApplicationError("no key hmac-2", ErrTypeKey)}, 1, ErrTypeKey},
		{"bad input type is not retried", []error{temporal.NewApplicationError("window not aligned", ErrTypeBadInput)}, 1, ErrTypeBadInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeExporter{failures: map[string][]error{w.String(): tt.errs}}
			env := newEnv(t, f)
			env.ExecuteWorkflow(WorkflowExportWindow, ExportWindowInput{Window: w})
			if !env.IsWorkflowCompleted() {
				t.Fatal("workflow did not complete")
			}
			if got := len(f.exportedWindows()); got != tt.wantAttempts {
				t.Errorf("activity attempts = %d, want %d", got, tt.wantAttempts)
			}
			err := env.GetWorkflowError()
			if tt.wantErrType == "" {
				if err != nil {
					t.Fatalf("workflow error: %v", err)
				}
				var res ExportResult
				if err := env.GetWorkflowResult(&res); err != nil || res.Rows != 10 {
					t.Fatalf("result = %+v, %v; want 10 rows", res, err)
				}
				return
			}
			if !hasErrType(err, tt.wantErrType) {
				t.Fatalf("workflow error = %v, want application error of type %s", err, tt.wantErrType)
			}
		})
	}
}

func TestExportWindowRejectsInvalidWindowWithoutCallingTheActivity(t *testing.T) {
	f := &fakeExporter{}
	env := newEnv(t, f)
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	env.ExecuteWorkflow(WorkflowExportWindow, ExportWindowInput{Window: Window{Start: at, End: at}})
	var appErr *temporal.ApplicationError
	if err := env.GetWorkflowError(); !errors.As(err, &appErr) || appErr.Type() != ErrTypeBadInput {
		t.Fatalf("error = %v, want %s", err, ErrTypeBadInput)
	}
	if n := len(f.exportedWindows()); n != 0 {
		t.Fatalf("activity called %d times", n)
	}
}

func TestScheduledExportDerivesWindowFromNominalTime(t *testing.T) {
	// The wall clock of the run is far from the nominal time, as in a schedule backfill or a
	// catch-up after an outage: the window must follow the nominal time.
	wallClock := mustTime(t, "2027-03-01T08:07:06Z")
	tests := []struct {
		name      string
		nominal   string // "" = manual start, no search attribute
		window    time.Duration
		lag       time.Duration
		wantStart string
		wantEnd   string
	}{
		{"15m grid, 1m lag, on the offset tick", "2026-11-24T10:16:00Z", 15 * time.Minute, time.Minute, "2026-11-24T10:00:00Z", "2026-11-24T10:15:00Z"},
		{"tick inside the safety lag exports the previous window", "2026-11-24T10:15:30Z", 15 * time.Minute, time.Minute, "2026-11-24T09:45:00Z", "2026-11-24T10:00:00Z"},
		{"1m grid, dev profile", "2026-11-24T23:59:10Z", time.Minute, 10 * time.Second, "2026-11-24T23:58:00Z", "2026-11-24T23:59:00Z"},
		{"window crossing midnight", "2026-11-25T00:01:00Z", 15 * time.Minute, time.Minute, "2026-11-24T23:45:00Z", "2026-11-25T00:00:00Z"},
		{"manual start falls back to the start time", "", 15 * time.Minute, time.Minute, "2027-03-01T07:45:00Z", "2027-03-01T08:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeExporter{}
			env := newEnv(t, f)
			env.SetStartTime(wallClock)
			if tt.nominal != "" {
				if err := env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(ScheduledStartTimeKey.ValueSet(mustTime(t, tt.nominal)))); err != nil {
					t.Fatal(err)
				}
			}
			var childIDs []string
			env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, _ converter.EncodedValues) {
				childIDs = append(childIDs, info.WorkflowExecution.ID)
			})
			env.ExecuteWorkflow(WorkflowScheduledExport, ScheduledExportInput{Window: tt.window, SafetyLag: tt.lag})
			if err := env.GetWorkflowError(); err != nil {
				t.Fatal(err)
			}
			want := Window{Start: mustTime(t, tt.wantStart), End: mustTime(t, tt.wantEnd)}
			got := f.exportedWindows()
			if len(got) != 1 || !got[0].Start.Equal(want.Start) || !got[0].End.Equal(want.End) {
				t.Fatalf("exported %v, want [%s]", got, want)
			}
			wantID := "export/activity_log/daily/" + tt.wantStart + "/" + tt.wantEnd
			if len(childIDs) != 1 || childIDs[0] != wantID {
				t.Fatalf("child ids %v, want [%s]", childIDs, wantID)
			}
		})
	}
}

func TestScheduledCompactWeekPicksTheWeekFromNominalTime(t *testing.T) {
	tests := []struct {
		name     string
		nominal  string
		tz       string
		toDate   bool
		wantWeek string
		wantUpTo string
		wantID   string
	}{
		{"monday run compacts the week that just closed", "2026-11-30T00:10:00Z", "UTC", false, "2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z", "compact/activity_log/weekly/2026-W48"},
		{"run inside the safety lag still sees the previous week as current", "2026-11-30T00:00:30Z", "UTC", false, "2026-11-16T00:00:00Z", "2026-11-23T00:00:00Z", "compact/activity_log/weekly/2026-W47"},
		{"week in Seoul starts at Monday 00:00 KST", "2026-11-29T15:10:00Z", "Asia/Seoul", false, "2026-11-22T15:00:00Z", "2026-11-29T15:00:00Z", "compact/activity_log/weekly/2026-W48"},
		{"to-date compacts the current week up to the last closed window", "2026-11-26T12:34:30Z", "UTC", true, "2026-11-23T00:00:00Z", "2026-11-26T12:33:00Z", "compact/activity_log/weekly/2026-W48"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeExporter{}
			env := newEnv(t, f)
			if err := env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(ScheduledStartTimeKey.ValueSet(mustTime(t, tt.nominal)))); err != nil {
				t.Fatal(err)
			}
			var childIDs []string
			env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, _ converter.EncodedValues) {
				childIDs = append(childIDs, info.WorkflowExecution.ID)
			})
			env.ExecuteWorkflow(WorkflowScheduledCompactWeek, ScheduledCompactInput{Timezone: tt.tz, SafetyLag: time.Minute, ToDate: tt.toDate, Window: time.Minute})
			if err := env.GetWorkflowError(); err != nil {
				t.Fatal(err)
			}
			if len(f.weeks) != 1 {
				t.Fatalf("compactions: %v", f.weeks)
			}
			got := f.weeks[0]
			if !got.Week.Equal(mustTime(t, tt.wantWeek)) || !got.UpTo.Equal(mustTime(t, tt.wantUpTo)) || got.Timezone != tt.tz {
				t.Fatalf("compacted %+v, want week %s up to %s in %s", got, tt.wantWeek, tt.wantUpTo, tt.tz)
			}
			if len(childIDs) != 1 || childIDs[0] != tt.wantID {
				t.Fatalf("child ids %v, want %s", childIDs, tt.wantID)
			}
		})
	}
}

// runBackfill runs Backfill and follows its continue-as-new chain like the server would,
// returning the number of runs and the last run's result.
func runBackfill(t *testing.T, f *fakeExporter, in BackfillInput, prepare func(*testsuite.TestWorkflowEnvironment)) (runs int, res BackfillProgress, err error) {
	t.Helper()
	for runs = 1; runs < 100; runs++ {
		env := newEnv(t, f)
		if prepare != nil {
			prepare(env)
		}
		env.ExecuteWorkflow(WorkflowBackfill, in)
		if !env.IsWorkflowCompleted() {
			t.Fatal("backfill run did not complete")
		}
		werr := env.GetWorkflowError()
		var can *workflow.ContinueAsNewError
		if errors.As(werr, &can) {
			if can.WorkflowType.Name != WorkflowBackfill {
				t.Fatalf("continued as %s", can.WorkflowType.Name)
			}
			in = BackfillInput{}
			if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &in); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if werr == nil {
			if err := env.GetWorkflowResult(&res); err != nil {
				t.Fatal(err)
			}
		}
		return runs, res, werr
	}
	t.Fatal("backfill never finished")
	return
}

func TestBackfillExportsEveryWindowOnceAcrossContinueAsNew(t *testing.T) {
	from := mustTime(t, "2026-11-24T00:00:00Z")
	to := mustTime(t, "2026-11-24T02:30:00Z") // 10 windows of 15m
	tests := []struct {
		name     string
		pageSize int
		wantRuns int
	}{
		{"one run when the range fits a page", 50, 1},
		{"continues as new every 4 children", 4, 3},
		{"page size of one", 1, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeExporter{}
			runs, res, err := runBackfill(t, f, BackfillInput{From: from, To: to, Granularity: GranularityDaily, Window: 15 * time.Minute, Concurrency: 3, PageSize: tt.pageSize}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if runs != tt.wantRuns {
				t.Errorf("runs = %d, want %d", runs, tt.wantRuns)
			}
			if res.Total != 10 || res.Done != 10 || res.Failed != 0 {
				t.Errorf("result = %+v, want 10/10 done", res)
			}
			got := f.exportedWindows()
			want := GridWindows(from, to, 15*time.Minute)
			slices.SortFunc(got, func(a, b Window) int { return a.Start.Compare(b.Start) })
			if !slices.EqualFunc(got, want, func(a, b Window) bool { return a.Start.Equal(b.Start) && a.End.Equal(b.End) }) {
				t.Fatalf("exported %v\nwant %v", got, want)
			}
		})
	}
}

func TestBackfillBoundsChildrenInFlight(t *testing.T) {
	for _, concurrency := range []int{1, 3, 5} {
		t.Run(fmt.Sprintf("concurrency %d", concurrency), func(t *testing.T) {
			f := &fakeExporter{}
			inFlight, maxInFlight := 0, 0
			_, res, err := runBackfill(t, f, BackfillInput{
				From: mustTime(t, "2026-11-24T00:00:00Z"), To: mustTime(t, "2026-11-24T03:00:00Z"),
				Granularity: GranularityDaily, Window: 15 * time.Minute, Concurrency: concurrency,
			}, func(env *testsuite.TestWorkflowEnvironment) {
				// Windows take a (test clock) minute, so children overlap as much as allowed.
				env.OnActivity(ActivityExportWindow, mockAny, mockAny).Return(ExportResult{Rows: 1}, nil).After(time.Minute)
				env.SetOnChildWorkflowStartedListener(func(*workflow.Info, workflow.Context, converter.EncodedValues) {
					inFlight++
					maxInFlight = max(maxInFlight, inFlight)
				})
				env.SetOnChildWorkflowCompletedListener(func(*workflow.Info, converter.EncodedValue, error) { inFlight-- })
			})
			if err != nil || res.Done != 12 {
				t.Fatalf("result %+v, err %v", res, err)
			}
			if maxInFlight != concurrency {
				t.Fatalf("max children in flight = %d, want %d", maxInFlight, concurrency)
			}
		})
	}
}

func TestBackfillProgressQueryReportsDoneTotalAndCurrent(t *testing.T) {
	f := &fakeExporter{}
	env := newEnv(t, f)
	// Each window takes one (test clock) minute, so at 90s two of 6 windows are done with
	// concurrency 2.
	env.OnActivity(ActivityExportWindow, mockAny, mockAny).Return(ExportResult{Rows: 1}, nil).After(time.Minute)
	var mid BackfillProgress
	var qerr error
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(ProgressQuery)
		if err != nil {
			qerr = err
			return
		}
		qerr = v.Get(&mid)
	}, 90*time.Second)
	from := mustTime(t, "2026-11-24T00:00:00Z")
	env.ExecuteWorkflow(WorkflowBackfill, BackfillInput{From: from, To: from.Add(90 * time.Minute), Granularity: GranularityDaily, Window: 15 * time.Minute, Concurrency: 2})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if qerr != nil {
		t.Fatal(qerr)
	}
	if mid.Total != 6 || mid.Done != 2 || mid.Failed != 0 || len(mid.Running) != 2 {
		t.Fatalf("progress at 90s = %+v, want total 6, done 2, 2 running", mid)
	}
	wantCurrent := ExportWindowID(Window{Start: from.Add(45 * time.Minute), End: from.Add(60 * time.Minute)})
	if mid.Current != wantCurrent {
		t.Fatalf("current = %q, want %q", mid.Current, wantCurrent)
	}
	var final BackfillProgress
	if err := env.GetWorkflowResult(&final); err != nil || final.Done != 6 {
		t.Fatalf("final %+v, %v", final, err)
	}
}

func TestBackfillFinishesOtherWindowsThenFailsListingTheBrokenOne(t *testing.T) {
	from := mustTime(t, "2026-11-24T00:00:00Z")
	bad := Window{Start: from.Add(15 * time.Minute), End: from.Add(30 * time.Minute)}
	f := &fakeExporter{failures: map[string][]error{bad.String(): {temporal.NewNonRetryableApplicationError("key hmac-9 missing", ErrTypeKey, nil)}}}
	_, _, err := runBackfill(t, f, BackfillInput{From: from, To: from.Add(time.Hour), Granularity: GranularityDaily, Window: 15 * time.Minute, PageSize: 2}, nil)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != "BackfillIncomplete" {
		t.Fatalf("error = %v, want BackfillIncomplete", err)
	}
	var p BackfillProgress
	if derr := appErr.Details(&p); derr != nil {
		t.Fatal(derr)
	}
	if p.Done != 3 || p.Failed != 1 || len(p.Failures) != 1 {
		t.Fatalf("progress = %+v, want 3 done, 1 failed", p)
	}
	if n := len(f.exportedWindows()); n != 4 {
		t.Fatalf("activity calls = %d, want 4 (no retry of the non-retryable one)", n)
	}
}

func TestBackfillWeeklyCompactsEveryISOWeekOfTheRange(t *testing.T) {
	f := &fakeExporter{}
	_, res, err := runBackfill(t, f, BackfillInput{
		From: mustTime(t, "2026-11-18T00:00:00Z"), To: mustTime(t, "2026-12-07T00:00:00Z"),
		Granularity: GranularityWeekly, Timezone: "UTC",
	}, nil)
	if err != nil || res.Done != 3 {
		t.Fatalf("result %+v, err %v", res, err)
	}
	var got []string
	for _, w := range f.weeks {
		got = append(got, WeekLabel(w.Week)+" until "+w.UpTo.UTC().Format(time.RFC3339))
	}
	slices.Sort(got)
	want := []string{"2026-W47 until 2026-11-23T00:00:00Z", "2026-W48 until 2026-11-30T00:00:00Z", "2026-W49 until 2026-12-07T00:00:00Z"}
	if !slices.Equal(got, want) {
		t.Fatalf("weeks %v, want %v", got, want)
	}
}

func TestBackfillRejectsBadInput(t *testing.T) {
	from := mustTime(t, "2026-11-24T00:00:00Z")
	for name, in := range map[string]BackfillInput{
		"reversed range":      {From: from, To: from.Add(-time.Hour), Granularity: GranularityDaily, Window: time.Minute},
		"unknown granularity": {From: from, To: from.Add(time.Hour), Granularity: "hourly", Window: time.Minute},
		"unknown time zone":   {From: from, To: from.Add(time.Hour), Granularity: GranularityWeekly, Timezone: "Mars/Olympus"},
	} {
		t.Run(name, func(t *testing.T) {
			f := &fakeExporter{}
			env := newEnv(t, f)
			env.ExecuteWorkflow(WorkflowBackfill, in)
			var appErr *temporal.ApplicationError
			if err := env.GetWorkflowError(); !errors.As(err, &appErr) || appErr.Type() != ErrTypeBadInput {
				t.Fatalf("error = %v, want %s", err, ErrTypeBadInput)
			}
		})
	}
}

// twoStarts is a test-only parent that starts the same window twice at once: one via a
// scheduled export (nominal time set on the child) and once via a backfill over it and the next
// window. The window's single id must let only one of them export it.
func twoStarts(ctx workflow.Context, nominal time.Time) ([]ExportResult, error) {
	sctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            "scheduled-1",
		TypedSearchAttributes: temporal.NewSearchAttributes(ScheduledStartTimeKey.ValueSet(nominal)),
	})
	s2ctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            "scheduled-2",
		TypedSearchAttributes: temporal.NewSearchAttributes(ScheduledStartTimeKey.ValueSet(nominal)),
	})
	in := ScheduledExportInput{Window: 15 * time.Minute, SafetyLag: time.Minute}
	f1 := workflow.ExecuteChildWorkflow(sctx, WorkflowScheduledExport, in)
	f2 := workflow.ExecuteChildWorkflow(s2ctx, WorkflowScheduledExport, in)
	var r1, r2 ExportResult
	if err := f1.Get(ctx, &r1); err != nil {
		return nil, err
	}
	if err := f2.Get(ctx, &r2); err != nil {
		return nil, err
	}
	return []ExportResult{r1, r2}, nil
}

func TestDuplicateStartOfAWindowExportsItOnce(t *testing.T) {
	f := &fakeExporter{}
	env := newEnv(t, f)
	env.RegisterWorkflow(twoStarts)
	env.OnActivity(ActivityExportWindow, mockAny, mockAny).Return(ExportResult{Rows: 5}, nil).After(time.Minute)
	nominal := mustTime(t, "2026-11-24T10:16:00Z")
	env.ExecuteWorkflow(twoStarts, nominal)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res []ExportResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	exported, already := 0, 0
	for _, r := range res {
		if r.AlreadyRunning {
			already++
		} else if r.Rows == 5 {
			exported++
		}
	}
	if exported != 1 || already != 1 {
		t.Fatalf("results %+v: want one export and one already-running", res)
	}
	env.AssertNumberOfCalls(t, ActivityExportWindow, 1)
}

// windowThenBackfill starts a slow export of one window and, while it runs, a backfill over
// that window and the next: the backfill must wait for the running export instead of starting
// the window again.
func windowThenBackfill(ctx workflow.Context, w Window) (BackfillProgress, error) {
	first := workflow.ExecuteChildWorkflow(workflow.WithChildOptions(ctx, windowChildOptions(w)), WorkflowExportWindow, ExportWindowInput{Window: w})
	if err := first.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		return BackfillProgress{}, err
	}
	var p BackfillProgress
	err := workflow.ExecuteChildWorkflow(workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: "backfill"}), WorkflowBackfill,
		BackfillInput{From: w.Start, To: w.End.Add(w.End.Sub(w.Start)), Granularity: GranularityDaily, Window: w.End.Sub(w.Start)}).Get(ctx, &p)
	if err != nil {
		return p, err
	}
	return p, first.Get(ctx, nil)
}

func TestBackfillAwaitsAWindowThatIsAlreadyBeingExported(t *testing.T) {
	f := &fakeExporter{}
	env := newEnv(t, f)
	env.RegisterWorkflow(windowThenBackfill)
	var mu sync.Mutex
	calls := map[string]int{}
	env.OnActivity(ActivityExportWindow, mockAny, mockAny).Return(func(_ context.Context, in ExportWindowInput) (ExportResult, error) {
		mu.Lock()
		defer mu.Unlock()
		calls[in.Window.String()]++
		return ExportResult{Rows: 1}, nil
	}).After(10 * time.Minute)
	w := Window{Start: mustTime(t, "2026-11-24T10:00:00Z"), End: mustTime(t, "2026-11-24T10:15:00Z")}
	env.ExecuteWorkflow(windowThenBackfill, w)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var p BackfillProgress
	if err := env.GetWorkflowResult(&p); err != nil || p.Done != 2 {
		t.Fatalf("backfill %+v, %v; want 2 done", p, err)
	}
	next := Window{Start: w.End, End: w.End.Add(15 * time.Minute)}
	if calls[w.String()] != 1 || calls[next.String()] != 1 || len(calls) != 2 {
		t.Fatalf("activity calls per window: %v, want one each", calls)
	}
	if !slices.Equal(f.awaited, []string{ExportWindowID(w)}) {
		t.Fatalf("awaited %v, want [%s]", f.awaited, ExportWindowID(w))
	}
}

func TestVerifyRepairsMismatchedWindowsThroughTheirOwnWorkflow(t *testing.T) {
	f := &fakeExporter{}
	env := newEnv(t, f)
	bad := []Window{
		{Start: mustTime(t, "2026-11-24T09:00:00Z"), End: mustTime(t, "2026-11-24T09:15:00Z")},
		{Start: mustTime(t, "2026-11-24T09:30:00Z"), End: mustTime(t, "2026-11-24T09:45:00Z")},
	}
	var verified []VerifyInput
	env.RegisterActivityWithOptions(func(_ context.Context, in VerifyInput) (VerifyResult, error) {
		verified = append(verified, in)
		return VerifyResult{Windows: 96, Mismatched: bad}, nil
	}, activity.RegisterOptions{Name: ActivityVerify})
	if err := env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(ScheduledStartTimeKey.ValueSet(mustTime(t, "2026-11-24T12:00:00Z")))); err != nil {
		t.Fatal(err)
	}
	env.ExecuteWorkflow(WorkflowVerify, VerifyWorkflowInput{Lookback: 24 * time.Hour, Window: 15 * time.Minute, SafetyLag: time.Minute, Repair: true})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var rep VerifyReport
	if err := env.GetWorkflowResult(&rep); err != nil {
		t.Fatal(err)
	}
	wantTo := mustTime(t, "2026-11-24T11:45:00Z")
	if len(verified) != 1 || !verified[0].To.Equal(wantTo) || !verified[0].From.Equal(wantTo.Add(-24*time.Hour)) {
		t.Fatalf("verified %+v, want the 24h before %s", verified, wantTo)
	}
	if rep.Repaired != 2 {
		t.Fatalf("repaired %d, want 2", rep.Repaired)
	}
	got := f.exportedWindows()
	if len(got) != 2 || !got[0].Start.Equal(bad[0].Start) || !got[1].Start.Equal(bad[1].Start) {
		t.Fatalf("re-exported %v, want %v", got, bad)
	}
}

func TestBotWorkflowsCountOutcomes(t *testing.T) {
	env := quietSuite().NewTestWorkflowEnvironment()
	Register(env)
	var mu sync.Mutex
	n := 0
	env.RegisterActivityWithOptions(func(context.Context) (BotSessionResult, error) {
		mu.Lock()
		defer mu.Unlock()
		n++
		switch n % 3 {
		case 0:
			return BotSessionResult{Skipped: true}, nil
		case 1:
			return BotSessionResult{Bot: n, Actions: 5}, nil
		default:
			return BotSessionResult{}, temporal.NewNonRetryableApplicationError("api said 400", ErrTypeBadInput, nil)
		}
	}, activity.RegisterOptions{Name: ActivityBotSession})
	env.ExecuteWorkflow(WorkflowBotActivity, BotsInput{N: 6})
	var res BotsResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res != (BotsResult{Succeeded: 2, Skipped: 2, Failed: 2, Actions: 10}) {
		t.Fatalf("result %+v", res)
	}
}
