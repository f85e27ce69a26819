package export

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/logetl/logetl/internal/lake"
	"github.com/logetl/logetl/internal/manifest"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/s3store"
)

// Status is the verdict on one window.
type Status string

// Verdicts of Verify and of the compaction's coverage check.
const (
	StatusOK      Status = "ok"      // the files hold exactly MySQL's rows
	StatusEmpty   Status = "empty"   // no rows in MySQL, no file, and the coverage says it was exported
	StatusPurged  Status = "purged"  // retention deleted the rows from MySQL; the files hold them
	StatusPurging Status = "purging" // a purge began: MySQL holds part of the file's rows, no more
	StatusNoFile  Status = "no-file" // no rows, no file, never exported: accepted with AllowMissingEmpty
	// StatusUncovered is a window without rows anywhere that was never recorded as exported
	// (before the pipeline ran, or a run that never happened); a repair records it.
	StatusUncovered Status = "uncovered"
	StatusMissing   Status = "missing"  // MySQL has rows the lake has no file for
	StatusMismatch  Status = "mismatch" // the manifests' rows differ from MySQL's count
	// StatusCorrupt is a manifest that exists and does not parse, or does not match its object
	// (missing, another size or ETag) or its window.
	StatusCorrupt  Status = "corrupt"
	StatusRepaired Status = "repaired" // was wrong, re-exported, now ok
)

// Good reports whether a window with this status needs no action.
func (s Status) Good() bool {
	switch s {
	case StatusOK, StatusEmpty, StatusPurged, StatusPurging, StatusNoFile, StatusRepaired:
		return true
	}
	return false
}

// WindowStatus compares one grid window of MySQL with its daily files.
type WindowStatus struct {
	Window    partition.Window
	MySQLRows int64
	FileRows  int64 // sum of the rows of the manifests found
	Files     int   // manifests found
	Pieces    int   // day pieces of the window inside the checked range
	Status    Status
	Detail    string
}

// Good reports whether the window needs no action.
func (s WindowStatus) Good() bool { return s.Status.Good() }

// MaxReportedProblems bounds the problem windows a Report lists (it counts them all).
const MaxReportedProblems = 1000

// Report is the result of Verify: counts by status over the whole range, and the problems.
type Report struct {
	Table    string
	From, To time.Time
	Windows  int64
	Counts   map[Status]int64
	// Problems lists up to MaxReportedProblems windows that are not good, in window order,
	// except the uncovered ones; ProblemCount counts them all.
	Problems     []WindowStatus
	ProblemCount int64
	// Uncovered are the runs of windows without rows anywhere that were never recorded as
	// exported, merged: a repair records them in one coverage update.
	Uncovered []lake.Interval
	// Strays are objects under the table's partitions that are not a file or manifest of a
	// window of the table's grid: another grid's files, another zone's copies, stray uploads.
	Strays        []string
	StraysDeleted int
	// NullTimes counts MySQL rows whose time is NULL: they are in no window, never exported.
	NullTimes int64
}

// OK reports whether every window is good and nothing stray lies in the partitions.
func (r Report) OK() bool { return r.ProblemCount == 0 && len(r.Strays) == r.StraysDeleted }

// Repaired counts the windows that Verify re-exported successfully.
func (r Report) Repaired() int64 { return r.Counts[StatusRepaired] }

