// Package workflows holds logetl's Temporal workflow definitions: deterministic orchestration
// only. Every I/O step is an activity (package activities) called by the names declared in
// names.go, so this package never imports the export library and replays from history alone.
package workflows

import (
	"errors"
	"fmt"
	"time"
)

// Granularities of the exported partitions.
const (
	GranularityDaily  = "daily"
	GranularityWeekly = "weekly"
)

// Table is the only table the pipeline exports; it is part of every workflow id.
const Table = "activity_log"

// Window is the half-open interval [Start, End) of occurred_at that one export covers.
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// String renders the window as "<start>/<end>" in RFC 3339 UTC, the form used in ids.
func (w Window) String() string {
	return w.Start.UTC().Format(time.RFC3339) + "/" + w.End.UTC().Format(time.RFC3339)
}

// Validate rejects empty or inverted windows.
func (w Window) Validate() error {
	if w.Start.IsZero() || w.End.IsZero() {
		return errors.New("window start and end are required")
	}
	if !w.End.After(w.Start) {
		return fmt.Errorf("window %s: end must be after start", w)
	}
	return nil
}

// FloorGrid returns the start of the grid cell of size step that holds t. The grid is aligned
// to the Unix epoch (not to Go's zero time), so every process computes the same windows.
func FloorGrid(t time.Time, step time.Duration) time.Time {
	ns := t.UnixNano()
	r := ns % int64(step)
	if r < 0 {
		r += int64(step)
	}
	return time.Unix(0, ns-r).UTC()
}

// GridWindows lists the grid windows of size step that overlap [from, to), in order. from is
// floored to the grid, so a range that starts mid-window still covers that whole window.
func GridWindows(from, to time.Time, step time.Duration) []Window {
	var out []Window
	for s := FloorGrid(from, step); s.Before(to); s = s.Add(step) {
		out = append(out, Window{Start: s, End: s.Add(step)})
	}
	return out
}

// ScheduledWindow is the window a run nominally scheduled at nominal exports: the last whole
// grid window that ended at least safetyLag before nominal.
func ScheduledWindow(nominal time.Time, step, safetyLag time.Duration) Window {
	end := FloorGrid(nominal.Add(-safetyLag), step)
	return Window{Start: end.Add(-step), End: end}
}

// WeekStart returns Monday 00:00 of the ISO week holding t, in loc.
func WeekStart(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	offset := (int(t.Weekday()) + 6) % 7 // Monday = 0
	y, m, d := t.Date()
	return time.Date(y, m, d-offset, 0, 0, 0, 0, loc)
}

// WeekLabel names the ISO week that starts at weekStart, e.g. "2026-W48".
func WeekLabel(weekStart time.Time) string {
	y, w := weekStart.ISOWeek()
	return fmt.Sprintf("%04d-W%02d", y, w)
}

// ExportWindowID is the workflow id of the daily export of w. One window has one id, so two
// runs of the same window can never be open at once.
func ExportWindowID(w Window) string {
	return "export/" + Table + "/" + GranularityDaily + "/" + w.String()
}

// CompactWeekID is the workflow id of the weekly compaction of the week starting at weekStart.
func CompactWeekID(weekStart time.Time) string {
	return "compact/" + Table + "/" + GranularityWeekly + "/" + WeekLabel(weekStart)
}

// BackfillID is the workflow id of a backfill over [from, to) at granularity, so starting the
// same backfill twice joins the running one instead of doubling the work.
func BackfillID(from, to time.Time, granularity string) string {
	return "backfill/" + granularity + "/" + from.UTC().Format(time.RFC3339) + "/" + to.UTC().Format(time.RFC3339)
}

// loadLocation resolves a zone name; "" means UTC.
func loadLocation(name string) (*time.Location, error) {
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("timezone %q: %w", name, err)
	}
	return loc, nil
}
