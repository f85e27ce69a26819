// Package partition is the one model of time in the lake: the window grid, windows and their
// pieces per local day, days and ISO weeks in a table's time zone, and the granularities of
// the files. It does no I/O, so workflows use it as well as the export library (object keys
// are package lake's).
//
// Windows form a fixed grid: every window is [k*length, (k+1)*length) counted from the Unix epoch,
// so any two runs, retries or backfills that mean the same window compute the same bounds and the
// same keys. Day (dt=) and ISO week (week=) partitions are computed in a configured time zone; a
// window that crosses local midnight is split into one piece per local day, each with its own
// key, so a daily partition only ever holds rows of its own day.
package partition

import (
	"errors"
	"fmt"
	"time"
)

// Granularity is the partitioning level of a file: daily files of windows in day partitions,
// weekly files compacted from a week's daily files. These are the only spellings, on the command
// line, in workflow ids and inputs, in metrics and in keys (daily/, weekly/).
type Granularity string

// The two granularities of the lake.
const (
	Daily  Granularity = "daily"
	Weekly Granularity = "weekly"
)

// ParseGranularity accepts "daily" or "weekly".
func ParseGranularity(s string) (Granularity, error) {
	switch g := Granularity(s); g {
	case Daily, Weekly:
		return g, nil
	}
	return "", fmt.Errorf("%w: granularity %q is not daily or weekly", ErrInvalid, s)
}

// ErrInvalid marks invalid input (a misaligned or reversed range, a bad window length, an
// unknown time zone): retrying cannot fix it.
var ErrInvalid = errors.New("invalid partitioning input")

// keyTime is the UTC timestamp format inside part file names: minute precision, which is why
// window lengths must be whole minutes.
const keyTime = "20060102T1504Z"

// Window is a half-open interval [Start, End) of occurred_at, in UTC.
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Validate rejects empty or inverted windows.
func (w Window) Validate() error {
	if w.Start.IsZero() || w.End.IsZero() {
		return fmt.Errorf("%w: window start and end are required", ErrInvalid)
	}
	if !w.End.After(w.Start) {
		return fmt.Errorf("%w: window %s: end must be after start", ErrInvalid, w)
	}
	return nil
}

// RFC3339 renders the window as "<start>/<end>" in RFC 3339 UTC, the form of workflow ids.
func (w Window) RFC3339() string {
	return w.Start.UTC().Format(time.RFC3339) + "/" + w.End.UTC().Format(time.RFC3339)
}

// String renders the window as it appears in part file names, e.g. 20261124T1000Z-20261124T1015Z.
func (w Window) String() string {
	return w.Start.UTC().Format(keyTime) + "-" + w.End.UTC().Format(keyTime)
}

// Contains reports whether t falls in [Start, End).
func (w Window) Contains(t time.Time) bool {
	return !t.Before(w.Start) && t.Before(w.End)
}

// Grid is the fixed window grid together with the time zone of the partitions.
type Grid struct {
	length time.Duration
	loc    *time.Location
}

// NewGrid validates the window length (a positive whole number of minutes, at most a day) and
// returns the grid in time zone loc.
func NewGrid(length time.Duration, loc *time.Location) (Grid, error) {
	if length <= 0 || length%time.Minute != 0 || length > 24*time.Hour {
		return Grid{}, fmt.Errorf("%w: window length %s must be a whole number of minutes between 1m and 24h", ErrInvalid, length)
	}
	if loc == nil {
		return Grid{}, fmt.Errorf("%w: no time zone", ErrInvalid)
	}
	return Grid{length: length, loc: loc}, nil
}

// Length is the window length.
func (g Grid) Length() time.Duration { return g.length }

// Location is the time zone of day and week partitions.
func (g Grid) Location() *time.Location { return g.loc }

// Floor returns the start of the grid window containing t.
func (g Grid) Floor(t time.Time) time.Time { return Floor(t, g.length) }

// Floor returns the start of the window of the epoch-aligned grid of the given step that holds
// t. Truncate counts from the zero Time, not the Unix epoch; the epoch is a whole number of
// minutes after it, but not of every window length, so this computes from Unix time. It is
// pure arithmetic, for workflows as well.
func Floor(t time.Time, step time.Duration) time.Time {
	n := t.UnixNano()
	l := int64(step)
	q := n / l
	if n%l < 0 {
		q--
	}
	return time.Unix(0, q*l).UTC()
}

// Aligned reports whether t is a grid boundary.
func (g Grid) Aligned(t time.Time) bool { return g.Floor(t).Equal(t) }

// WindowAt returns the grid window containing t.
func (g Grid) WindowAt(t time.Time) Window {
	s := g.Floor(t)
	return Window{Start: s, End: s.Add(g.length)}
}

// Windows lists the grid windows of [from, to); both bounds must be aligned.
func (g Grid) Windows(from, to time.Time) ([]Window, error) {
	if !g.Aligned(from) || !g.Aligned(to) {
		return nil, fmt.Errorf("%w: range %s..%s is not aligned to the %s window grid", ErrInvalid, from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), g.length)
	}
	if !from.Before(to) {
		return nil, fmt.Errorf("%w: range start %s is not before its end %s", ErrInvalid, from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	}
	var ws []Window
	for s := from.UTC(); s.Before(to); s = s.Add(g.length) {
		ws = append(ws, Window{Start: s, End: s.Add(g.length)})
	}
	return ws, nil
}

// Piece is the part of a window that falls on one local day: the unit of one daily file.
type Piece struct {
	Window Window // a sub-window of the grid window, equal to it unless it crosses local midnight
	Day    string // local date, YYYY-MM-DD
}