// Summary is one line of counts by status.
func (r Report) Summary() string {
	var parts []string
	for _, s := range []Status{StatusOK, StatusEmpty, StatusPurged, StatusPurging, StatusNoFile, StatusRepaired, StatusUncovered, StatusMissing, StatusMismatch, StatusCorrupt} {
		if n := r.Counts[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	s := fmt.Sprintf("%s: %d windows %s..%s", r.Table, r.Windows, r.From.Format(time.RFC3339), r.To.Format(time.RFC3339))
	if len(parts) > 0 {
		s += ": " + strings.Join(parts, ", ")
	}
	if n := len(r.Strays); n > 0 {
		s += fmt.Sprintf("; %d stray objects", n)
		if r.StraysDeleted > 0 {
			s += fmt.Sprintf(" (%d deleted)", r.StraysDeleted)
		}
	}
	return s
}

// VerifyOptions tunes Verify.
type VerifyOptions struct {
	// Repair re-exports every window that is not good (records uncovered empty ones in the
	// coverage), then checks it again.
	Repair bool
	// AllowMissingEmpty accepts windows with no rows anywhere that were never exported (for
	// example before the pipeline was deployed). By default such a window is a problem, so
	// that a run the schedule skipped is found even when it had nothing to export.
	AllowMissingEmpty bool
	// DeleteStrays deletes the stray objects found (they are only ever reported otherwise).
	DeleteStrays bool
	// CoverUncovered records the uncovered windows in the coverage (the cheap part of a repair,
	// which needs no export), without re-exporting anything.
	CoverUncovered bool
	// Visit, if set, is called with every window's status in order (the CLI's --all-windows).
	Visit func(WindowStatus)
	// Progress is passed to the repairs' exports.
	Progress func(Progress)
	// MaxWindows refuses longer ranges (0: no limit).
	MaxWindows int64
}

// Verify compares, window by window over [from, to) (aligned to the grid), MySQL's row count
// with the rows of the daily manifests and the coverage, checks that each manifest's object is
// there with the manifest's size and ETag, and lists what does not belong in the partitions.
// With opts.Repair the bad windows are re-exported and checked again. The error is for
// failures to check (MySQL or S3 unreachable, a lake of another layout); a mismatch is in the
// report.
func (e *Exporter) Verify(ctx context.Context, from, to time.Time, opts VerifyOptions) (Report, error) {
	if !e.cfg.Grid.Aligned(from) || !e.cfg.Grid.Aligned(to) || !from.Before(to) {
		return Report{}, fmt.Errorf("verify %s: %w: range %s..%s must be on the %s grid, from before to", e.Table(), partition.ErrInvalid,
			from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), e.cfg.Grid.Length())
	}
	if n := int64(to.Sub(from) / e.cfg.Grid.Length()); opts.MaxWindows > 0 && n > opts.MaxWindows {
		return Report{}, fmt.Errorf("verify %s: %w: %d windows, the limit is %d (--max-range)", e.Table(), ErrRange, n, opts.MaxWindows)
	}
	if err := e.CheckLayout(ctx); err != nil {
		return Report{}, err
	}
	visit := opts.Visit
	if opts.Repair {
		visit = nil // the repaired statuses are the ones to show: visit after
	}
	rep, _, err := e.check(ctx, from, to, checkOptions{allowMissingEmpty: opts.AllowMissingEmpty, visit: visit, recheck: true})
	if err != nil {
		return rep, fmt.Errorf("verify %s %s..%s: %w", e.Table(), from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), err)
	}
	if tbl, err := e.openTable(ctx, false); err == nil {
		rep.NullTimes, _ = tbl.NullTimes(ctx)
	}
	if opts.DeleteStrays {
		for _, key := range rep.Strays {
			if err := e.store.Delete(ctx, key); err != nil {
				return rep, fmt.Errorf("delete stray %s: %w", key, err)
			}
			e.log.WarnContext(ctx, "deleted a stray object", "object", key)
			rep.StraysDeleted++
		}
	}
	if opts.CoverUncovered && !opts.Repair {
		return rep, e.coverUncovered(ctx, &rep)
	}
	if !opts.Repair {
		return rep, nil
	}
	if rep.ProblemCount-rep.Counts[StatusUncovered] > int64(len(rep.Problems)) {
		// More problems than one report lists: repair in passes.
		return e.repairAll(ctx, from, to, opts)
	}
	if err := e.repair(ctx, &rep, opts); err != nil {
		return rep, err
	}
	if opts.Visit != nil {
		again, _, err := e.check(ctx, from, to, checkOptions{allowMissingEmpty: opts.AllowMissingEmpty, visit: opts.Visit})
		if err != nil {
			return rep, err
		}
		again.Counts[StatusRepaired] = rep.Counts[StatusRepaired]
		again.Strays, again.StraysDeleted = rep.Strays, rep.StraysDeleted
		again.NullTimes = rep.NullTimes
		return again, nil
	}
	return rep, nil
}

