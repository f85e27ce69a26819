//go:build faults

package faults

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/logetl/logetl/internal/lake"
	"github.com/logetl/logetl/internal/manifest"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/synthetic"
	"github.com/logetl/logetl/workflows"
)

// TestGapsHealThemselves exports three hours of last week's windows, deletes the daily objects
// of several of them (some with their manifests, some without), as a lost or half-restored lake
// would leave them, far older than the verify schedule's lookback, and runs the compaction of
// that week: it finds the windows whose files do not hold MySQL's rows, re-exports each through
// its ExportWindow run, then compacts. The weekly file holds exactly MySQL's rows, id by id.
func TestGapsHealThemselves(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	began := time.Now()
	st := startStack(ctx, t)

	// Wednesday 09:00..12:00 of last week, in the table's zone: a closed week, whose
	// compaction is the one production runs on Monday.
	thisWeek, _, err := st.grid.WeekRange(st.grid.WeekOf(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	from := thisWeek.AddDate(0, 0, -5).Add(9 * time.Hour)
	to := from.Add(3 * time.Hour)
	week := st.grid.WeekOf(from)
	weekStart, weekEnd, err := st.grid.WeekRange(week)
	if err != nil {
		t.Fatal(err)
	}
	const perWindow = 20
	windows := int(to.Sub(from) / window)
	if _, err := synthetic.Load(ctx, st.db.DB, synthetic.Options{Rows: windows * perWindow, Seed: 18, Start: from, End: to}); err != nil {
		t.Fatal(err)
	}
	if out, err := st.cli(ctx, "backfill", "--from", rfc(from), "--to", rfc(to), "--wait"); err != nil || !strings.Contains(out, fmt.Sprintf("done %d, failed 0", windows)) {
		t.Fatalf("logetl backfill of %s..%s: %v\n%s", rfc(from), rfc(to), err, out)
	}
	st.verifyCLI(t, ctx, from, to)

	// The gaps: objects deleted from five windows; the first two lose their manifests too (no
	// trace but the coverage), the other three keep a manifest that points at nothing.
	var damaged []partition.Window
	for _, k := range []int{7, 50, 51, 120, 171} {
		w := st.grid.WindowAt(from.Add(time.Duration(k) * window))
		key := st.dailyKey(w)
		if err := st.store.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
		if len(damaged) < 2 {
			if err := st.store.Delete(ctx, lake.ManifestKey(key)); err != nil {
				t.Fatal(err)
			}
		}
		damaged = append(damaged, w)
	}
	if out, err := st.cli(ctx, "verify", "--from", rfc(from), "--to", rfc(to)); err == nil || !strings.Contains(out, "5 of ") {
		t.Errorf("logetl verify after deleting 5 windows' objects: %v, want 5 problem windows:\n%s", err, out)
	}
	before, err := st.metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	repairedBefore := counterValue(before["logetl_windows_repaired_total"], map[string]string{"table": table, "reason": workflows.ReasonCompaction})

	// The compaction of that week, as an operator (or Monday's schedule) starts it.
	compactStart := time.Now()
	if out, err := st.cli(ctx, "backfill", "--granularity", "weekly", "--from", rfc(weekStart), "--to", rfc(weekEnd), "--wait"); err != nil ||
		!strings.Contains(out, "done 1, failed 0") {
		t.Fatalf("logetl backfill --granularity weekly over %s: %v\n%s", week, err, out)
	}
	compactTook := time.Since(compactStart)

	// The compaction re-exported exactly the damaged windows, each through its own run.
	id := workflows.CompactWeekID(table, week)
	resp, err := st.tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: "WorkflowId = '" + id + "'"})
	if err != nil || len(resp.Executions) != 1 {
		t.Fatalf("runs of %s: %v, %v", id, resp, err)
	}
	h, err := st.history(ctx, id, resp.Executions[0].Execution.RunId)
	if err != nil {
		t.Fatal(err)
	}
	var children []string
	for _, e := range h {
		if a := e.GetStartChildWorkflowExecutionInitiatedEventAttributes(); a != nil {
			children = append(children, a.WorkflowId)
		}
	}
	var want []string
	for _, w := range damaged {
		want = append(want, workflows.ExportWindowID(table, w))
	}
	slices.Sort(children)
	slices.Sort(want)
	if !slices.Equal(children, want) {
		t.Errorf("the compaction of %s re-exported %v, want the damaged windows %v", week, children, want)
	}

	// Its operators see it: a WARN line per window, and the repairs counted by who found them.
	var logged int
	for _, w := range damaged {
		lines, err := logLines(st.worker.logPath, "level=WARN", `msg="window repaired"`, "window="+w.String(), "found_by="+workflows.ReasonCompaction)
		if err != nil {
			t.Fatal(err)
		}
		if len(lines) != 1 {
			t.Errorf("worker log: %d WARN \"window repaired\" lines for %s found by the compaction, want 1", len(lines), w)
		}
		logged += len(lines)
	}
	after, err := st.metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	repaired := counterValue(after["logetl_windows_repaired_total"], map[string]string{"table": table, "reason": workflows.ReasonCompaction}) - repairedBefore
	if repaired != float64(len(damaged)) {
		t.Errorf("logetl_windows_repaired_total{table=%q,reason=%q} grew by %g, want %d", table, workflows.ReasonCompaction, repaired, len(damaged))
	}

	// The weekly file holds exactly MySQL's rows of the week, id by id.
	weekly, err := st.weeklyAudit(ctx, week)
	if err != nil {
		t.Fatal(err)
	}
	if !weekly.OK() {
		t.Errorf("weekly file of %s: %s", week, weekly)
	}
	st.verifyCLI(t, ctx, from, to)
	a, err := st.audit(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	recordAudit(t, "8 gaps healed by the compaction", a, fmt.Sprintf("%d windows re-exported", len(children)),
		fmt.Sprintf("%d windows' objects deleted (%d with their manifests), found and re-exported by the compaction of %s in %s; weekly file %d rows = MySQL %d, id by id; %d WARN lines, logetl_windows_repaired_total{reason=compaction} +%g",
			len(damaged), 2, week, compactTook.Round(time.Second), weekly.S3Rows, weekly.MySQLRows, logged, repaired))
	if !weekly.OK() {
		record(result{Fault: "8 gaps: weekly file", Windows: weekly.Windows, MySQLRows: weekly.MySQLRows, S3Rows: weekly.S3Rows, Duplicated: weekly.Duplicated, Verdict: "FAILED"})
	}
	note("gaps: whole test %s", time.Since(began).Round(time.Second))
}

// weeklyAudit compares a week's weekly file with MySQL's rows of the week, id by id.
func (st *stack) weeklyAudit(ctx context.Context, week partition.Week) (audit, error) {
	start, end, err := st.grid.WeekRange(week)
	if err != nil {
		return audit{}, err
	}
	a := audit{Windows: int(end.Sub(start) / window), Objects: 1}
	inMySQL, err := st.mysqlIDs(ctx, start, end)
	if err != nil {
		return a, err
	}
	a.MySQLRows = int64(len(inMySQL))
	key := st.layout.WeeklyKey(week)
	data, err := st.store.Get(ctx, key)
	if err != nil {
		return a, err
	}
	ids, err := readIDs(data, st.spec.Index(st.spec.IDColumn), st.idColumn())
	if err != nil {
		return a, fmt.Errorf("read %s: %w", key, err)
	}
	seen := map[uint64]bool{}
	for _, id := range ids {
		a.S3Rows++
		if seen[id] {
			a.Duplicated = 1
			a.Details = append(a.Details, fmt.Sprintf("log id %d twice in %s", id, key))
			continue
		}
		seen[id] = true
		if !inMySQL[id] {
			a.Extra++
		}
	}
	for id := range inMySQL {
		if !seen[id] {
			a.Missing++
		}
	}
	b, err := st.store.Get(ctx, lake.ManifestKey(key))
	if err != nil {
		return a, err
	}
	m, err := manifest.Parse(b)
	if err != nil {
		return a, err
	}
	if m.Rows != a.S3Rows {
		a.Unexpected++
		a.Details = append(a.Details, fmt.Sprintf("%s: manifest says %d rows, the file has %d", key, m.Rows, a.S3Rows))
	}
	return a, nil
}