// Pieces splits w at local midnights of the grid's time zone.
func (g Grid) Pieces(w Window) []Piece {
	var ps []Piece
	start := w.Start.UTC()
	for start.Before(w.End) {
		local := start.In(g.loc)
		next := nextMidnight(local).UTC()
		end := w.End.UTC()
		if next.Before(end) {
			end = next
		}
		ps = append(ps, Piece{Window: Window{Start: start, End: end}, Day: local.Format(time.DateOnly)})
		start = end
	}
	return ps
}

// Day returns the local date (YYYY-MM-DD) of t.
func (g Grid) Day(t time.Time) string { return t.In(g.loc).Format(time.DateOnly) }

// DayRange returns the UTC bounds [start, end) of local day "YYYY-MM-DD".
func (g Grid) DayRange(day string) (time.Time, time.Time, error) {
	d, err := time.ParseInLocation(time.DateOnly, day, g.loc)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("%w: day %q: %v", ErrInvalid, day, err)
	}
	return startOfDay(d).UTC(), nextMidnight(d).UTC(), nil
}

// Days lists the local dates that [from, to) touches, in order.
func (g Grid) Days(from, to time.Time) []string {
	var days []string
	for t := from; t.Before(to); t = nextMidnight(t.In(g.loc)) {
		days = append(days, g.Day(t))
	}
	return days
}

func startOfDay(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

// nextMidnight returns the first instant of the local day after t's. time.Date normalises days
// past the month's end and resolves DST gaps, so this holds on every calendar day.
func nextMidnight(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, t.Location())
}

// Week is an ISO 8601 week (Monday start) in the grid's time zone.
type Week struct {
	Year int `json:"year"`
	Week int `json:"week"`
}

// String renders the week as in partition names, e.g. 2026-W48.
func (w Week) String() string { return fmt.Sprintf("%04d-W%02d", w.Year, w.Week) }

// ParseWeek parses "YYYY-Www".
func ParseWeek(s string) (Week, error) {
	var w Week
	if _, err := fmt.Sscanf(s, "%4d-W%2d", &w.Year, &w.Week); err != nil || len(s) != 8 || w.Week < 1 || w.Week > 53 {
		return Week{}, fmt.Errorf("%w: week %q is not YYYY-Www", ErrInvalid, s)
	}
	return w, nil
}

// WeekOf returns the ISO week containing t in the grid's time zone.
func (g Grid) WeekOf(t time.Time) Week {
	y, w := t.In(g.loc).ISOWeek()
	return Week{Year: y, Week: w}
}

// WeekRange returns the UTC bounds [Monday 00:00, next Monday 00:00) of the week in the grid's
// time zone.
func (g Grid) WeekRange(w Week) (time.Time, time.Time, error) {
	// January 4th is always in ISO week 1.
	jan4 := time.Date(w.Year, time.January, 4, 0, 0, 0, 0, g.loc)
	offset := (int(jan4.Weekday()) + 6) % 7 // days since Monday
	monday := time.Date(w.Year, time.January, 4-offset+7*(w.Week-1), 0, 0, 0, 0, g.loc)
	if got := g.WeekOf(monday); got != w {
		return time.Time{}, time.Time{}, fmt.Errorf("%w: week %s does not exist", ErrInvalid, w)
	}
	y, m, d := monday.Date()
	return monday.UTC(), time.Date(y, m, d+7, 0, 0, 0, 0, g.loc).UTC(), nil
}

// Weeks lists the ISO weeks that [from, to) touches, in order.
func (g Grid) Weeks(from, to time.Time) []Week {
	var ws []Week
	for t := from; t.Before(to); {
		w := g.WeekOf(t)
		ws = append(ws, w)
		_, end, err := g.WeekRange(w)
		if err != nil { // cannot happen for a week computed by WeekOf
			break
		}
		t = end
	}
	return ws
}

// ParseTime accepts RFC 3339 or a bare date YYYY-MM-DD (midnight in loc).
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%w: time %q is neither RFC 3339 (2026-11-24T10:00:00Z) nor a date (2026-11-24)", ErrInvalid, s)
}

// ParseRange parses and validates an export range: both bounds RFC 3339 or YYYY-MM-DD (dates are
// local midnights in the grid's zone), from < to, both on the window grid, and to no later than
// now - safetyLag (windows still receiving commits are not exported).
func (g Grid) ParseRange(from, to string, now time.Time, safetyLag time.Duration) (time.Time, time.Time, error) {
	f, err := ParseTime(from, g.loc)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("--from: %w", err)
	}
	t, err := ParseTime(to, g.loc)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("--to: %w", err)
	}
	if !f.Before(t) {
		return time.Time{}, time.Time{}, fmt.Errorf("%w: --from %s must be before --to %s", ErrInvalid, f.Format(time.RFC3339), t.Format(time.RFC3339))
	}
	for _, b := range []struct {
		name string
		t    time.Time
	}{{"--from", f}, {"--to", t}} {
		if !g.Aligned(b.t) {
			w := g.WindowAt(b.t)
			return time.Time{}, time.Time{}, fmt.Errorf("%w: %s %s is not on the %s window grid (nearest boundaries %s and %s)",
				ErrInvalid, b.name, b.t.Format(time.RFC3339Nano), g.length, w.Start.Format(time.RFC3339), w.End.Format(time.RFC3339))
		}
	}
	if limit := now.Add(-safetyLag); t.After(limit) {
		return time.Time{}, time.Time{}, fmt.Errorf("%w: --to %s is after now minus the safety lag (%s); rows may still be committing",
			ErrInvalid, t.Format(time.RFC3339), limit.UTC().Format(time.RFC3339))
	}
	return f, t, nil
}
