package workflows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/logetl/logetl/internal/partition"
)

// fake stands in for the activities: the test decides what each call returns and the fake
// records every call it gets.
type fake struct {
	mu       sync.Mutex
	exports  []ExportWindowInput
	weeks    []CompactWeekInput
	awaited  []string
	covered  []CoverInput
	plans    []PlanInput
	purged   []PurgeWindowInput
	failures map[string][]error // per window: errors returned by the first attempts
	// rows are the windows with rows the planner knows, in order.
	rows []partition.Window
	// compactRepair is returned by the first compaction calls, in order.
	compactRepair [][]partition.Window
	// purgeVerdicts by window: "refused" etc.; default purged.
	purgeVerdicts map[string]string
	// lifecycle records the lifecycle calls; lifecyclePages is how many answer More.
	lifecycle      []RemoveDailiesInput
	lifecyclePages int
}

func (f *fake) removeDailies(_ context.Context, in RemoveDailiesInput) (RemoveDailiesResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lifecycle = append(f.lifecycle, in)
	return RemoveDailiesResult{Weeks: 1, Removed: 7, Bytes: 70, More: len(f.lifecycle) < f.lifecyclePages, Skipped: []string{"week x: kept"}}, nil
}

func (f *fake) exportWindow(_ context.Context, in ExportWindowInput) (ExportResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.exports = append(f.exports, in)
	if errs := f.failures[in.Window.String()]; len(errs) > 0 {
		f.failures[in.Window.String()] = errs[1:]
		return ExportResult{}, errs[0]
	}
	return ExportResult{Rows: 10, Bytes: 100, Files: []FileResult{{Key: "k/" + in.Window.String(), Rows: 10, Bytes: 100}}}, nil
}

func (f *fake) compactWeek(_ context.Context, in CompactWeekInput) (CompactResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.weeks = append(f.weeks, in)
	if len(f.compactRepair) > 0 {
		r := f.compactRepair[0]
		f.compactRepair = f.compactRepair[1:]
		if len(r) > 0 {
			return CompactResult{Repair: r, RepairCount: int64(len(r))}, nil
		}
	}
	return CompactResult{ExportResult: ExportResult{Rows: 70}, Compacted: true}, nil
}

func (f *fake) closedWeek(_ context.Context, in ClosedWeekInput) (ClosedWeek, error) {
	// The fake's table is in UTC with Monday weeks; the real activity uses the table's zone.
	end := in.Nominal.Add(-in.SafetyLag)
	g, _ := partition.NewGrid(time.Minute, time.UTC)
	w := g.WeekOf(end)
	ws, _, _ := g.WeekRange(w)
	if in.ToDate {
		return ClosedWeek{Week: w, UpTo: partition.Floor(end, time.Minute)}, nil
	}
	prev := g.WeekOf(ws.Add(-time.Hour))
	return ClosedWeek{Week: prev, UpTo: ws}, nil
}

func (f *fake) plan(_ context.Context, in PlanInput) (PlanResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.plans = append(f.plans, in)
	res := PlanResult{Next: in.To}
	for _, w := range f.rows {
		if w.Start.Before(in.From) || !w.Start.Before(in.To) {
			continue
		}
		if len(res.Windows) == in.Limit {
			res.Next = w.Start
			break
		}
		res.Windows = append(res.Windows, w)
	}
	return res, nil
}

func (f *fake) cover(_ context.Context, in CoverInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.covered = append(f.covered, in)
	return nil
}

func (f *fake) purgeWindow(_ context.Context, in PurgeWindowInput) (PurgeResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.purged = append(f.purged, in)
	v := f.purgeVerdicts[in.Window.String()]
	if v == "" {
		v = "purged"
	}
	r := PurgeResult{Window: in.Window, Verdict: v, Deleted: 3}
	if v == "refused" {
		r.Deleted, r.Reason = 0, "mysql 3 rows, manifest 2"
	}
	return r, nil
}

