package bench

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/logetl/logetl/internal/export"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/retention"
	"github.com/logetl/logetl/internal/synthetic"
)

// PurgeRun is one deletion of the purge window's rows.
type PurgeRun struct {
	What       string  `json:"what"`
	Rows       int64   `json:"rows"`
	Seconds    float64 `json:"seconds"`
	RowsPerSec float64 `json:"rows_per_sec"`
	ChunkRows  int     `json:"chunk_rows"`
	PauseMs    float64 `json:"pause_ms"`
	// LongestChunkMs is the longest time one chunk's DELETE (its own autocommitted
	// transaction) held its locks.
	LongestChunkMs float64 `json:"longest_chunk_ms"`
}

// PurgeResult compares internal/retention's purge of a window with a bare chunked DELETE of the
// same rows (reloaded from the same seed) on the same database.
type PurgeResult struct {
	Window string `json:"window"`
	// Purge is the purge as shipped (its chunk size and pause), PurgeNoPause the same without
	// the pause between chunks, Bare the loop of DELETE ... ORDER BY id LIMIT n.
	Purge        PurgeRun `json:"purge"`
	PurgeNoPause PurgeRun `json:"purge_no_pause"`
	Bare         PurgeRun `json:"bare_delete"`
	// Ratio is PurgeNoPause.RowsPerSec over Bare.RowsPerSec: the cost of verifying first.
	Ratio float64 `json:"ratio_no_pause_to_bare"`
}

func benchPurge(ctx context.Context, db *sql.DB, store export.Store, t Table, w partition.Window, seed uint64, opts Options, logf func(string, ...any)) (PurgeResult, error) {
	res := PurgeResult{Window: w.String()}
	load := func() (synthetic.Result, error) {
		if _, err := db.ExecContext(ctx, "DELETE FROM activity_log WHERE occurred_at >= ? AND occurred_at < ?", w.Start, w.End); err != nil {
			return synthetic.Result{}, fmt.Errorf("purge: clear the window: %w", err)
		}
		r, err := t.load(ctx, db, synthetic.Options{Rows: opts.PurgeRows, Seed: seed + 50, Start: w.Start, End: w.End})
		if err == nil && r.Rows != int64(opts.PurgeRows) {
			err = fmt.Errorf("loaded %d rows of %d", r.Rows, opts.PurgeRows)
		}
		if err != nil {
			return r, fmt.Errorf("purge: load the window: %w", err)
		}
		return r, nil
	}
	for _, run := range []struct {
		into  *PurgeRun
		pause time.Duration
	}{{&res.Purge, opts.Purge.Pause}, {&res.PurgeNoPause, -1}} {
		if _, err := load(); err != nil {
			return res, err
		}
		exp, err := newExporter(db, store, t.Spec, w.End.Sub(w.Start), opts.Settings)
		if err != nil {
			return res, err
		}
		if _, err := exp.ExportWindow(ctx, w, nil); err != nil {
			return res, fmt.Errorf("purge: export the window first: %w", err)
		}
		cfg := opts.Purge
		cfg.Pause = run.pause // retention: 0 is its default, negative none
		if cfg.Pause == 0 {
			cfg.Pause = retention.DefaultPause
		}
		pauseMs := float64(max(cfg.Pause, 0).Microseconds()) / 1000
		began := time.Now()
		r, err := retention.New(exp, cfg).PurgeWindow(ctx, w, false, nil)
		if err != nil {
			return res, fmt.Errorf("purge: %w", err)
		}
		d := time.Since(began)
		if r.Verdict != retention.VerdictPurged || r.Deleted != int64(opts.PurgeRows) {
			return res, fmt.Errorf("purge of %s: verdict %s (%s), %d of %d rows deleted", w, r.Verdict, r.Reason, r.Deleted, opts.PurgeRows)
		}
		*run.into = PurgeRun{What: "internal/retention PurgeWindow (verify against the file, then delete its ids)", Rows: r.Deleted,
			Seconds: d.Seconds(), RowsPerSec: float64(r.Deleted) / d.Seconds(), ChunkRows: cfg.ChunkRows, PauseMs: pauseMs,
			LongestChunkMs: float64(r.LongestChunk.Microseconds()) / 1000}
		logf("  purge (pause %.0f ms): %.0f rows/s, longest chunk %.1f ms", pauseMs, run.into.RowsPerSec, run.into.LongestChunkMs)
	}

	loaded, err := load()
	if err != nil {
		return res, err
	}
	bare, err := bareDelete(ctx, db, loaded.FirstID, loaded.LastID, opts.BareChunkRows)
	if err != nil {
		return res, err
	}
	if bare.Rows != int64(opts.PurgeRows) {
		return res, fmt.Errorf("bare DELETE removed %d rows of %d", bare.Rows, opts.PurgeRows)
	}
	res.Bare = bare
	if bare.RowsPerSec > 0 {
		res.Ratio = res.PurgeNoPause.RowsPerSec / bare.RowsPerSec
	}
	logf("  bare chunked DELETE: %.0f rows/s, longest chunk %.1f ms", bare.RowsPerSec, bare.LongestChunkMs)
	return res, nil
}

// bareDelete is what a cron job would do: DELETE ... ORDER BY id LIMIT n, autocommitted, until
// nothing is left of the id range, with no pause and no check of the lake.
func bareDelete(ctx context.Context, db *sql.DB, first, last uint64, chunk int) (PurgeRun, error) {
	run := PurgeRun{What: "DELETE FROM activity_log WHERE id BETWEEN ? AND ? ORDER BY id LIMIT n, autocommitted, in a loop", ChunkRows: chunk}
	began := time.Now()
	var longest time.Duration
	for {
		t0 := time.Now()
		r, err := db.ExecContext(ctx, "DELETE FROM activity_log WHERE id BETWEEN ? AND ? ORDER BY id LIMIT ?", first, last, chunk)
		if err != nil {
			return run, fmt.Errorf("bare DELETE: %w", err)
		}
		longest = max(longest, time.Since(t0))
		n, err := r.RowsAffected()
		if err != nil {
			return run, err
		}
		run.Rows += n
		if n == 0 {
			break
		}
	}
	d := time.Since(began)
	run.Seconds, run.RowsPerSec = d.Seconds(), float64(run.Rows)/d.Seconds()
	run.LongestChunkMs = float64(longest.Microseconds()) / 1000
	return run, nil
}
