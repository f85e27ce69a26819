package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/logetl/logetl/internal/lake"
	"github.com/logetl/logetl/internal/manifest"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/s3store"
	"github.com/logetl/logetl/internal/tablespec"
)

// The S3 lifecycle: once a week's compacted file holds exactly the rows of its daily files, the
// daily objects older than the table's daily_files_retention are deleted, so the lake keeps
// one copy of old weeks. The daily manifests stay (marked object_removed, naming the weekly
// file): they remain each window's record for verify and the purge, which read the window's
// rows from the weekly file from then on. A record per week lists what was removed.

// LifecycleRecord is the record of the daily files removed from one week,
// _logetl/lifecycle/week=YYYY-Www.json beside the layout descriptor.
type LifecycleRecord struct {
	Table        string `json:"table"`
	Week         string `json:"week"`
	WeeklyObject string `json:"weekly_object"`
	// WeeklySHA256 is the weekly file the removals were checked against; a week compacted
	// again since is examined again.
	WeeklySHA256 string `json:"weekly_sha256"`
	// Complete is true once every daily file of the week is removed: later runs skip the week
	// while its weekly file stays the same.
	Complete  bool          `json:"complete"`
	Removed   []RemovedFile `json:"removed"`
	UpdatedAt time.Time     `json:"updated_at"`
}

// RemovedFile is one daily object the lifecycle deleted.
type RemovedFile struct {
	Object    string    `json:"object"`
	Rows      int64     `json:"rows"`
	Bytes     int64     `json:"bytes"`
	SHA256    string    `json:"sha256"`
	RemovedAt time.Time `json:"removed_at"`
}

// LifecycleResult is what one RemoveCompactedDailies call did.
type LifecycleResult struct {
	Weeks   int      `json:"weeks"`   // weeks examined
	Done    int      `json:"done"`    // weeks already complete, skipped
	Removed int      `json:"removed"` // daily objects deleted (or, dry run, that would be)
	Bytes   int64    `json:"bytes"`
	Skipped []string `json:"skipped,omitempty"` // "week W: reason", weeks left alone
	// More is true when weeks were left for the next call (maxWeeks reached).
	More bool `json:"more,omitempty"`
}

// RemoveCompactedDailies deletes the daily objects of the lake whose windows ended before
// cutoff, week by week, where the week's compacted file covers the whole week and holds
// exactly their rows. It examines at most maxWeeks weeks (oldest first) that are not already
// complete and says in More whether any are left. A week is left alone, with the reason in
// Skipped, when its weekly file is missing, covers only part of the week, was compacted from
// other versions of its daily files (a repair since; the next compaction rewrites it), or does
// not read back to each daily file's row count and id range. progress is called after each
// removal.
func (e *Exporter) RemoveCompactedDailies(ctx context.Context, cutoff time.Time, maxWeeks int, dryRun bool, progress func(LifecycleResult)) (LifecycleResult, error) {
	var res LifecycleResult
	weeks, err := e.compactedWeeks(ctx)
	if err != nil {
		return res, fmt.Errorf("lifecycle of %s: %w", e.Table(), err)
	}
	for _, week := range weeks {
		ws, we, err := e.cfg.Grid.WeekRange(week)
		if err != nil || !ws.Before(cutoff) {
			continue
		}
		if res.Weeks == maxWeeks {
			res.More = true
			break
		}
		done, reason, err := e.removeWeek(ctx, week, ws, we, cutoff, dryRun, &res, progress)
		if err != nil {
			return res, fmt.Errorf("lifecycle of %s, week %s: %w", e.Table(), week, err)
		}
		switch {
		case done:
			res.Done++
		case reason != "":
			res.Weeks++
			res.Skipped = append(res.Skipped, "week "+week.String()+": "+reason)
			e.log.WarnContext(ctx, "daily files kept: the week's file does not prove it holds them", "week", week.String(), "reason", reason)
		default:
			res.Weeks++
		}
	}
	return res, nil
}

// compactedWeeks lists the weeks with a weekly partition, oldest first.
func (e *Exporter) compactedWeeks(ctx context.Context) ([]partition.Week, error) {
	prefix := e.cfg.Layout.PartitionsPrefix(partition.Weekly)
	folders, err := e.store.ListPrefixes(ctx, prefix, "", "")
	if err != nil {
		return nil, err
	}
	var weeks []partition.Week
	for _, f := range folders {
		name := strings.TrimSuffix(strings.TrimPrefix(f, prefix+lake.WeekPart), "/")
		if w, err := partition.ParseWeek(name); err == nil {
			weeks = append(weeks, w)
		}
	}
	slices.SortFunc(weeks, func(a, b partition.Week) int {
		if a.Year != b.Year {
			return a.Year - b.Year
		}
		return a.Week - b.Week
	})
	return weeks, nil
}

