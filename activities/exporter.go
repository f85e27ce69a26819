package activities

import (
	"context"
	"errors"
	"time"

	"github.com/logetl/logetl/internal/export"
	"github.com/logetl/logetl/internal/manifest"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/workflows"
)

// Library adapts the export library's *export.Exporter to Exporter.
type Library struct {
	E *export.Exporter
}

var _ Exporter = Library{}

func results(ms ...manifest.Manifest) workflows.ExportResult {
	var r workflows.ExportResult
	for _, m := range ms {
		r.Files = append(r.Files, workflows.FileResult{Key: m.Object, Rows: m.Rows, Bytes: m.Bytes})
		r.Rows += m.Rows
		r.Bytes += m.Bytes
	}
	return r
}

func progressOf(f func(rows, bytes int64)) func(export.Progress) {
	if f == nil {
		return nil
	}
	return func(p export.Progress) { f(p.Rows, p.Bytes) }
}

// ExportWindow exports the grid window w.
func (l Library) ExportWindow(ctx context.Context, w workflows.Window, progress func(rows, bytes int64)) (workflows.ExportResult, error) {
	ms, err := l.E.ExportWindow(ctx, partition.Window{Start: w.Start.UTC(), End: w.End.UTC()}, progressOf(progress))
	if err != nil {
		return workflows.ExportResult{}, err
	}
	return results(ms...), nil
}

// CompactWeek compacts the ISO week (in the exporter's time zone) that holds week.
func (l Library) CompactWeek(ctx context.Context, week, upTo time.Time) (workflows.ExportResult, error) {
	m, err := l.E.CompactWeek(ctx, l.E.Grid().WeekOf(week), upTo, nil)
	if err != nil {
		return workflows.ExportResult{}, err
	}
	return results(m), nil
}

// Verify checks [from, to) without repairing: repairs run as ExportWindow workflows, so that a
// repair never overlaps a scheduled run of the same window.
func (l Library) Verify(ctx context.Context, from, to time.Time) (workflows.VerifyResult, error) {
	rep, err := l.E.Verify(ctx, from, to, export.VerifyOptions{})
	if err != nil {
		return workflows.VerifyResult{}, err
	}
	res := workflows.VerifyResult{Windows: len(rep.Windows)}
	for _, p := range rep.Problems() {
		res.Mismatched = append(res.Mismatched, workflows.Window{Start: p.Window.Start, End: p.Window.End})
	}
	return res, nil
}

// Permanent classifies the export library's permanent errors.
func (Library) Permanent(err error) string {
	switch {
	case !export.IsPermanent(err):
		return ""
	case errors.Is(err, protect.ErrKeyring):
		return workflows.ErrTypeKey
	case errors.Is(err, partition.ErrInvalid):
		return workflows.ErrTypeBadInput
	default:
		return workflows.ErrTypeConfig
	}
}