func (f *fake) awaitWorkflow(_ context.Context, in AwaitWorkflowInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.awaited = append(f.awaited, in.WorkflowID)
	return nil
}

func (f *fake) exported() []partition.Window {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []partition.Window
	for _, in := range f.exports {
		out = append(out, in.Window)
	}
	return out
}

// quietSuite silences the SDK's logs: the tests provoke failures on purpose.
func quietSuite() *testsuite.WorkflowTestSuite {
	s := &testsuite.WorkflowTestSuite{}
	s.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError + 4}))))
	return s
}

func newEnv(t *testing.T, f *fake) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	env := quietSuite().NewTestWorkflowEnvironment()
	Register(env)
	for name, fn := range map[string]any{
		ActivityExportWindow: f.exportWindow, ActivityCompactWeek: f.compactWeek, ActivityClosedWeek: f.closedWeek,
		ActivityPlanBackfill: f.plan, ActivityPlanPurge: f.plan, ActivityCoverRange: f.cover,
		ActivityPurgeWindow: f.purgeWindow, ActivityAwaitWorkflow: f.awaitWorkflow, ActivityRemoveDailies: f.removeDailies,
	} {
		env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
	return env
}

// hasErrType tells whether any ApplicationError in err's chain has type typ.
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

func windows(from time.Time, n int, step time.Duration) []partition.Window {
	out := make([]partition.Window, n)
	for i := range out {
		s := from.Add(time.Duration(i) * step)
		out[i] = partition.Window{Start: s, End: s.Add(step)}
	}
	return out
}

func TestExportWindowRetryPolicy(t *testing.T) {
	w := partition.Window{Start: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 24, 10, 15, 0, 0, time.UTC)}
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
			f := &fake{failures: map[string][]error{w.String(): tt.errs}}
			env := newEnv(t, f)
			env.ExecuteWorkflow(WorkflowExportWindow, ExportWindowInput{Table: "audit", Window: w})
			if !env.IsWorkflowCompleted() {
				t.Fatal("workflow did not complete")
			}
			if got := len(f.exported()); got != tt.wantAttempts {
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
				if f.exports[0].Table != "audit" {
					t.Fatalf("activity got table %q", f.exports[0].Table)
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
	f := &fake{}
	env := newEnv(t, f)
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	env.ExecuteWorkflow(WorkflowExportWindow, ExportWindowInput{Window: partition.Window{Start: at, End: at}})
	if err := env.GetWorkflowError(); !hasErrType(err, ErrTypeBadInput) {
		t.Fatalf("error = %v, want %s", err, ErrTypeBadInput)
	}
	if n := len(f.exported()); n != 0 {
		t.Fatalf("activity called %d times", n)
	}
}

func TestAnInputWithoutTableIsTheBuiltinTable(t *testing.T) {
	f := &fake{}
	env := newEnv(t, f)
	w := windows(mustTime(t, "2026-11-24T10:00:00Z"), 1, 15*time.Minute)[0]
	env.ExecuteWorkflow(WorkflowExportWindow, ExportWindowInput{Window: w})
	if err := env.GetWorkflowError(); err != nil || f.exports[0].Table != DefaultTable {
		t.Fatalf("%v, table %q", err, f.exports[0].Table)
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
			f := &fake{}
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
			env.ExecuteWorkflow(WorkflowScheduledExport, ScheduledExportInput{Table: "audit", Window: tt.window, SafetyLag: tt.lag})
			if err := env.GetWorkflowError(); err != nil {
				t.Fatal(err)
			}
			want := partition.Window{Start: mustTime(t, tt.wantStart), End: mustTime(t, tt.wantEnd)}
			got := f.exported()
			if len(got) != 1 || got[0] != want || f.exports[0].Reason != ReasonSchedule {
				t.Fatalf("exported %v (%+v), want [%s]", got, f.exports, want)
			}
			wantID := "export/audit/daily/" + tt.wantStart + "/" + tt.wantEnd
			if len(childIDs) != 1 || childIDs[0] != wantID {
				t.Fatalf("child ids %v, want [%s]", childIDs, wantID)
			}
		})
	}
}

