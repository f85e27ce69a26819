//go:build integration

package export_test

import (
	"context"
	"testing"
	"time"

	"github.com/logetl/logetl/internal/export"
)

// Ten years of one-minute windows of a table whose rows are all from one day: the export jumps
// over the empty years, writes one object per window with rows plus the coverage, and verify
// proves every window of the ten years.
func TestTenYearsOfWindowsCostWhatTheirRowsCost(t *testing.T) {
	truncate(t)
	ctx := context.Background()
	e := newEnv(t, envOpts{window: time.Minute})
	day := ts("2026-11-24T10:00:00Z")
	for i := 0; i < 5; i++ {
		insert(t, row{at: day.Add(time.Duration(i*7) * time.Minute)})
	}
	from, to := ts("2016-11-24T00:00:00Z"), ts("2026-11-25T00:00:00Z")
	start := time.Now()
	res, err := e.exp.ExportRange(ctx, from, to, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Exported != 5 || res.Rows != 5 {
		t.Fatalf("exported %d windows, %d rows; want 5, 5", res.Exported, res.Rows)
	}
	objs := e.objects(t)
	if len(objs) != 5*2+2 { // a file and a manifest per window with rows, the descriptor, the coverage
		t.Fatalf("%d objects for 5 windows with rows: %v", len(objs), objs)
	}
	rep, err := e.exp.Verify(ctx, from, to, export.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Windows != int64(to.Sub(from)/time.Minute) || rep.Counts[export.StatusOK] != 5 || rep.Counts[export.StatusEmpty] != rep.Windows-5 {
		t.Fatalf("verify of ten years: %s (problems %d)", rep.Summary(), rep.ProblemCount)
	}
	t.Logf("export and verify of %d windows took %s: %s", rep.Windows, time.Since(start).Round(time.Millisecond), rep.Summary())
	// A range over the limit is refused with the limit named.
	if _, err := e.exp.ExportRange(ctx, from, to, 1000, nil); err == nil || !export.IsPermanent(err) {
		t.Fatalf("export over the limit = %v", err)
	}
}

func TestPlanPageSkipsEmptyStretchesAndStopsAtTheLimit(t *testing.T) {
	truncate(t)
	ctx := context.Background()
	e := newEnv(t, envOpts{window: time.Minute})
	base := ts("2026-11-24T10:00:00Z")
	for i := 0; i < 10; i++ {
		insert(t, row{at: base.Add(time.Duration(i) * time.Minute)})
	}
	from, to := ts("2000-01-01T00:00:00Z"), ts("2027-01-01T00:00:00Z")
	p, err := e.exp.PlanPage(ctx, from, to, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Windows) != 4 || !p.Windows[0].Start.Equal(base) || !p.Next.Equal(base.Add(4*time.Minute)) {
		t.Fatalf("page %+v", p)
	}
	p, _ = e.exp.PlanPage(ctx, base.Add(10*time.Minute), to, 4)
	if len(p.Windows) != 0 || !p.Next.Equal(to) {
		t.Fatalf("page after the last row %+v", p)
	}
}

// Rows of an existing database that a new lake never exported are found as gaps between the
// coverage's intervals, with their counts; once exported there are none.
func TestUnexportedFindsTheRowsTheLakeDoesNotHold(t *testing.T) {
	truncate(t)
	ctx := context.Background()
	e := newEnv(t, envOpts{window: time.Minute})
	base := ts("2026-11-24T10:00:00Z")
	for _, m := range []int{0, 1, 30, 31, 32, 90} {
		insert(t, row{at: base.Add(time.Duration(m)*time.Minute + time.Second)})
	}
	to := base.Add(2 * time.Hour)
	gaps, err := e.exp.Unexported(ctx, to)
	if err != nil || len(gaps) != 1 || !gaps[0].From.Equal(base) || !gaps[0].To.Equal(base.Add(91*time.Minute)) || gaps[0].Rows != 6 {
		t.Fatalf("an empty lake: %+v %v", gaps, err)
	}
	// Export the middle: two gaps remain, one on each side.
	if _, err := e.exp.ExportRange(ctx, base.Add(20*time.Minute), base.Add(60*time.Minute), 0, nil); err != nil {
		t.Fatal(err)
	}
	gaps, err = e.exp.Unexported(ctx, to)
	if err != nil || len(gaps) != 2 || gaps[0].Rows != 2 || !gaps[0].To.Equal(base.Add(2*time.Minute)) || gaps[1].Rows != 1 || !gaps[1].From.Equal(base.Add(90*time.Minute)) {
		t.Fatalf("after exporting the middle: %+v %v", gaps, err)
	}
	if _, err := e.exp.ExportRange(ctx, base, to, 0, nil); err != nil {
		t.Fatal(err)
	}
	if gaps, err := e.exp.Unexported(ctx, to); err != nil || len(gaps) != 0 {
		t.Fatalf("after exporting everything: %+v %v", gaps, err)
	}
}
