package export

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/logetl/logetl/internal/manifest"
	"github.com/logetl/logetl/internal/parquetlog"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/s3store"
)

// CompactWeek writes the weekly file of an ISO week, weekly/week=YYYY-Www/part-YYYY-Www.parquet,
// covering [Monday 00:00, min(next Monday 00:00, upTo floored to the grid)) in the grid's time
// zone. Production compacts a closed week (upTo at or after its end); the dev profile compacts
// the week to date every few minutes, rewriting the same key.
//
// The weekly file is built from the week's daily files, not from MySQL: it puts no load on the
// operational database, needs no keys (ciphertexts and pseudonyms carry over unchanged), and is
// by construction the union of the dailies that readers already trust. Before writing, one
// GROUP BY in MySQL counts every grid window of the range; each window with rows must have its
// daily manifests with exactly that count (windows without rows may lack them), otherwise a
// *CoverageError lists the windows. After writing, the weekly row count must equal the sum of
// the daily manifests' rows, or the upload is aborted. The weekly manifest lists its sources.
func (e *Exporter) CompactWeek(ctx context.Context, week partition.Week, upTo time.Time, progress func(Progress)) (manifest.Manifest, error) {
	m, err := e.compactWeek(ctx, week, upTo, progress)
	if err != nil {
		return manifest.Manifest{}, fmt.Errorf("compact week %s: %w", week, err)
	}
	return m, nil
}

func (e *Exporter) compactWeek(ctx context.Context, week partition.Week, upTo time.Time, progress func(Progress)) (manifest.Manifest, error) {
	grid := e.cfg.Grid
	ws, we, err := grid.WeekRange(week)
	if err != nil {
		return manifest.Manifest{}, err
	}
	to := grid.Floor(upTo)
	if we.Before(to) {
		to = we
	}
	if !to.After(ws) {
		return manifest.Manifest{}, fmt.Errorf("%w: up-to %s is not after the week's start %s", partition.ErrInvalid, upTo.UTC().Format(time.RFC3339), ws.Format(time.RFC3339))
	}
	var windows []partition.Window
	for s := grid.Floor(ws); s.Before(to); s = s.Add(grid.Length()) {
		windows = append(windows, partition.Window{Start: s, End: s.Add(grid.Length())})
	}
	statuses, found, err := e.check(ctx, ws, to, windows, true)
	if err != nil {
		return manifest.Manifest{}, fmt.Errorf("coverage check: %w", err)
	}
	var problems []WindowStatus
	for _, s := range statuses {
		if !s.Good() {
			problems = append(problems, s)
		}
	}
	if len(problems) > 0 {
		return manifest.Manifest{}, &CoverageError{Week: week, Problems: problems}
	}

	var sources []manifest.Manifest
	var want int64
	for _, w := range windows {
		for _, p := range grid.Pieces(w) {
			if m, ok := found[e.cfg.Layout.DailyKey(p)]; ok {
				sources = append(sources, m)
				want += m.Rows
			}
		}
	}

	key := e.cfg.Layout.WeeklyKey(week)
	unlock, err := e.lockKey(ctx, key)
	if err != nil {
		return manifest.Manifest{}, err
	}
	defer unlock()
	if err := e.store.Delete(ctx, partition.ManifestKey(key)); err != nil {
		return manifest.Manifest{}, fmt.Errorf("remove old manifest: %w", err)
	}
	hmacIDs, aeadIDs, modes := union(sources, func(m manifest.Manifest) string { return m.HMACKeyID }),
		union(sources, func(m manifest.Manifest) string { return m.AEADKeyID }),
		union(sources, func(m manifest.Manifest) string { return m.FieldEncryption })
	if modes == "" { // an empty week: no source to inherit from
		modes = e.cfg.FieldEncryption
	}

	g, cctx := errgroup.WithContext(ctx)
	var (
		info s3store.UploadInfo
		st   pieceStats
	)
	mt := e.streamUpload(cctx, g, key, &info, func(mt *meter) error {
		return e.writeWeek(cctx, mt, sources, want, &st, key, progress,
			e.fileMetadata(manifest.GranularityWeek, ws, to, hmacIDs, aeadIDs, modes))
	})
	if err := g.Wait(); err != nil {
		return manifest.Manifest{}, fmt.Errorf("write %s: %w", key, err)
	}
	if info.Size != mt.n {
		return manifest.Manifest{}, fmt.Errorf("write %s: uploaded %d bytes of %d produced", key, info.Size, mt.n)
	}

	man := manifest.Manifest{
		ManifestVersion: manifest.Version,
		Table:           partition.Table,
		Granularity:     manifest.GranularityWeek,
		WindowStart:     ws,
		WindowEnd:       to,
		Partition:       "week=" + week.String(),
		TimeZone:        grid.Location().String(),
		Object:          key,
		Rows:            st.rows,
		Bytes:           mt.n,
		SHA256:          hex.EncodeToString(mt.h.Sum(nil)),
		SchemaVersion:   parquetlog.SchemaVersion,
		Compression:     e.cfg.Compression,
		FieldEncryption: modes,
		HMACKeyID:       hmacIDs,
		AEADKeyID:       aeadIDs,
		WriterVersion:   e.cfg.WriterVersion,
		CreatedAt:       e.cfg.Now().UTC(),
		Sources:         make([]manifest.Source, 0, len(sources)),
	}
	if st.hasRows {
		lo, hi := st.minID, st.maxID
		man.MinLogID, man.MaxLogID = &lo, &hi
	}
	for _, s := range sources {
		man.Sources = append(man.Sources, manifest.Source{Object: s.Object, Rows: s.Rows, SHA256: s.SHA256})
	}
	if err := e.putManifest(ctx, man); err != nil {
		return manifest.Manifest{}, err
	}
	slog.DebugContext(ctx, "compacted week", "object", key, "rows", man.Rows, "sources", len(sources))
	return man, nil
}