func TestScheduledCompactWeekCompactsTheWeekItsActivityNames(t *testing.T) {
	f := &fake{}
	env := newEnv(t, f)
	if err := env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(ScheduledStartTimeKey.ValueSet(mustTime(t, "2026-11-30T00:10:00Z")))); err != nil {
		t.Fatal(err)
	}
	var childIDs []string
	env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, _ converter.EncodedValues) {
		childIDs = append(childIDs, info.WorkflowExecution.ID)
	})
	env.ExecuteWorkflow(WorkflowScheduledCompactWeek, ScheduledCompactInput{Table: "audit", SafetyLag: time.Minute})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if len(f.weeks) != 1 || f.weeks[0].Week.String() != "2026-W48" || !f.weeks[0].UpTo.Equal(mustTime(t, "2026-11-30T00:00:00Z")) {
		t.Fatalf("compacted %+v, want 2026-W48 up to Monday", f.weeks)
	}
	if len(childIDs) != 1 || childIDs[0] != "compact/audit/weekly/2026-W48" {
		t.Fatalf("child ids %v", childIDs)
	}
}

// After the compaction, the run's lifecycle calls go on while a page says more weeks are left,
// and its result sums them up.
func TestScheduledCompactWeekRunsTheLifecycleUntilNoWeekIsLeft(t *testing.T) {
	f := &fake{lifecyclePages: 3}
	env := newEnv(t, f)
	nominal := mustTime(t, "2026-11-30T00:10:00Z")
	if err := env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(ScheduledStartTimeKey.ValueSet(nominal))); err != nil {
		t.Fatal(err)
	}
	env.ExecuteWorkflow(WorkflowScheduledCompactWeek, ScheduledCompactInput{Table: "audit", SafetyLag: time.Minute})
	var res CompactResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if len(f.lifecycle) != 3 || f.lifecycle[0].Table != "audit" || !f.lifecycle[0].Nominal.Equal(nominal) {
		t.Fatalf("lifecycle calls %+v, want 3 for audit at %s", f.lifecycle, nominal)
	}
	if lc := res.Lifecycle; lc == nil || lc.Removed != 21 || lc.Bytes != 210 || lc.Weeks != 3 || len(lc.Skipped) != 3 || lc.More {
		t.Fatalf("lifecycle result %+v", res.Lifecycle)
	}
}

// A compaction that finds windows whose daily files do not hold MySQL's rows repairs them
// through their own ExportWindow runs, then compacts.
func TestCompactWeekRepairsItsGapsThenCompacts(t *testing.T) {
	gap := windows(mustTime(t, "2026-11-24T10:00:00Z"), 3, time.Minute)
	f := &fake{compactRepair: [][]partition.Window{gap}}
	env := newEnv(t, f)
	var childIDs []string
	env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, _ converter.EncodedValues) {
		childIDs = append(childIDs, info.WorkflowExecution.ID)
	})
	env.ExecuteWorkflow(WorkflowCompactWeek, CompactWeekInput{Table: "audit", Week: partition.Week{Year: 2026, Week: 48}, UpTo: mustTime(t, "2026-11-30T00:00:00Z")})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res CompactResult
	if err := env.GetWorkflowResult(&res); err != nil || !res.Compacted {
		t.Fatalf("result %+v %v", res, err)
	}
	got := f.exported()
	slices.SortFunc(got, func(a, b partition.Window) int { return a.Start.Compare(b.Start) })
	if !slices.Equal(got, gap) || f.exports[0].Reason != ReasonCompaction {
		t.Fatalf("repaired %v, want %v", got, gap)
	}
	// The repairs run side by side: their children start in any order.
	slices.Sort(childIDs)
	want := []string{ExportWindowID("audit", gap[0]), ExportWindowID("audit", gap[1]), ExportWindowID("audit", gap[2])}
	if len(f.weeks) != 2 || !slices.Equal(childIDs, want) {
		t.Fatalf("compactions %d, children %v, want %v", len(f.weeks), childIDs, want)
	}
}