// removeWeek does one week: done is true when its record says it is complete against the
// current weekly file; reason says why the week was left alone.
func (e *Exporter) removeWeek(ctx context.Context, week partition.Week, ws, we, cutoff time.Time, dryRun bool, res *LifecycleResult, progress func(LifecycleResult)) (done bool, reason string, err error) {
	wkey := e.cfg.Layout.WeeklyKey(week)
	wm, ok, err := e.readManifest(ctx, wkey)
	if err != nil {
		return false, "", err
	}
	if !ok {
		return false, "no weekly manifest", nil
	}
	rec, _, err := e.readLifecycleRecord(ctx, week)
	if err != nil {
		return false, "", err
	}
	if rec.Complete && rec.WeeklySHA256 == wm.SHA256 {
		return true, "", nil
	}
	if !wm.WindowStart.Equal(ws) || !wm.WindowEnd.Equal(we) {
		return false, fmt.Sprintf("the weekly file covers %s..%s, not the whole week", wm.WindowStart.Format(time.RFC3339), wm.WindowEnd.Format(time.RFC3339)), nil
	}

	// The week's lock keeps a compaction from rewriting the weekly file meanwhile.
	unlock, err := e.lock(ctx, weekLock(week), lockWait)
	if err != nil {
		return false, "", err
	}
	defer unlock()

	// The week's daily files as verify sees them (their windows agree with MySQL, their
	// objects are those their manifests describe, or already in the week's file).
	rep, found, err := e.check(ctx, ws, we, checkOptions{allowMissingEmpty: true, recheck: true, found: true})
	if err != nil {
		return false, "", err
	}
	if rep.ProblemCount > 0 {
		return false, fmt.Sprintf("%d windows differ from MySQL or are damaged, e.g. %s (verify repairs them, then the compaction)", rep.ProblemCount, firstProblem(rep)), nil
	}
	if why := sourcesMatch(wm, found); why != "" {
		return false, why + " (the next compaction rewrites the weekly file)", nil
	}
	info, err := e.store.Stat(ctx, wm.Object)
	if err != nil {
		return false, "", err
	}
	if info.Size != wm.Bytes || (wm.ETag != "" && info.ETag != "" && info.ETag != wm.ETag) {
		return false, fmt.Sprintf("%s is not the object its manifest describes", wm.Object), nil
	}

	dailies := make([]manifest.Manifest, 0, len(found))
	for _, m := range found {
		dailies = append(dailies, m)
	}
	slices.SortFunc(dailies, func(a, b manifest.Manifest) int { return a.WindowStart.Compare(b.WindowStart) })
	weekly := map[string]manifest.Manifest{wkey: wm}
	// Every daily file must read back from the weekly file before any is removed.
	for _, m := range dailies {
		if why, err := e.readsBack(ctx, m, wkey, weekly); err != nil || why != "" {
			return false, why, err
		}
	}

	rec.Table, rec.Week, rec.WeeklyObject, rec.WeeklySHA256 = e.Table(), week.String(), wkey, wm.SHA256
	complete := true
	for _, m := range dailies {
		if m.WindowEnd.After(cutoff) {
			complete = false
			continue
		}
		removed, err := e.removeDaily(ctx, m, wkey, dryRun)
		if err != nil {
			return false, "", err
		}
		if removed == nil {
			continue
		}
		res.Removed++
		res.Bytes += removed.Bytes
		rec.Removed = append(rec.Removed, *removed)
		if progress != nil {
			progress(*res)
		}
	}
	if dryRun {
		return false, "", nil
	}
	rec.Complete, rec.UpdatedAt = complete && !we.After(cutoff), e.cfg.Now().UTC()
	return false, "", e.writeLifecycleRecord(ctx, week, rec)
}

func firstProblem(rep Report) string {
	if len(rep.Problems) > 0 {
		p := rep.Problems[0]
		return fmt.Sprintf("%s %s", p.Window, p.Status)
	}
	if len(rep.Uncovered) > 0 {
		return fmt.Sprintf("%s..%s uncovered", rep.Uncovered[0].Start.Format(time.RFC3339), rep.Uncovered[0].End.Format(time.RFC3339))
	}
	return "?"
}

// sourcesMatch says why the weekly manifest's sources are not the week's daily files as they
// are now, or "" when they are.
func sourcesMatch(wm manifest.Manifest, found map[string]manifest.Manifest) string {
	if len(wm.Sources) != len(found) {
		return fmt.Sprintf("the weekly file was compacted from %d daily files, the week has %d", len(wm.Sources), len(found))
	}
	for _, src := range wm.Sources {
		m, ok := found[src.Object]
		if !ok {
			return "the weekly file was compacted from " + src.Object + ", which the week no longer has"
		}
		if m.SHA256 != src.SHA256 || m.Rows != src.Rows {
			return "the weekly file was compacted from another version of " + src.Object
		}
	}
	return ""
}

