package lake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/logetl/logetl/internal/s3store"
)

// coverageVersion is the coverage record's format version.
const coverageVersion = 1

// Coverage is the record of which time ranges of a table were exported: a window inside an
// interval was exported at least once, with or without rows. Windows with rows have their
// files and manifests; a window without rows has nothing but this record, so a run of empty
// windows (a quiet night, the years before a table's first row) costs no object at all, and
// verify still tells "exported and empty" from "never exported". Intervals are kept merged and
// sorted, so the record stays small: one interval per stretch of consecutive exported windows.
type Coverage struct {
	Version   int        `json:"coverage_version"`
	Table     string     `json:"table"`
	Intervals []Interval `json:"intervals"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// Interval is a half-open time range [Start, End).
type Interval struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Add merges iv into the record and reports whether anything changed.
func (c *Coverage) Add(iv Interval) bool {
	iv.Start, iv.End = iv.Start.UTC(), iv.End.UTC()
	if !iv.Start.Before(iv.End) || c.Covers(iv.Start, iv.End) {
		return false
	}
	out := make([]Interval, 0, len(c.Intervals)+1)
	placed := false
	for _, x := range c.Intervals {
		switch {
		case x.End.Before(iv.Start): // entirely before, not touching
			out = append(out, x)
		case iv.End.Before(x.Start): // entirely after
			if !placed {
				out = append(out, iv)
				placed = true
			}
			out = append(out, x)
		default: // overlapping or touching: absorb
			if x.Start.Before(iv.Start) {
				iv.Start = x.Start
			}
			if x.End.After(iv.End) {
				iv.End = x.End
			}
		}
	}
	if !placed {
		out = append(out, iv)
	}
	c.Intervals = out
	return true
}

// Covers reports whether [start, end) lies inside one interval.
func (c Coverage) Covers(start, end time.Time) bool {
	i, _ := slices.BinarySearchFunc(c.Intervals, start, func(x Interval, t time.Time) int {
		if !x.End.After(t) {
			return -1
		}
		return 1
	})
	return i < len(c.Intervals) && !c.Intervals[i].Start.After(start) && !c.Intervals[i].End.Before(end)
}

// ReadCoverage reads the table's coverage record and its ETag ("" when it has none yet).
func ReadCoverage(ctx context.Context, s Store, l Layout) (Coverage, string, error) {
	data, etag, err := s.GetETag(ctx, l.CoverageKey())
	if errors.Is(err, s3store.ErrNotFound) {
		return Coverage{Version: coverageVersion, Table: l.Table}, "", nil
	}
	if err != nil {
		return Coverage{}, "", fmt.Errorf("read the coverage record of %s: %w", l.Table, err)
	}
	var c Coverage
	if err := json.Unmarshal(data, &c); err != nil || c.Version != coverageVersion {
		// A damaged record proves nothing; verify then reports every empty window missing and
		// a repair rebuilds the record. Windows with files are proven by their manifests.
		return Coverage{Version: coverageVersion, Table: l.Table}, etag, nil
	}
	return c, etag, nil
}

// AddCoverage merges intervals into the table's record with a conditional read-modify-write,
// so that concurrent exports of one table never lose each other's intervals.
func AddCoverage(ctx context.Context, s Store, l Layout, now time.Time, ivs ...Interval) error {
	for attempt := 0; attempt < 20; attempt++ {
		c, etag, err := ReadCoverage(ctx, s, l)
		if err != nil {
			return err
		}
		changed := false
		for _, iv := range ivs {
			if c.Add(iv) {
				changed = true
			}
		}
		if !changed {
			return nil
		}
		c.UpdatedAt = now.UTC()
		data, err := json.MarshalIndent(c, "", " ")
		if err != nil {
			return err
		}
		if etag == "" {
			created, err := s.PutIfAbsent(ctx, l.CoverageKey(), data, "application/json")
			if err != nil {
				return fmt.Errorf("write the coverage record of %s: %w", l.Table, err)
			}
			if created {
				return nil
			}
			continue
		}
		if _, err := s.PutIfMatch(ctx, l.CoverageKey(), data, "application/json", etag); err != nil {
			if errors.Is(err, s3store.ErrChanged) {
				continue // another export updated it: merge again on top of theirs
			}
			return fmt.Errorf("write the coverage record of %s: %w", l.Table, err)
		}
		return nil
	}
	return fmt.Errorf("write the coverage record of %s: too many concurrent updates", l.Table)
}
