// Package retention deletes from MySQL what the lake provably holds, and from the lake the daily
// files a verified weekly file replaces. A purge goes window by window: it takes the window's
// lock (the one every export of the window takes), re-verifies the window against its files
// row by row (every id MySQL holds must be in the file; a window that is not is re-exported
// first, or refused), records its intent in the window's manifest, and deletes only ids the
// file holds, in short primary-key chunks, then records that it is done. Killed at any point,
// the next run finds the intent and finishes; a row that committed into the window meanwhile
// is not in the file, so it is never deleted, and the next run exports it first (a purged
// window's export merges new rows into its file). See docs/retention.md.
package retention

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/logetl/logetl/internal/export"
	"github.com/logetl/logetl/internal/manifest"
	"github.com/logetl/logetl/internal/partition"
)

// Defaults of a purge's pacing, declared once for flags and constructors.
const (
	DefaultChunkRows = 1000
	DefaultPause     = 50 * time.Millisecond
	// DefaultMaxLockWaits is how many transactions may be waiting for row locks before the
	// purge stops to let them through.
	DefaultMaxLockWaits = 4
	// DefaultSlowChunk is how long a chunk may take before the purge takes it as a sign that
	// MySQL is busy and waits longer before the next one.
	DefaultSlowChunk = 500 * time.Millisecond
)

// Verdicts of a window's purge.
const (
	VerdictPurged         = "purged"          // verified, then its rows deleted
	VerdictRepairedPurged = "repaired-purged" // re-exported first (it did not verify), then purged
	VerdictEmpty          = "empty"           // no rows in MySQL: nothing to do
	VerdictRefused        = "refused"         // not verified: kept in MySQL, with the reason
	VerdictDryRun         = "dry-run"         // verified; would delete
)

// Config paces a purge.
type Config struct {
	ChunkRows    int           // ids per DELETE (DefaultChunkRows)
	Pause        time.Duration // between chunks (DefaultPause)
	MaxLockWaits int           // yield while more transactions wait for locks (DefaultMaxLockWaits)
	SlowChunk    time.Duration // a chunk slower than this doubles the pause (DefaultSlowChunk)
	Now          func() time.Time
	Log          *slog.Logger
}

// Purger purges one table.
type Purger struct {
	e   *export.Exporter
	cfg Config
}