func TestCompactWeekFailsWithTheReasonWhenRepairCannotFix(t *testing.T) {
	gap := windows(mustTime(t, "2026-11-24T10:00:00Z"), 1, time.Minute)
	t.Run("a repair that fails for good", func(t *testing.T) {
		f := &fake{compactRepair: [][]partition.Window{gap}, failures: map[string][]error{gap[0].String(): {
			temporal.NewNonRetryableApplicationError("column amount is bigint in MySQL but int in the spec", ErrTypeConfig, nil)}}}
		env := newEnv(t, f)
		env.ExecuteWorkflow(WorkflowCompactWeek, CompactWeekInput{Table: "audit", Week: partition.Week{Year: 2026, Week: 48}, UpTo: mustTime(t, "2026-11-30T00:00:00Z")})
		err := env.GetWorkflowError()
		if !hasErrType(err, "CompactionIncomplete") || !errorContains(err, "column amount is bigint") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("windows that stay wrong", func(t *testing.T) {
		rounds := make([][]partition.Window, maxRepairRounds+1)
		for i := range rounds {
			rounds[i] = gap
		}
		f := &fake{compactRepair: rounds}
		env := newEnv(t, f)
		env.ExecuteWorkflow(WorkflowCompactWeek, CompactWeekInput{Table: "audit", Week: partition.Week{Year: 2026, Week: 48}, UpTo: mustTime(t, "2026-11-30T00:00:00Z")})
		if err := env.GetWorkflowError(); !hasErrType(err, "CompactionIncomplete") || !errorContains(err, gap[0].String()) {
			t.Fatalf("error %v", err)
		}
	})
}

func errorContains(err error, s string) bool { return err != nil && strings.Contains(err.Error(), s) }

// runChain runs a workflow and follows its continue-as-new chain like the server would,
// returning the number of runs and the last run's error.
func runChain[I any](t *testing.T, f *fake, name string, in I, prepare func(*testsuite.TestWorkflowEnvironment), result any) (int, error) {
	t.Helper()
	for runs := 1; runs < 1000; runs++ {
		env := newEnv(t, f)
		if prepare != nil {
			prepare(env)
		}
		env.ExecuteWorkflow(name, in)
		if !env.IsWorkflowCompleted() {
			t.Fatal("run did not complete")
		}
		werr := env.GetWorkflowError()
		var can *workflow.ContinueAsNewError
		if errors.As(werr, &can) {
			var next I
			if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
				t.Fatal(err)
			}
			in = next
			continue
		}
		if werr == nil && result != nil {
			if err := env.GetWorkflowResult(result); err != nil {
				t.Fatal(err)
			}
		}
		return runs, werr
	}
	t.Fatal("never finished")
	return 0, nil
}

func TestBackfillPlansLazilyExportsEachWindowOnceAndProvesTheRange(t *testing.T) {
	from := mustTime(t, "1970-01-01T00:00:00Z")
	to := mustTime(t, "2026-11-25T00:00:00Z") // 56 years of one-minute windows
	rows := append(windows(mustTime(t, "2026-11-24T10:00:00Z"), 7, time.Minute), windows(mustTime(t, "2026-11-24T20:00:00Z"), 3, time.Minute)...)
	for _, page := range []int{3, 200} {
		t.Run(fmt.Sprintf("pages of %d", page), func(t *testing.T) {
			f := &fake{rows: rows}
			var res BackfillProgress
			runs, err := runChain(t, f, WorkflowBackfill, BackfillInput{Table: "audit", From: from, To: to, Granularity: partition.Daily, PageSize: page}, nil, &res)
			if err != nil {
				t.Fatal(err)
			}
			if want := (len(rows) + page - 1) / page; runs != max(want, 1) && runs != want+1 {
				t.Errorf("%d runs for %d windows in pages of %d", runs, len(rows), page)
			}
			got := f.exported()
			slices.SortFunc(got, func(a, b partition.Window) int { return a.Start.Compare(b.Start) })
			if !slices.Equal(got, rows) || res.Done != len(rows) || res.Failed != 0 || !res.Cursor.Equal(to) {
				t.Fatalf("exported %v, result %+v", got, res)
			}
			// The coverage records, page after page, the whole range.
			cur := from
			for _, c := range f.covered {
				if !c.From.Equal(cur) || len(c.Failed) != 0 {
					t.Fatalf("coverage %+v does not continue from %s", c, cur)
				}
				cur = c.To
			}
			if !cur.Equal(to) {
				t.Fatalf("coverage ends at %s, want %s", cur, to)
			}
		})
	}
}

func TestBackfillBoundsChildrenInFlight(t *testing.T) {
	for _, concurrency := range []int{1, 3, 5} {
		t.Run(fmt.Sprintf("concurrency %d", concurrency), func(t *testing.T) {
			f := &fake{rows: windows(mustTime(t, "2026-11-24T00:00:00Z"), 12, 15*time.Minute)}
			inFlight, maxInFlight := 0, 0
			var res BackfillProgress
			_, err := runChain(t, f, WorkflowBackfill, BackfillInput{
				Table: "audit", From: mustTime(t, "2026-11-24T00:00:00Z"), To: mustTime(t, "2026-11-24T03:00:00Z"),
				Granularity: partition.Daily, Concurrency: concurrency,
			}, func(env *testsuite.TestWorkflowEnvironment) {
				// Windows take a (test clock) minute, so children overlap as much as allowed.
				env.OnActivity(ActivityExportWindow, mock.Anything, mock.Anything).Return(ExportResult{Rows: 1}, nil).After(time.Minute)
				env.SetOnChildWorkflowStartedListener(func(*workflow.Info, workflow.Context, converter.EncodedValues) {
					inFlight++
					maxInFlight = max(maxInFlight, inFlight)
				})
				env.SetOnChildWorkflowCompletedListener(func(*workflow.Info, converter.EncodedValue, error) { inFlight-- })
			}, &res)
			if err != nil || res.Done != 12 {
				t.Fatalf("result %+v, err %v", res, err)
			}
			if maxInFlight != concurrency {
				t.Fatalf("max children in flight = %d, want %d", maxInFlight, concurrency)
			}
		})
	}
}

func TestBackfillProgressQueryReportsDoneRunningAndCursor(t *testing.T) {
	from := mustTime(t, "2026-11-24T00:00:00Z")
	f := &fake{rows: windows(from, 6, 15*time.Minute)}
	env := newEnv(t, f)
	// Each window takes one (test clock) minute, so at 90s two of 6 windows are done with
	// concurrency 2.
	env.OnActivity(ActivityExportWindow, mock.Anything, mock.Anything).Return(ExportResult{Rows: 1}, nil).After(time.Minute)
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
	env.ExecuteWorkflow(WorkflowBackfill, BackfillInput{Table: "audit", From: from, To: from.Add(90 * time.Minute), Granularity: partition.Daily, Concurrency: 2})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if qerr != nil {
		t.Fatal(qerr)
	}
	if mid.Done != 2 || mid.Failed != 0 || len(mid.Running) != 2 || !mid.Cursor.Equal(from) {
		t.Fatalf("progress at 90s = %+v, want 2 done, 2 running", mid)
	}
	if want := ExportWindowID("audit", f.rows[3]); mid.Current != want {
		t.Fatalf("current = %q, want %q", mid.Current, want)
	}
}

func TestBackfillFinishesOtherWindowsThenFailsListingTheBrokenOneUnproven(t *testing.T) {
	from := mustTime(t, "2026-11-24T00:00:00Z")
	rows := windows(from, 4, 15*time.Minute)
	f := &fake{rows: rows, failures: map[string][]error{rows[1].String(): {temporal.NewNonRetryableApplicationError("key hmac-9 missing", ErrTypeKey, nil)}}}
	_, err := runChain(t, f, WorkflowBackfill, BackfillInput{Table: "audit", From: from, To: from.Add(time.Hour), Granularity: partition.Daily, PageSize: 2}, nil, nil)
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
	if n := len(f.exported()); n != 4 {
		t.Fatalf("activity calls = %d, want 4 (no retry of the non-retryable one)", n)
	}
	if len(f.covered) == 0 || len(f.covered[0].Failed) != 1 || f.covered[0].Failed[0] != rows[1] {
		t.Fatalf("coverage %+v: the failed window must stay unproven", f.covered)
	}
}

func TestBackfillRejectsBadInput(t *testing.T) {
	from := mustTime(t, "2026-11-24T00:00:00Z")
	for name, in := range map[string]BackfillInput{
		"reversed range":      {From: from, To: from.Add(-time.Hour), Granularity: partition.Daily},
		"unknown granularity": {From: from, To: from.Add(time.Hour), Granularity: "hourly"},
	} {
		t.Run(name, func(t *testing.T) {
			env := newEnv(t, &fake{})
			env.ExecuteWorkflow(WorkflowBackfill, in)
			if err := env.GetWorkflowError(); !hasErrType(err, ErrTypeBadInput) {
				t.Fatalf("error = %v, want %s", err, ErrTypeBadInput)
			}
		})
	}
}

// windowThenBackfill starts a slow export of one window and, while it runs, a backfill over
// that window and the next: the backfill must wait for the running export instead of starting
// the window again.
func windowThenBackfill(ctx workflow.Context, w partition.Window) (BackfillProgress, error) {
	first := workflow.ExecuteChildWorkflow(workflow.WithChildOptions(ctx, windowChildOptions("audit", w)), WorkflowExportWindow, ExportWindowInput{Table: "audit", Window: w})
	if err := first.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		return BackfillProgress{}, err
	}
	var p BackfillProgress
	err := workflow.ExecuteChildWorkflow(workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: "backfill"}), WorkflowBackfill,
		BackfillInput{Table: "audit", From: w.Start, To: w.End.Add(w.End.Sub(w.Start)), Granularity: partition.Daily}).Get(ctx, &p)
	if err != nil {
		return p, err
	}
	return p, first.Get(ctx, nil)
}

