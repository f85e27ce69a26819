package export

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/logetl/logetl/internal/lake"
	"github.com/logetl/logetl/internal/manifest"
	"github.com/logetl/logetl/internal/partition"
)

// Ranges of any length cost what their rows cost, not what their windows count: a planner
// jumps over empty stretches with one index lookup (the next row's time), so ten years of
// one-minute windows before a table's first row are one query, and the coverage record then
// proves them exported in one update.

// Page is one step through a range: the windows with rows in [From, Next), in order. A caller
// exports them and then records [From, Next) in the coverage (CoverRange), which proves the
// empty windows of the page too.
type Page struct {
	From    time.Time
	Windows []partition.Window
	Next    time.Time // == the range's end after the last page
}

// DefaultPageWindows is how many windows with rows a page holds at most.
const DefaultPageWindows = 200

// PlanPage returns the next page of [from, to): from the first row at or after from, the grid
// windows with rows, at most limit of them. from and to must be on the grid.
func (e *Exporter) PlanPage(ctx context.Context, from, to time.Time, limit int) (Page, error) {
	if !e.cfg.Grid.Aligned(from) || !e.cfg.Grid.Aligned(to) || from.After(to) {
		return Page{}, fmt.Errorf("plan %s: %w: range %s..%s is not on the %s grid", e.Table(), partition.ErrInvalid, from.Format(time.RFC3339), to.Format(time.RFC3339), e.cfg.Grid.Length())
	}
	if limit <= 0 {
		limit = DefaultPageWindows
	}
	page := Page{From: from, Next: to}
	if !from.Before(to) {
		return page, nil
	}
	tbl, err := e.openTable(ctx, false)
	if err != nil {
		return page, err
	}
	first, ok, err := tbl.NextRow(ctx, from, to)
	if err != nil || !ok {
		return page, err // no row in the rest of the range: one page proves it all
	}
	start := e.cfg.Grid.Floor(first)
	end := start.Add(time.Duration(limit) * e.cfg.Grid.Length())
	if end.After(to) || end.Before(start) { // overflow on absurd limits
		end = to
	}
	counts, err := tbl.CountWindows(ctx, start, end, e.cfg.Grid.Length())
	if err != nil {
		return page, err
	}
	for _, c := range counts {
		page.Windows = append(page.Windows, partition.Window{Start: c.Start, End: c.Start.Add(e.cfg.Grid.Length())})
	}
	page.Next = end
	return page, nil
}

// CoverRange records [from, to) as exported in the table's coverage, except the failed windows
// (a backfill's children that did not succeed), which stay unproven until exported.
func (e *Exporter) CoverRange(ctx context.Context, from, to time.Time, failed []partition.Window) error {
	var ivs []lake.Interval
	cur := from
	for _, w := range failed {
		if w.Start.After(cur) {
			ivs = append(ivs, lake.Interval{Start: cur, End: w.Start})
		}
		if w.End.After(cur) {
			cur = w.End
		}
	}
	if cur.Before(to) {
		ivs = append(ivs, lake.Interval{Start: cur, End: to})
	}
	if len(ivs) == 0 {
		return nil
	}
	if err := e.EnsureLayout(ctx); err != nil {
		return err
	}
	return lake.AddCoverage(ctx, e.store, e.cfg.Layout, e.cfg.Now(), ivs...)
}

// PlanWeeks returns the ISO weeks of [from, to) that have rows in MySQL or daily partitions in
// the lake, at most limit, and where the next call starts. Weeks with neither get no weekly file.
func (e *Exporter) PlanWeeks(ctx context.Context, from, to time.Time, limit int, partitions Partitions) ([]partition.Week, time.Time, error) {
	if limit <= 0 {
		limit = DefaultPageWindows
	}
	grid := e.cfg.Grid
	tbl, err := e.openTable(ctx, false)
	if err != nil {
		return nil, from, err
	}
	var weeks []partition.Week
	cur := from
	for cur.Before(to) && len(weeks) < limit {
		// The next week with a row, or with a day partition, whichever comes first.
		next, ok, err := tbl.NextRow(ctx, cur, to)
		if err != nil {
			return nil, cur, err
		}
		if partitions != nil {
			after := strings.TrimSuffix(e.cfg.Layout.DayPrefix(grid.Day(cur)), "/")
			dayBefore := ""
			if ok {
				dayBefore = e.cfg.Layout.DayPrefix(grid.Day(next))
			}
			days, err := partitions(ctx, e.cfg.Layout.PartitionsPrefix(partition.Daily), after, dayBefore)
			if err != nil {
				return nil, cur, err
			}
			for _, d := range days {
				day := strings.TrimSuffix(strings.TrimPrefix(d, e.cfg.Layout.PartitionsPrefix(partition.Daily)+lake.DayPart), "/")
				if ds, _, err := grid.DayRange(day); err == nil && !ds.Before(cur) && ds.Before(to) {
					next, ok = ds, true
					break
				}
			}
		}
		if !ok {
			break
		}
		w := grid.WeekOf(next)
		weeks = append(weeks, w)
		_, end, err := grid.WeekRange(w)
		if err != nil {
			return nil, cur, err
		}
		cur = end
	}
	if !cur.Before(to) || len(weeks) < limit {
		cur = to
	}
	return weeks, cur, nil
}