// readsBack reads the rows of daily piece m from the weekly file and compares their count and
// id range with m's manifest.
func (e *Exporter) readsBack(ctx context.Context, m manifest.Manifest, wkey string, weekly map[string]manifest.Manifest) (string, error) {
	if m.Rows == 0 {
		return "", nil
	}
	via := m
	if via.ObjectRemoved == nil {
		now := e.cfg.Now().UTC()
		via.ObjectRemoved, via.WeeklyObject = &now, wkey
	}
	pr, err := e.openPiece(ctx, via, weekly)
	if err != nil {
		return "", err
	}
	defer pr.Close()
	idSpec, _ := e.cfg.Spec.Column(e.cfg.Spec.IDColumn)
	idCol := e.cfg.Spec.Index(e.cfg.Spec.IDColumn)
	buf := make([]parquet.Row, e.cfg.BatchRows)
	var lo, hi uint64
	var n int64
	for {
		k, err := pr.Read(buf)
		for _, row := range buf[:k] {
			id := tablespec.ID(idSpec, row[idCol])
			if n == 0 || id < lo {
				lo = id
			}
			if n == 0 || id > hi {
				hi = id
			}
			n++
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// pieceRows fails at the end when the count differs: a reason, not a fault.
			if strings.Contains(err.Error(), "its manifest says") {
				return fmt.Sprintf("the weekly file does not hold the rows of %s: %v", m.Object, err), nil
			}
			return "", err
		}
	}
	if m.MinLogID != nil && m.MaxLogID != nil && (lo != *m.MinLogID || hi != *m.MaxLogID) {
		return fmt.Sprintf("the weekly file holds ids %d..%d of %s, its manifest says %d..%d", lo, hi, m.Object, *m.MinLogID, *m.MaxLogID), nil
	}
	return "", nil
}

// removeDaily marks m's manifest removed and deletes its object, under the window's lock so
// that no export replaces the object in between. The manifest goes first: at every moment the
// rows are readable, from the daily object or the weekly file. It returns nil when there was
// nothing to do (already removed, or the piece changed since it was checked).
func (e *Exporter) removeDaily(ctx context.Context, m manifest.Manifest, wkey string, dryRun bool) (*RemovedFile, error) {
	if m.ObjectRemoved != nil {
		// Removed before; a run killed between the manifest and the delete left the object.
		if !dryRun {
			if err := e.store.Delete(ctx, m.Object); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}
	if dryRun {
		return &RemovedFile{Object: m.Object, Rows: m.Rows, Bytes: m.Bytes, SHA256: m.SHA256}, nil
	}
	unlock, err := e.LockWindow(ctx, e.cfg.Grid.WindowAt(m.WindowStart))
	if err != nil {
		return nil, err
	}
	defer unlock()
	mkey := lake.ManifestKey(m.Object)
	data, etag, err := e.store.GetETag(ctx, mkey)
	if err != nil {
		return nil, err
	}
	cur, err := manifest.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", mkey, err)
	}
	if cur.SHA256 != m.SHA256 || cur.Rows != m.Rows || cur.ObjectRemoved != nil {
		return nil, nil // re-exported or removed meanwhile: the next run looks again
	}
	now := e.cfg.Now().UTC()
	cur.ObjectRemoved, cur.WeeklyObject = &now, wkey
	out, err := cur.Marshal()
	if err != nil {
		return nil, err
	}
	if _, err := e.store.PutIfMatch(ctx, mkey, out, "application/json", etag); err != nil {
		if errors.Is(err, s3store.ErrChanged) {
			return nil, nil
		}
		return nil, err
	}
	e.forgetManifests(e.cfg.Grid.WindowAt(m.WindowStart))
	if err := e.store.Delete(ctx, m.Object); err != nil {
		return nil, err
	}
	e.log.InfoContext(ctx, "daily file removed: its rows are in the week's file", "object", m.Object, "weekly", wkey, "rows", m.Rows)
	return &RemovedFile{Object: m.Object, Rows: m.Rows, Bytes: m.Bytes, SHA256: m.SHA256, RemovedAt: now}, nil
}

func (e *Exporter) readLifecycleRecord(ctx context.Context, week partition.Week) (LifecycleRecord, bool, error) {
	data, err := e.store.Get(ctx, e.cfg.Layout.LifecycleKey(week))
	if errors.Is(err, s3store.ErrNotFound) {
		return LifecycleRecord{}, false, nil
	}
	if err != nil {
		return LifecycleRecord{}, false, err
	}
	var rec LifecycleRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return LifecycleRecord{}, false, fmt.Errorf("%s: %w", e.cfg.Layout.LifecycleKey(week), err)
	}
	return rec, true, nil
}

// writeLifecycleRecord writes the week's record; the week's lock, held by the caller, makes it
// the only writer.
func (e *Exporter) writeLifecycleRecord(ctx context.Context, week partition.Week, rec LifecycleRecord) error {
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return e.store.Put(ctx, e.cfg.Layout.LifecycleKey(week), data, "application/json")
}