func TestBackfillAwaitsAWindowThatIsAlreadyBeingExported(t *testing.T) {
	w := windows(mustTime(t, "2026-11-24T10:00:00Z"), 2, 15*time.Minute)
	f := &fake{rows: w}
	env := newEnv(t, f)
	env.RegisterWorkflow(windowThenBackfill)
	var mu sync.Mutex
	calls := map[string]int{}
	env.OnActivity(ActivityExportWindow, mock.Anything, mock.Anything).Return(func(_ context.Context, in ExportWindowInput) (ExportResult, error) {
		mu.Lock()
		defer mu.Unlock()
		calls[in.Window.String()]++
		return ExportResult{Rows: 1}, nil
	}).After(10 * time.Minute)
	env.ExecuteWorkflow(windowThenBackfill, w[0])
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var p BackfillProgress
	if err := env.GetWorkflowResult(&p); err != nil || p.Done != 2 {
		t.Fatalf("backfill %+v, %v; want 2 done", p, err)
	}
	if calls[w[0].String()] != 1 || calls[w[1].String()] != 1 || len(calls) != 2 {
		t.Fatalf("activity calls per window: %v, want one each", calls)
	}
	if !slices.Equal(f.awaited, []string{ExportWindowID("audit", w[0])}) {
		t.Fatalf("awaited %v", f.awaited)
	}
}