// repair fixes the report's problem windows: uncovered empty windows in one coverage update,
// the others by re-exporting each and checking it again.
func (e *Exporter) repair(ctx context.Context, rep *Report, opts VerifyOptions) error {
	if err := e.coverUncovered(ctx, rep); err != nil {
		return err
	}
	var still []WindowStatus
	for _, ws := range rep.Problems {
		if _, err := e.ExportWindow(ctx, ws.Window, opts.Progress); err != nil {
			return fmt.Errorf("verify %s: repair: %w", e.Table(), err)
		}
		again, _, err := e.check(ctx, ws.Window.Start, ws.Window.End, checkOptions{allowMissingEmpty: opts.AllowMissingEmpty})
		if err != nil {
			return fmt.Errorf("verify %s: re-check %s: %w", e.Table(), ws.Window, err)
		}
		if again.ProblemCount == 0 {
			rep.Counts[ws.Status]--
			rep.Counts[StatusRepaired]++
			rep.ProblemCount--
			e.log.WarnContext(ctx, "repaired a window", "window", ws.Window.String(), "was", ws.Status, "mysql_rows", ws.MySQLRows, "file_rows", ws.FileRows)
			continue
		}
		still = append(still, again.Problems...)
	}
	rep.Problems = still
	return nil
}

// coverUncovered records the report's uncovered windows as exported: they have no rows
// anywhere, so recording them is their whole repair.
func (e *Exporter) coverUncovered(ctx context.Context, rep *Report) error {
	if len(rep.Uncovered) == 0 {
		return nil
	}
	if err := lake.AddCoverage(ctx, e.store, e.cfg.Layout, e.cfg.Now(), rep.Uncovered...); err != nil {
		return fmt.Errorf("verify %s: record uncovered windows: %w", e.Table(), err)
	}
	n := rep.Counts[StatusUncovered]
	rep.Counts[StatusUncovered] = 0
	rep.Counts[StatusEmpty] += n
	rep.ProblemCount -= n
	rep.Uncovered = nil
	return nil
}

// repairAll repairs a range with more problems than a report lists, a day at a time.
func (e *Exporter) repairAll(ctx context.Context, from, to time.Time, opts VerifyOptions) (Report, error) {
	total := Report{Table: e.Table(), From: from.UTC(), To: to.UTC(), Counts: map[Status]int64{}}
	step := e.cfg.Grid.Length() * time.Duration(max(int64(1), int64(24*time.Hour/e.cfg.Grid.Length())))
	for s := from; s.Before(to); s = s.Add(step) {
		end := s.Add(step)
		if end.After(to) {
			end = to
		}
		o := opts
		o.DeleteStrays = false
		rep, err := e.Verify(ctx, s, end, o)
		if err != nil {
			return total, err
		}
		total.Windows += rep.Windows
		for k, v := range rep.Counts {
			total.Counts[k] += v
		}
		total.ProblemCount += rep.ProblemCount
		if room := MaxReportedProblems - len(total.Problems); room > 0 {
			total.Problems = append(total.Problems, rep.Problems[:min(room, len(rep.Problems))]...)
		}
		total.Strays = append(total.Strays, rep.Strays...)
		total.Uncovered = append(total.Uncovered, rep.Uncovered...)
		total.NullTimes = rep.NullTimes
	}
	return total, nil
}

type checkOptions struct {
	allowMissingEmpty bool
	visit             func(WindowStatus)
	// recheck re-checks a bad window under its lock before reporting it: a window that another
	// process is rewriting at this moment is then seen in its finished state.
	recheck bool
	// found returns the good daily manifests by object key (for the compaction).
	found bool
}

// maxRechecks bounds the windows re-checked under their lock in one check.
const maxRechecks = 64

// listedObject is an object of a day partition with what its name says.
type listedObject struct {
	s3store.ObjectInfo
	key lake.Key
}

