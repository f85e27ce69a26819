package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/logetl/logetl/internal/export"
	"github.com/logetl/logetl/internal/lake"
	"github.com/logetl/logetl/internal/manifest"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/internal/retention"
	"github.com/logetl/logetl/internal/tablespec"
	"github.com/logetl/logetl/workflows"
)

// Library adapts one table's export library (and its purger, when the table has a retention)
// to Table.
type Library struct {
	E *export.Exporter
	// P purges; nil when the table keeps its rows (no retention).
	P *retention.Purger
	// Partitions lists partition folders (the store's ListPrefixes): the weekly backfill's and
	// the verify's view of which weeks have files.
	Partitions export.Partitions
}

var _ Table = Library{}

func results(ms ...manifest.Manifest) workflows.ExportResult {
	var r workflows.ExportResult
	for _, m := range ms {
		r.Files = append(r.Files, workflows.FileResult{Key: m.Object, Rows: m.Rows, Bytes: m.Bytes})
		r.Rows += m.Rows
		r.Bytes += m.Bytes
	}
	return r
}

// ExportWindow exports the grid window w.
func (l Library) ExportWindow(ctx context.Context, w partition.Window, progress func(rows, bytes int64)) (workflows.ExportResult, error) {
	var p func(export.Progress)
	if progress != nil {
		p = func(x export.Progress) { progress(x.Rows, x.Bytes) }
	}
	wr, err := l.E.ExportWindow(ctx, partition.Window{Start: w.Start.UTC(), End: w.End.UTC()}, p)
	if err != nil {
		return workflows.ExportResult{}, err
	}
	res := results(wr.Manifests...)
	res.Merged = wr.Merged
	return res, nil
}

// CompactWeek compacts the week, or returns the windows its check found wrong.
func (l Library) CompactWeek(ctx context.Context, week partition.Week, upTo time.Time) (workflows.CompactResult, error) {
	m, err := l.E.CompactWeek(ctx, week, upTo, nil)
	var cov *export.CoverageError
	if errors.As(err, &cov) {
		res := workflows.CompactResult{RepairCount: int64(len(cov.Problems))}
		for _, p := range cov.Problems {
			res.Repair = append(res.Repair, p.Window)
		}
		return res, nil
	}
	if err != nil {
		return workflows.CompactResult{}, err
	}
	return workflows.CompactResult{ExportResult: results(m), Compacted: true}, nil
}

// ClosedWeek is the week a compaction schedule's run stands for (ClosedWeekOf the table's grid).
func (l Library) ClosedWeek(in workflows.ClosedWeekInput) (workflows.ClosedWeek, error) {
	return ClosedWeekOf(l.E.Grid(), in)
}

// ClosedWeekOf is the week before the one holding nominal - lag in the grid's zone (the week
// that just closed), or with ToDate the week holding it, up to its last closed window.
func ClosedWeekOf(grid partition.Grid, in workflows.ClosedWeekInput) (workflows.ClosedWeek, error) {
	closed := in.Nominal.Add(-in.SafetyLag)
	cur := grid.WeekOf(closed)
	start, _, err := grid.WeekRange(cur)
	if err != nil {
		return workflows.ClosedWeek{}, err
	}
	if in.ToDate {
		upTo := grid.Floor(closed)
		if upTo.After(start) {
			return workflows.ClosedWeek{Week: cur, UpTo: upTo}, nil
		}
		// The week has just begun and holds no closed window yet: the previous one.
	}
	return workflows.ClosedWeek{Week: grid.WeekOf(start.Add(-time.Hour)), UpTo: start}, nil
}