// RangeResult sums what ExportRange wrote.
type RangeResult struct {
	Windows  int64 // windows of the range
	Exported int   // windows with rows, exported
	Files    []manifest.Manifest
	Rows     int64
	Bytes    int64
}

// ExportRange exports every window of [from, to) with rows and proves the others empty in the
// coverage, page by page: the `logetl export` of a range, without Temporal. onFile, if set, is
// told of every file written.
func (e *Exporter) ExportRange(ctx context.Context, from, to time.Time, maxWindows int64, onFile func(manifest.Manifest)) (RangeResult, error) {
	res := RangeResult{Windows: int64(to.Sub(from) / e.cfg.Grid.Length())}
	if maxWindows > 0 && res.Windows > maxWindows {
		return res, fmt.Errorf("export %s: %w: %d windows, the limit is %d (--max-range)", e.Table(), ErrRange, res.Windows, maxWindows)
	}
	if err := e.EnsureLayout(ctx); err != nil {
		return res, err
	}
	for cur := from; cur.Before(to); {
		page, err := e.PlanPage(ctx, cur, to, DefaultPageWindows)
		if err != nil {
			return res, err
		}
		for _, w := range page.Windows {
			wr, err := e.ExportWindow(ctx, w, nil)
			if err != nil {
				return res, err
			}
			res.Exported++
			for _, m := range wr.Manifests {
				res.Files = append(res.Files, m)
				res.Rows += m.Rows
				res.Bytes += m.Bytes
				if onFile != nil {
					onFile(m)
				}
			}
		}
		if err := e.CoverRange(ctx, page.From, page.Next, nil); err != nil {
			return res, err
		}
		cur = page.Next
	}
	return res, nil
}

// CompactRange compacts every week of [from, to) that has rows or daily files, repairing the
// windows its check finds first (as the compaction workflow does): the `logetl export
// --granularity weekly` of a range.
func (e *Exporter) CompactRange(ctx context.Context, from, to time.Time, partitions Partitions, onFile func(manifest.Manifest)) ([]manifest.Manifest, error) {
	var out []manifest.Manifest
	for cur := from; cur.Before(to); {
		weeks, next, err := e.PlanWeeks(ctx, cur, to, DefaultPageWindows, partitions)
		if err != nil {
			return out, err
		}
		for _, w := range weeks {
			m, err := e.RepairAndCompactWeek(ctx, w, to)
			if err != nil {
				return out, err
			}
			out = append(out, m)
			if onFile != nil {
				onFile(m)
			}
		}
		cur = next
	}
	return out, nil
}

// RepairAndCompactWeek re-exports the week's windows whose daily files do not hold MySQL's
// rows, then compacts it.
func (e *Exporter) RepairAndCompactWeek(ctx context.Context, w partition.Week, upTo time.Time) (manifest.Manifest, error) {
	for attempt := 0; attempt < 3; attempt++ {
		m, err := e.CompactWeek(ctx, w, upTo, nil)
		var cov *CoverageError
		if !errors.As(err, &cov) {
			return m, err
		}
		for _, p := range cov.Problems {
			e.log.WarnContext(ctx, "repairing a window before compacting its week", "week", w.String(), "window", p.Window.String(), "status", p.Status, "mysql_rows", p.MySQLRows, "file_rows", p.FileRows)
			if _, err := e.ExportWindow(ctx, p.Window, nil); err != nil {
				return manifest.Manifest{}, err
			}
		}
	}
	return e.CompactWeek(ctx, w, upTo, nil)
}