// check compares MySQL with the daily manifests and the coverage for the grid windows of
// [from, to), whose bounds must be grid boundaries or local midnights; only the day pieces
// inside [from, to) are expected.
func (e *Exporter) check(ctx context.Context, from, to time.Time, opts checkOptions) (Report, map[string]manifest.Manifest, error) {
	grid, layout := e.cfg.Grid, e.cfg.Layout
	rep := Report{Table: e.Table(), From: from.UTC(), To: to.UTC(), Counts: map[Status]int64{}}
	tbl, err := e.openTable(ctx, false)
	if err != nil {
		return rep, nil, err
	}
	counts, err := tbl.CountWindows(ctx, from, to, grid.Length())
	if err != nil {
		return rep, nil, err
	}
	mysqlRows := make(map[int64]int64, len(counts))
	for _, c := range counts {
		mysqlRows[c.Start.Unix()] = c.Rows
	}
	cov, _, err := lake.ReadCoverage(ctx, e.store, layout)
	if err != nil {
		return rep, nil, err
	}

	// One ranged listing of the day partitions [first day, day after the last].
	days := grid.Days(from, to)
	after := strings.TrimSuffix(layout.DayPrefix(days[0]), "/")
	// The listing runs to the end of the day after the range, where another zone's copies of
	// the range's last windows would lie.
	_, lastEnd, err := grid.DayRange(days[len(days)-1])
	if err != nil {
		return rep, nil, err
	}
	_, nextEnd, err := grid.DayRange(grid.Day(lastEnd))
	if err != nil {
		return rep, nil, err
	}
	before := layout.DayPrefix(grid.Day(nextEnd))
	listed, err := e.store.ListRange(ctx, layout.PartitionsPrefix(partition.Daily), after, before)
	if err != nil {
		return rep, nil, err
	}
	objects := map[string]listedObject{}
	byWindow := map[int64][]string{} // grid window start → its parquet keys listed
	for _, o := range listed {
		k, ok := layout.ParseKey(o.Key)
		if !ok || !e.validPiece(k) {
			rep.Strays = append(rep.Strays, o.Key)
			continue
		}
		objects[o.Key] = listedObject{ObjectInfo: o, key: k}
		if !k.Manifest {
			ws := grid.Floor(k.Window.Start).Unix()
			byWindow[ws] = append(byWindow[ws], o.Key)
		}
	}
	// Manifests without their object and objects without a manifest, per window.
	var manifestKeys []string
	for key, o := range objects {
		if !o.key.Manifest {
			continue
		}
		ws := grid.Floor(o.key.Window.Start)
		if ws.Before(grid.Floor(from)) || !ws.Before(to) {
			continue
		}
		manifestKeys = append(manifestKeys, key)
		if _, hasObject := objects[o.key.Parquet]; !hasObject {
			byWindow[ws.Unix()] = append(byWindow[ws.Unix()], o.key.Parquet)
		}
	}
	sort.Strings(manifestKeys)
	manifests, bad, err := e.fetchManifests(ctx, manifestKeys, objects)
	if err != nil {
		return rep, nil, err
	}

	held, err := e.heldByWeeklies(ctx, manifests, objects)
	if err != nil {
		return rep, nil, err
	}

	found := map[string]manifest.Manifest{}
	var rechecks int
	for s := grid.Floor(from); s.Before(to); s = s.Add(grid.Length()) {
		w := partition.Window{Start: s, End: s.Add(grid.Length())}
		rep.Windows++
		m := mysqlRows[s.Unix()]
		var ws WindowStatus
		if m == 0 && len(byWindow[s.Unix()]) == 0 {
			// The fast path of the long empty stretches: no rows, no object.
			ws = WindowStatus{Window: w, Pieces: 1, Status: StatusEmpty}
			if !cov.Covers(w.Start, w.End) {
				ws.Status = StatusUncovered
				if opts.allowMissingEmpty {
					ws.Status = StatusNoFile
				}
			}
		} else {
			ws = e.judge(w, from, to, m, objects, manifests, bad, held, cov, opts.allowMissingEmpty, found)
		}
		if !ws.Good() && opts.recheck && rechecks < maxRechecks {
			rechecks++
			if again, ok := e.recheck(ctx, w, opts); ok {
				ws = again
			}
		}
		rep.Counts[ws.Status]++
		switch {
		case ws.Good():
		case ws.Status == StatusUncovered:
			rep.ProblemCount++
			if n := len(rep.Uncovered); n > 0 && rep.Uncovered[n-1].End.Equal(w.Start) {
				rep.Uncovered[n-1].End = w.End
			} else {
				rep.Uncovered = append(rep.Uncovered, lake.Interval{Start: w.Start, End: w.End})
			}
		default:
			rep.ProblemCount++
			if len(rep.Problems) < MaxReportedProblems {
				rep.Problems = append(rep.Problems, ws)
			}
		}
		if opts.visit != nil {
			opts.visit(ws)
		}
	}
	if !opts.found {
		found = nil
	}
	return rep, found, nil
}

// validPiece tells whether a listed key names a piece of this table's grid in the partition
// of its local day: files of another window length, or of another time zone's days, are not.
func (e *Exporter) validPiece(k lake.Key) bool {
	if k.Granularity != partition.Daily {
		return false
	}
	grid := e.cfg.Grid
	if !grid.Aligned(grid.Floor(k.Window.Start)) {
		return false
	}
	for _, p := range grid.Pieces(grid.WindowAt(k.Window.Start)) {
		if p.Window == k.Window && lake.DayPart+p.Day == k.Partition {
			return true
		}
	}
	return false
}