func TestVerifyRepairsMismatchedWindowsThroughTheirOwnWorkflow(t *testing.T) {
	f := &fake{}
	env := newEnv(t, f)
	bad := []partition.Window{
		{Start: mustTime(t, "2026-11-24T09:00:00Z"), End: mustTime(t, "2026-11-24T09:15:00Z")},
		{Start: mustTime(t, "2026-11-24T09:30:00Z"), End: mustTime(t, "2026-11-24T09:45:00Z")},
	}
	var verified []VerifyInput
	env.RegisterActivityWithOptions(func(_ context.Context, in VerifyInput) (VerifyResult, error) {
		verified = append(verified, in)
		return VerifyResult{From: in.From, To: in.To, Windows: 96, Mismatched: bad, ProblemCount: 2}, nil
	}, activity.RegisterOptions{Name: ActivityVerify})
	if err := env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(ScheduledStartTimeKey.ValueSet(mustTime(t, "2026-11-24T12:00:00Z")))); err != nil {
		t.Fatal(err)
	}
	env.ExecuteWorkflow(WorkflowVerify, VerifyWorkflowInput{Table: "audit", Lookback: 24 * time.Hour, Window: 15 * time.Minute, SafetyLag: time.Minute, Repair: true, SinceUncompacted: true})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var rep VerifyReport
	if err := env.GetWorkflowResult(&rep); err != nil {
		t.Fatal(err)
	}
	wantTo := mustTime(t, "2026-11-24T11:45:00Z")
	if len(verified) != 1 || !verified[0].To.Equal(wantTo) || !verified[0].From.Equal(wantTo.Add(-24*time.Hour)) || !verified[0].SinceUncompacted {
		t.Fatalf("verified %+v, want the 24h before %s since the uncompacted weeks", verified, wantTo)
	}
	repaired := f.exported()
	slices.SortFunc(repaired, func(a, b partition.Window) int { return a.Start.Compare(b.Start) })
	if rep.Repaired != 2 || !slices.Equal(repaired, bad) || f.exports[0].Reason != ReasonVerify {
		t.Fatalf("repaired %d: %v", rep.Repaired, f.exports)
	}
}