// Partitions lists the partition folders directly below a prefix in (after, before); the
// store's ListPrefixes is one.
type Partitions func(ctx context.Context, prefix, after, before string) ([]string, error)

// FirstUncompactedWeek returns the start of the first ISO week, from the table's oldest row or
// day partition up to before, that has no weekly file: where a verify must start so that a gap
// is found before that week's compaction meets it. ok is false when every week has its file.
func (e *Exporter) FirstUncompactedWeek(ctx context.Context, before time.Time, partitions Partitions) (time.Time, bool, error) {
	grid, layout := e.cfg.Grid, e.cfg.Layout
	tbl, err := e.openTable(ctx, false)
	if err != nil {
		return time.Time{}, false, err
	}
	oldest, ok, err := tbl.Oldest(ctx)
	if err != nil {
		return time.Time{}, false, err
	}
	days, err := partitions(ctx, layout.PartitionsPrefix(partition.Daily), "", "")
	if err != nil {
		return time.Time{}, false, err
	}
	if len(days) > 0 {
		day := strings.TrimSuffix(strings.TrimPrefix(days[0], layout.PartitionsPrefix(partition.Daily)+lake.DayPart), "/")
		if ds, _, err := grid.DayRange(day); err == nil && (!ok || ds.Before(oldest)) {
			oldest, ok = ds, true
		}
	}
	if !ok || !oldest.Before(before) {
		return time.Time{}, false, nil
	}
	weeks, err := partitions(ctx, layout.PartitionsPrefix(partition.Weekly), "", "")
	if err != nil {
		return time.Time{}, false, err
	}
	have := map[string]bool{}
	for _, w := range weeks {
		have[strings.TrimSuffix(strings.TrimPrefix(w, layout.PartitionsPrefix(partition.Weekly)+lake.WeekPart), "/")] = true
	}
	for _, w := range grid.Weeks(oldest, before) {
		if !have[w.String()] {
			start, _, err := grid.WeekRange(w)
			return start, err == nil, err
		}
	}
	return time.Time{}, false, nil
}

// Gap is a stretch of MySQL rows that the lake's coverage does not hold: windows never
// exported (a new or replaced lake over an existing database, an outage longer than every
// retry), from the window of its first row to the window after its last.
type Gap struct {
	From, To time.Time // on the window grid
	Rows     int64
}

// Unexported lists the gaps before to (floored to the grid): MySQL's rows in no interval of the
// coverage record. It costs two index lookups and one count per gap, whatever the range.
func (e *Exporter) Unexported(ctx context.Context, to time.Time) ([]Gap, error) {
	tbl, err := e.openTable(ctx, false)
	if err != nil {
		return nil, err
	}
	to = e.cfg.Grid.Floor(to)
	oldest, ok, err := tbl.Oldest(ctx)
	if err != nil || !ok || !oldest.Before(to) {
		return nil, err
	}
	cov, _, err := lake.ReadCoverage(ctx, e.store, e.cfg.Layout)
	if err != nil {
		return nil, err
	}
	// The uncovered stretches of [oldest's window, to).
	var holes []lake.Interval
	cur := e.cfg.Grid.Floor(oldest)
	for _, iv := range cov.Intervals {
		if !iv.End.After(cur) {
			continue
		}
		if iv.Start.After(cur) {
			holes = append(holes, lake.Interval{Start: cur, End: minTime(iv.Start, to)})
		}
		cur = iv.End
		if !cur.Before(to) {
			break
		}
	}
	if cur.Before(to) {
		holes = append(holes, lake.Interval{Start: cur, End: to})
	}
	var gaps []Gap
	for _, h := range holes {
		if !h.End.After(h.Start) {
			continue
		}
		first, ok, err := tbl.NextRow(ctx, h.Start, h.End)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		last, _, err := tbl.LastRow(ctx, first, h.End)
		if err != nil {
			return nil, err
		}
		g := Gap{From: e.cfg.Grid.Floor(first), To: minTime(e.cfg.Grid.Floor(last).Add(e.cfg.Grid.Length()), h.End)}
		st, err := tbl.Stats(ctx, g.From, g.To)
		if err != nil {
			return nil, err
		}
		g.Rows = st.Rows
		gaps = append(gaps, g)
	}
	return gaps, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