// writeWeek streams the rows of every source file, in window order, into one Parquet file.
func (e *Exporter) writeWeek(ctx context.Context, mt *meter, sources []manifest.Manifest, want int64, st *pieceStats,
	key string, progress func(Progress), meta map[string]string) error {
	bw := bufio.NewWriterSize(mt, 256<<10)
	w, err := parquetlog.NewWriter(bw, parquetlog.WriterOptions{
		Compression:  e.cfg.Compression,
		RowGroupRows: e.cfg.RowGroupRows,
		PlainSealed:  meta[parquetlog.MetaFieldEncryption] == PerValue, // unique ciphertexts: no dictionary
		Metadata:     meta,
	})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	buf := make([]parquetlog.Row, e.cfg.BatchRows)
	var sinceReport int64
	for _, src := range sources {
		if src.Rows == 0 {
			continue
		}
		if err := e.copyDaily(ctx, src, w, buf, st, func(n int64) {
			sinceReport += n
			if progress != nil && sinceReport >= e.cfg.ProgressEvery {
				sinceReport = 0
				progress(Progress{Object: key, Rows: st.rows, Bytes: mt.n})
			}
		}); err != nil {
			return err
		}
	}
	if st.rows != want {
		return fmt.Errorf("weekly file would hold %d rows, the daily manifests say %d", st.rows, want)
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if progress != nil {
		progress(Progress{Object: key, Rows: st.rows, Bytes: mt.n})
	}
	return nil
}

func (e *Exporter) copyDaily(ctx context.Context, src manifest.Manifest, w *parquetlog.Writer, buf []parquetlog.Row, st *pieceStats, onRows func(int64)) error {
	obj, err := e.store.Open(ctx, src.Object)
	if err != nil {
		return err
	}
	if obj.Size() != src.Bytes {
		return fmt.Errorf("daily file %s is %d bytes, its manifest says %d", src.Object, obj.Size(), src.Bytes)
	}
	r, err := parquetlog.OpenReader(obj, obj.Size())
	if err != nil {
		return fmt.Errorf("daily file %s: %w", src.Object, err)
	}
	defer r.Close()
	if r.NumRows() != src.Rows {
		return fmt.Errorf("daily file %s holds %d rows, its manifest says %d", src.Object, r.NumRows(), src.Rows)
	}
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			for i := 0; i < n; i++ {
				id := uint64(buf[i].LogID)
				if !st.hasRows || id < st.minID {
					st.minID = id
				}
				if !st.hasRows || id > st.maxID {
					st.maxID = id
				}
				st.hasRows = true
			}
			if err := w.Write(buf[:n]); err != nil {
				return err
			}
			st.rows += int64(n)
			onRows(int64(n))
		}
		if errors.Is(rerr, io.EOF) {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("read daily file %s: %w", src.Object, rerr)
		}
		if err := context.Cause(ctx); err != nil {
			return err
		}
	}
}

// union joins the distinct values of a field over the sources, in order of first appearance.
func union(ms []manifest.Manifest, field func(manifest.Manifest) string) string {
	var out []string
	seen := map[string]bool{}
	for _, m := range ms {
		for _, v := range strings.Split(field(m), ",") {
			if v != "" && !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	return strings.Join(out, ",")
}