// Verify checks a range without re-exporting: repairs run as ExportWindow workflows, so that a
// repair never overlaps a scheduled run of the same window. Uncovered empty windows, whose
// repair is only a record, are recorded here.
func (l Library) Verify(ctx context.Context, in workflows.VerifyInput) (workflows.VerifyResult, error) {
	grid := l.E.Grid()
	from, to := grid.Floor(in.From), grid.Floor(in.To)
	if in.SinceUncompacted && l.Partitions != nil {
		if since, ok, err := l.E.FirstUncompactedWeek(ctx, to, l.Partitions); err != nil {
			return workflows.VerifyResult{}, err
		} else if ok && since.Before(from) {
			from = grid.Floor(since)
		}
	}
	rep, err := l.E.Verify(ctx, from, to, export.VerifyOptions{CoverUncovered: true})
	if err != nil {
		return workflows.VerifyResult{}, err
	}
	res := workflows.VerifyResult{From: from, To: to, Windows: rep.Windows, ProblemCount: rep.ProblemCount, Strays: rep.Strays,
		Covered: rep.Counts[export.StatusEmpty]}
	for _, p := range rep.Problems {
		res.Mismatched = append(res.Mismatched, p.Window)
	}
	return res, nil
}

// Plan returns the next page of windows (daily) or weeks (weekly) with rows.
func (l Library) Plan(ctx context.Context, in workflows.PlanInput) (workflows.PlanResult, error) {
	grid := l.E.Grid()
	from, to := grid.Floor(in.From), in.To
	if !grid.Aligned(to) {
		to = grid.Floor(to).Add(grid.Length())
	}
	if in.Granularity == partition.Weekly {
		weeks, next, err := l.E.PlanWeeks(ctx, from, to, in.Limit, l.Partitions)
		return workflows.PlanResult{Weeks: weeks, Next: next}, err
	}
	p, err := l.E.PlanPage(ctx, from, to, in.Limit)
	return workflows.PlanResult{Windows: p.Windows, Next: p.Next}, err
}

// Cover records a range as exported.
func (l Library) Cover(ctx context.Context, in workflows.CoverInput) error {
	return l.E.CoverRange(ctx, in.From, in.To, in.Failed)
}

// PurgeWindow purges one window.
func (l Library) PurgeWindow(ctx context.Context, w partition.Window, dryRun bool, progress func(deleted, of int64)) (workflows.PurgeResult, error) {
	if l.P == nil {
		return workflows.PurgeResult{}, fmt.Errorf("%w: table %s has no retention configured", export.ErrInvalidConfig, l.E.Table())
	}
	r, err := l.P.PurgeWindow(ctx, w, dryRun, func(p retention.Progress) {
		if progress != nil {
			progress(p.Deleted, p.Of)
		}
	})
	return workflows.PurgeResult{Window: w, MySQLRows: r.MySQLRows, FileRows: r.FileRows, Deleted: r.Deleted, Verdict: r.Verdict, Reason: r.Reason}, err
}

// lifecyclePage is how many weeks one lifecycle call examines.
const lifecyclePage = 20

// RemoveDailyFiles runs a page of the table's S3 lifecycle: the daily files of weeks whose
// compacted file holds them, older than the spec's daily_files_retention before nominal.
func (l Library) RemoveDailyFiles(ctx context.Context, nominal time.Time, dryRun bool, progress func(removed int)) (workflows.RemoveDailiesResult, error) {
	keep := l.E.Spec().DailyFilesRetention.D()
	if keep <= 0 {
		return workflows.RemoveDailiesResult{Off: true}, nil
	}
	cutoff := nominal.Add(-keep).UTC()
	r, err := l.E.RemoveCompactedDailies(ctx, cutoff, lifecyclePage, dryRun, func(r export.LifecycleResult) {
		if progress != nil {
			progress(r.Removed)
		}
	})
	return workflows.RemoveDailiesResult{Cutoff: cutoff, Weeks: r.Weeks, Done: r.Done, Removed: r.Removed, Bytes: r.Bytes, Skipped: r.Skipped, More: r.More}, err
}

// Permanent classifies the export library's permanent errors.
func (Library) Permanent(err error) string {
	switch {
	case !export.IsPermanent(err):
		return ""
	case errors.Is(err, protect.ErrKeyring):
		return workflows.ErrTypeKey
	case errors.Is(err, partition.ErrInvalid), errors.Is(err, export.ErrRange):
		return workflows.ErrTypeBadInput
	case errors.Is(err, lake.ErrLayout), errors.Is(err, tablespec.ErrInvalid):
		return workflows.ErrTypeConfig
	default:
		return workflows.ErrTypeConfig
	}
}