// judge decides the status of a window that has rows or objects.
func (e *Exporter) judge(w partition.Window, from, to time.Time, mysqlRows int64, objects map[string]listedObject, manifests map[string]manifest.Manifest,
	bad, held map[string]error, cov lake.Coverage, allowMissingEmpty bool, found map[string]manifest.Manifest) WindowStatus {
	ws := WindowStatus{Window: w, MySQLRows: mysqlRows}
	var details []string
	corrupt, missing := false, 0
	purged, deleting := 0, 0
	var good []manifest.Manifest
	for _, p := range e.cfg.Grid.Pieces(w) {
		if p.Window.Start.Before(from) || p.Window.End.After(to) {
			continue
		}
		ws.Pieces++
		key := e.cfg.Layout.DailyKey(p)
		mkey := lake.ManifestKey(key)
		if perr, ok := bad[mkey]; ok {
			corrupt = true
			details = append(details, fmt.Sprintf("%s: %v", mkey, perr))
			continue
		}
		m, ok := manifests[mkey]
		if !ok {
			missing++
			if _, orphan := objects[key]; orphan {
				details = append(details, "object without manifest "+key)
			}
			continue
		}
		ws.Files++
		ws.FileRows += m.Rows
		obj, exists := objects[key]
		switch {
		case m.Object != key || !m.WindowStart.Equal(p.Window.Start) || !m.WindowEnd.Equal(p.Window.End):
			corrupt = true
			details = append(details, fmt.Sprintf("%s describes %s %s..%s", mkey, m.Object, m.WindowStart.Format(time.RFC3339), m.WindowEnd.Format(time.RFC3339)))
			continue
		case m.ObjectRemoved != nil || !exists:
			// The lifecycle (logetl's, or a bucket rule) removed the daily object: the week's
			// file must hold this very version of it.
			if err := held[mkey]; err != nil {
				corrupt = true
				details = append(details, err.Error())
				continue
			}
			if m.ObjectRemoved != nil && exists {
				details = append(details, "object present though its manifest says removed (the next lifecycle run deletes it)")
			}
		case obj.Size != m.Bytes:
			corrupt = true
			details = append(details, fmt.Sprintf("%s is %d bytes, its manifest says %d", key, obj.Size, m.Bytes))
			continue
		case m.ETag != "" && obj.ETag != "" && obj.ETag != m.ETag:
			corrupt = true
			details = append(details, fmt.Sprintf("%s is not the object its manifest describes (ETag %s, manifest %s)", key, obj.ETag, m.ETag))
			continue
		}
		if m.Purge != nil {
			purged++
			if m.Purge.State == manifest.PurgeDeleting {
				deleting++
			}
		}
		good = append(good, m)
	}
	switch {
	case corrupt:
		ws.Status = StatusCorrupt
	case purged > 0 && deleting > 0 && mysqlRows <= ws.FileRows:
		ws.Status = StatusPurging
	case purged > 0 && mysqlRows == 0:
		ws.Status = StatusPurged
	case purged > 0:
		ws.Status = StatusMismatch
		details = append(details, fmt.Sprintf("%d rows committed to MySQL after the window was purged", mysqlRows))
	case ws.Files == 0 && mysqlRows == 0:
		switch {
		case cov.Covers(w.Start, w.End):
			ws.Status = StatusEmpty
		case allowMissingEmpty:
			ws.Status = StatusNoFile
		default:
			ws.Status = StatusUncovered
		}
	case ws.Files == 0:
		ws.Status = StatusMissing
	case ws.FileRows != mysqlRows:
		ws.Status = StatusMismatch
		details = append(details, fmt.Sprintf("%+d rows in MySQL", mysqlRows-ws.FileRows))
	default:
		// Pieces without a manifest are pieces without rows (a window across midnight with
		// rows on one side only): the counts agree.
		ws.Status = StatusOK
	}
	if ws.Good() {
		for _, m := range good {
			found[m.Object] = m
		}
	}
	_ = missing
	ws.Detail = strings.Join(details, "; ")
	return ws
}