// New returns the purger of the exporter's table.
func New(e *export.Exporter, cfg Config) *Purger {
	if cfg.ChunkRows <= 0 {
		cfg.ChunkRows = DefaultChunkRows
	}
	if cfg.Pause < 0 {
		cfg.Pause = 0
	} else if cfg.Pause == 0 {
		cfg.Pause = DefaultPause
	}
	if cfg.MaxLockWaits <= 0 {
		cfg.MaxLockWaits = DefaultMaxLockWaits
	}
	if cfg.SlowChunk <= 0 {
		cfg.SlowChunk = DefaultSlowChunk
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	cfg.Log = cfg.Log.With("table", e.Table())
	return &Purger{e: e, cfg: cfg}
}

// Result is one window's purge.
type Result struct {
	Window    partition.Window
	MySQLRows int64 // rows of the window in MySQL when the purge began
	FileRows  int64 // rows of the window in the lake
	Deleted   int64
	Verdict   string
	Reason    string // why a window was refused or repaired
	LateRows  int64  // rows committed into the window during the purge: kept, exported next
	// LongestChunk is the longest time one DELETE held its locks.
	LongestChunk time.Duration
}

// Progress is reported after every chunk, for heartbeats.
type Progress struct {
	Window  string `json:"window"`
	Deleted int64  `json:"deleted"`
	Of      int64  `json:"of"`
}

// ErrRefused marks a window the purge would not delete; the reason is in the error.
var ErrRefused = errors.New("window refused by the purge")

// PurgeWindow verifies one closed window against the lake and deletes its exported rows from
// MySQL. A refusal is a Result with VerdictRefused, not an error; errors are for what prevents
// deciding (MySQL or S3 down), which a retry resolves.
func (p *Purger) PurgeWindow(ctx context.Context, w partition.Window, dryRun bool, progress func(Progress)) (Result, error) {
	res := Result{Window: w}
	unlock, err := p.e.LockWindow(ctx, w)
	if err != nil {
		return res, err
	}
	defer unlock()
	tbl, err := p.e.MySQL(ctx)
	if err != nil {
		return res, err
	}
	mysqlIDs, err := tbl.IDs(ctx, w.Start, w.End)
	if err != nil {
		return res, err
	}
	res.MySQLRows = int64(len(mysqlIDs))
	ms, fileIDs, err := p.lake(ctx, w)
	if err != nil {
		return res, err
	}
	res.FileRows = int64(len(fileIDs))
	if len(mysqlIDs) == 0 {
		res.Verdict = VerdictEmpty
		if !dryRun {
			err = p.mark(ctx, ms, manifest.PurgeDone, 0)
		}
		return res, err
	}
	if missing := notIn(mysqlIDs, fileIDs); len(missing) > 0 {
		// The lake lacks rows MySQL has: a late commit, or a window never exported. Export
		// it (merging, if part of it was purged already) and verify again.
		if dryRun {
			res.Verdict, res.Deleted = VerdictDryRun, int64(len(mysqlIDs))
			res.Reason = fmt.Sprintf("%d of MySQL's %d rows are not in the lake: a purge exports them first", len(missing), len(mysqlIDs))
			return res, nil
		}
		p.cfg.Log.WarnContext(ctx, "window does not verify; re-exporting it before the purge", "window", w.String(), "rows_missing_from_lake", len(missing))
		if _, err := p.e.ExportLocked(ctx, w); err != nil {
			if export.IsPermanent(err) {
				res.Verdict, res.Reason = VerdictRefused, fmt.Sprintf("re-export failed: %v", err)
				return res, nil
			}
			return res, err
		}
		if ms, fileIDs, err = p.lake(ctx, w); err != nil {
			return res, err
		}
		res.FileRows = int64(len(fileIDs))
		if still := notIn(mysqlIDs, fileIDs); len(still) > 0 {
			res.Verdict, res.Reason = VerdictRefused, fmt.Sprintf("%d rows of MySQL are still not in the lake after a re-export", len(still))
			return res, nil
		}
		res.Reason = fmt.Sprintf("re-exported: %d rows were not in the lake", len(missing))
	}
	if err := checkManifests(ms, fileIDs); err != nil {
		res.Verdict, res.Reason = VerdictRefused, err.Error()
		return res, nil
	}
	if dryRun {
		res.Verdict = VerdictDryRun
		res.Deleted = int64(len(mysqlIDs))
		return res, nil
	}

	// From here MySQL may miss rows the lake holds: say so in the manifests first, so that any
	// later export of the window merges instead of replacing the file from MySQL.
	if err := p.mark(ctx, ms, manifest.PurgeDeleting, 0); err != nil {
		return res, err
	}
	pause := p.cfg.Pause
	for chunk := range slices.Chunk(mysqlIDs, p.cfg.ChunkRows) {
		if err := p.yield(ctx, tbl.DB(), &res, progress); err != nil {
			return res, err
		}
		start := time.Now()
		n, err := tbl.DeleteIDs(ctx, w.Start, w.End, chunk)
		if err != nil {
			return res, err
		}
		took := time.Since(start)
		res.LongestChunk = max(res.LongestChunk, took)
		res.Deleted += n
		if progress != nil {
			progress(Progress{Window: w.String(), Deleted: res.Deleted, Of: res.MySQLRows})
		}
		if took > p.cfg.SlowChunk {
			pause = min(2*pause+p.cfg.SlowChunk, 30*time.Second)
		} else {
			pause = p.cfg.Pause
		}
		if err := sleep(ctx, pause); err != nil {
			return res, err
		}
	}
	left, err := tbl.IDs(ctx, w.Start, w.End)
	if err != nil {
		return res, err
	}
	if undeleted := notIn(left, notIn(left, fileIDs)); len(undeleted) > 0 {
		return res, fmt.Errorf("purge %s: %d exported rows are still in MySQL after their delete", w, len(undeleted))
	}
	res.LateRows = int64(len(left))
	if err := p.mark(ctx, ms, manifest.PurgeDone, res.Deleted); err != nil {
		return res, err
	}
	res.Verdict = VerdictPurged
	if res.Reason != "" {
		res.Verdict = VerdictRepairedPurged
	}
	p.cfg.Log.InfoContext(ctx, "window purged", "window", w.String(), "deleted", res.Deleted, "late_rows_kept", res.LateRows, "longest_chunk", res.LongestChunk)
	return res, nil
}

// lake reads the window's manifests and the ids its files hold.
func (p *Purger) lake(ctx context.Context, w partition.Window) ([]manifest.Manifest, []uint64, error) {
	ms, err := p.e.WindowManifests(ctx, w)
	if err != nil {
		return nil, nil, err
	}
	var ids []uint64
	for _, m := range ms {
		if m.Rows == 0 {
			continue
		}
		got, err := p.e.PieceIDs(ctx, m)
		if err != nil {
			return nil, nil, err
		}
		ids = append(ids, got...)
	}
	slices.Sort(ids)
	return ms, ids, nil
}

// checkManifests re-verifies the files against their manifests: row counts and id ranges.
func checkManifests(ms []manifest.Manifest, ids []uint64) error {
	var rows int64
	var lo, hi uint64
	for i, m := range ms {
		rows += m.Rows
		if m.MinLogID != nil && (i == 0 || *m.MinLogID < lo) {
			lo = *m.MinLogID
		}
		if m.MaxLogID != nil && *m.MaxLogID > hi {
			hi = *m.MaxLogID
		}
	}
	if rows != int64(len(ids)) {
		return fmt.Errorf("the files hold %d rows, their manifests say %d", len(ids), rows)
	}
	if len(ids) > 0 && (ids[0] != lo || ids[len(ids)-1] != hi) {
		return fmt.Errorf("the files' ids run %d..%d, their manifests say %d..%d", ids[0], ids[len(ids)-1], lo, hi)
	}
	return nil
}

// mark records the purge's state in the window's manifests (and in ms).
func (p *Purger) mark(ctx context.Context, ms []manifest.Manifest, state string, deleted int64) error {
	now := p.cfg.Now().UTC()
	for i := range ms {
		m := &ms[i]
		if m.Purge != nil && m.Purge.State == state && deleted == 0 {
			continue
		}
		rec := manifest.Purge{State: state, StartedAt: now}
		if m.Purge != nil {
			rec.StartedAt, rec.Deleted = m.Purge.StartedAt, m.Purge.Deleted
		}
		if state == manifest.PurgeDone {
			rec.DoneAt = now
			rec.Deleted += deleted
			deleted = 0 // count them once, on the first piece
		}
		m.Purge = &rec
		if err := p.e.PutManifest(ctx, *m); err != nil {
			return err
		}
	}
	return nil
}

// yield waits while MySQL is busy: more transactions waiting for row locks than the limit.
func (p *Purger) yield(ctx context.Context, db *sql.DB, res *Result, progress func(Progress)) error {
	for wait := p.cfg.Pause + 100*time.Millisecond; ; wait = min(2*wait, 10*time.Second) {
		var name string
		var waits int64
		err := db.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'Innodb_row_lock_current_waits'").Scan(&name, &waits)
		if err != nil || waits <= int64(p.cfg.MaxLockWaits) {
			return nil // not measurable here: go on at the configured pace
		}
		p.cfg.Log.InfoContext(ctx, "purge yields to transactions waiting for locks", "waiting", waits, "pause", wait)
		if progress != nil {
			progress(Progress{Window: res.Window.String(), Deleted: res.Deleted, Of: res.MySQLRows})
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// notIn returns the ids of a (sorted) that are not in b (sorted).
func notIn(a, b []uint64) []uint64 {
	var out []uint64
	j := 0
	for _, x := range a {
		for j < len(b) && b[j] < x {
			j++
		}
		if j < len(b) && b[j] == x {
			continue
		}
		out = append(out, x)
	}
	return out
}