func TestPurgeGoesWindowByWindowAndReportsRefusals(t *testing.T) {
	rows := windows(mustTime(t, "2026-11-20T10:00:00Z"), 5, time.Minute)
	f := &fake{rows: rows, purgeVerdicts: map[string]string{rows[2].String(): "refused"}}
	var res PurgeProgress
	runs, err := runChain(t, f, WorkflowPurge, PurgeInput{Table: "audit", Window: time.Minute, Before: mustTime(t, "2026-11-21T00:00:00Z"), PageSize: 2}, nil, &res)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != "PurgeRefused" || !errorContains(err, "mysql 3 rows, manifest 2") {
		t.Fatalf("error = %v, want PurgeRefused with the reason", err)
	}
	if err := appErr.Details(&res); err != nil {
		t.Fatal(err)
	}
	if runs != 3 || res.Windows != 5 || res.Purged != 4 || res.Refused != 1 || res.Deleted != 12 {
		t.Fatalf("%d runs, result %+v", runs, res)
	}
	if len(f.purged) != 5 || f.purged[0].Window != rows[0] {
		t.Fatalf("purged %+v", f.purged)
	}
}

// The schedule's run computes its cutoff from its nominal time and runs the table's one purge,
// under PurgeID.
func TestScheduledPurgeRunsThePurgeUnderTheTablesID(t *testing.T) {
	rows := windows(mustTime(t, "2026-11-20T10:00:00Z"), 3, time.Minute)
	f := &fake{rows: rows}
	env := newEnv(t, f)
	if err := env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(ScheduledStartTimeKey.ValueSet(mustTime(t, "2026-11-22T10:00:30Z")))); err != nil {
		t.Fatal(err)
	}
	var childIDs []string
	env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, _ converter.EncodedValues) {
		childIDs = append(childIDs, info.WorkflowExecution.ID)
	})
	env.ExecuteWorkflow(WorkflowScheduledPurge, PurgeInput{Table: "audit", Window: time.Minute, Retention: 24 * time.Hour})
	var res PurgeProgress
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if len(childIDs) != 1 || childIDs[0] != PurgeID("audit") {
		t.Fatalf("child ids %v, want [%s]", childIDs, PurgeID("audit"))
	}
	if want := mustTime(t, "2026-11-21T10:00:00Z"); !res.Before.Equal(want) || res.Purged != 3 {
		t.Fatalf("result %+v, want 3 windows purged before %s", res, want)
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