// heldByWeeklies checks, for every daily manifest whose object is gone (or marked removed),
// that its week's file holds it: listed among the week's sources with the same rows and
// checksum, and present as its manifest describes it. The result maps each such manifest key to
// nil, or to the reason the rows are not in the lake.
func (e *Exporter) heldByWeeklies(ctx context.Context, manifests map[string]manifest.Manifest, objects map[string]listedObject) (map[string]error, error) {
	held := map[string]error{}
	weekly := map[string]manifest.Manifest{}
	present := map[string]error{} // weekly object key → nil when it is there as described
	for mkey, m := range manifests {
		if _, exists := objects[m.Object]; exists && m.ObjectRemoved == nil {
			continue
		}
		wm, err := e.weeklyHolding(ctx, m, weekly)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			held[mkey] = err
			continue
		}
		perr, ok := present[wm.Object]
		if !ok {
			info, err := e.store.Stat(ctx, wm.Object)
			switch {
			case errors.Is(err, s3store.ErrNotFound):
				perr = fmt.Errorf("daily file %s is gone and so is its week's file %s", m.Object, wm.Object)
			case err != nil:
				return nil, err
			case info.Size != wm.Bytes || (wm.ETag != "" && info.ETag != "" && info.ETag != wm.ETag):
				perr = fmt.Errorf("daily file %s is gone and its week's file %s is not the one its manifest describes", m.Object, wm.Object)
			}
			present[wm.Object] = perr
		}
		held[mkey] = perr
	}
	return held, nil
}

// recheck checks one window again while holding its lock, so that a rewrite in progress (a
// re-export replacing the object before the manifest, a first export between object and
// manifest) is seen finished. ok is false if the lock could not be had quickly.
func (e *Exporter) recheck(ctx context.Context, w partition.Window, opts checkOptions) (WindowStatus, bool) {
	unlock, err := e.lock(ctx, windowLock(w), 30*time.Second)
	if err != nil {
		return WindowStatus{}, false
	}
	defer unlock()
	e.forgetManifests(w)
	o := opts
	o.recheck = false
	var got WindowStatus
	o.visit = func(ws WindowStatus) { got = ws }
	rep, _, err := e.check(ctx, w.Start, w.End, o)
	if err != nil || rep.Windows != 1 {
		return WindowStatus{}, false
	}
	return got, true
}

// forgetManifests drops the cached manifests of a window's pieces.
func (e *Exporter) forgetManifests(w partition.Window) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range e.cfg.Grid.Pieces(w) {
		delete(e.manifests, lake.ManifestKey(e.cfg.Layout.DailyKey(p)))
	}
}

// maxCachedManifests bounds the manifest cache (a week of one-minute windows is 10,080).
const maxCachedManifests = 200_000

// fetchManifests reads manifests in parallel, reusing the cached ones whose ETag the listing
// still shows (a verify every few minutes re-reads only what changed). Unparsable or vanished
// ones are returned in bad; an S3 failure (network, permissions) is the error.
func (e *Exporter) fetchManifests(ctx context.Context, keys []string, listed map[string]listedObject) (map[string]manifest.Manifest, map[string]error, error) {
	const workers = 8
	var (
		mu       sync.Mutex
		good     = make(map[string]manifest.Manifest, len(keys))
		bad      = make(map[string]error)
		firstErr error
		wg       sync.WaitGroup
	)
	var todo []string
	e.mu.Lock()
	for _, k := range keys {
		if c, ok := e.manifests[k]; ok && c.etag != "" && c.etag == listed[k].ETag {
			good[k] = c.m
			continue
		}
		todo = append(todo, k)
	}
	e.mu.Unlock()
	ch := make(chan string)
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range ch {
				data, etag, err := e.store.GetETag(ctx, k)
				var m manifest.Manifest
				if err == nil {
					m, err = manifest.Parse(data)
				}
				mu.Lock()
				switch {
				case err == nil:
					good[k] = m
					e.mu.Lock()
					if len(e.manifests) >= maxCachedManifests {
						clear(e.manifests)
					}
					e.manifests[k] = cachedManifest{etag: etag, m: m}
					e.mu.Unlock()
				case errors.Is(err, manifest.ErrInvalid) || errors.Is(err, s3store.ErrNotFound):
					bad[k] = err
				case firstErr == nil:
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	for _, k := range todo {
		select {
		case ch <- k:
		case <-ctx.Done():
		}
	}
	close(ch)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return good, bad, firstErr
}
