package export

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"golang.org/x/sync/errgroup"

	"github.com/logetl/logetl/internal/lake"
	"github.com/logetl/logetl/internal/manifest"
	"github.com/logetl/logetl/internal/parquetlog"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/s3store"
	"github.com/logetl/logetl/internal/tablespec"
)

// WeekRange is the part of an ISO week a compaction covers: [Monday 00:00, min(next Monday,
// upTo floored to the grid)) in the grid's time zone.
func (e *Exporter) WeekRange(week partition.Week, upTo time.Time) (time.Time, time.Time, error) {
	ws, we, err := e.cfg.Grid.WeekRange(week)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	to := e.cfg.Grid.Floor(upTo)
	if we.Before(to) {
		to = we
	}
	if !to.After(ws) {
		return time.Time{}, time.Time{}, fmt.Errorf("%w: up-to %s is not after week %s's start %s", partition.ErrInvalid, upTo.UTC().Format(time.RFC3339), week, ws.Format(time.RFC3339))
	}
	return ws, to, nil
}

// CheckWeek is the compaction's coverage check on its own: the windows of the week (up to upTo)
// whose daily files do not hold exactly MySQL's rows, which the compaction workflow repairs
// before it compacts. Windows without rows need no file.
func (e *Exporter) CheckWeek(ctx context.Context, week partition.Week, upTo time.Time) (Report, error) {
	ws, to, err := e.WeekRange(week, upTo)
	if err != nil {
		return Report{}, err
	}
	rep, _, err := e.check(ctx, ws, to, checkOptions{allowMissingEmpty: true, recheck: true})
	if err != nil {
		return rep, fmt.Errorf("check week %s of %s: %w", week, e.Table(), err)
	}
	return rep, nil
}

// CompactWeek writes the weekly file of an ISO week, weekly/week=YYYY-Www/part-YYYY-Www.parquet,
// covering WeekRange(week, upTo). Production compacts a closed week (upTo at or after its end);
// the dev profile compacts the week to date every few minutes, rewriting the same key.
//
// The weekly file is built from the week's daily files, not from MySQL: it puts no load on the
// operational database, needs no keys (ciphertexts and pseudonyms carry over unchanged), and is
// by construction the union of the dailies that readers already trust. Before writing, one
// GROUP BY in MySQL counts every grid window of the range; each window with rows must have its
// daily manifests with exactly that count, otherwise a *CoverageError lists the windows (the
// compaction workflow repairs them first). After writing, the weekly row count must equal the
// sum of the daily manifests' rows, or the upload is aborted. The weekly manifest lists its
// sources.
func (e *Exporter) CompactWeek(ctx context.Context, week partition.Week, upTo time.Time, progress func(Progress)) (manifest.Manifest, error) {
	m, err := e.compactWeek(ctx, week, upTo, progress)
	if err != nil {
		return manifest.Manifest{}, fmt.Errorf("compact week %s of %s: %w", week, e.Table(), err)
	}
	return m, nil
}

func (e *Exporter) compactWeek(ctx context.Context, week partition.Week, upTo time.Time, progress func(Progress)) (manifest.Manifest, error) {
	ws, to, err := e.WeekRange(week, upTo)
	if err != nil {
		return manifest.Manifest{}, err
	}
	if err := e.EnsureLayout(ctx); err != nil {
		return manifest.Manifest{}, err
	}
	key := e.cfg.Layout.WeeklyKey(week)
	unlock, err := e.lock(ctx, weekLock(week), lockWait)
	if err != nil {
		return manifest.Manifest{}, err
	}
	defer unlock()

	// A daily file rewritten between the check and its read (a late repair) fails its read
	// with ErrChanged: check and compact again.
	for attempt := 0; ; attempt++ {
		m, err := e.compactOnce(ctx, week, ws, to, key, progress)
		if errors.Is(err, s3store.ErrChanged) && attempt < 3 {
			e.log.InfoContext(ctx, "a daily file changed during the compaction; compacting again", "week", week.String(), "error", err)
			continue
		}
		return m, err
	}
}

func (e *Exporter) compactOnce(ctx context.Context, week partition.Week, ws, to time.Time, key string, progress func(Progress)) (manifest.Manifest, error) {
	rep, found, err := e.check(ctx, ws, to, checkOptions{allowMissingEmpty: true, recheck: true, found: true})
	if err != nil {
		return manifest.Manifest{}, fmt.Errorf("coverage check: %w", err)
	}
	if rep.ProblemCount > 0 {
		return manifest.Manifest{}, &CoverageError{Week: week, Problems: rep.Problems}
	}
	sources := make([]manifest.Manifest, 0, len(found))
	var want int64
	for _, m := range found {
		sources = append(sources, m)
		want += m.Rows
	}
	slices.SortFunc(sources, func(a, b manifest.Manifest) int { return a.WindowStart.Compare(b.WindowStart) })

	// The week's current file, for the daily pieces whose objects the lifecycle removed.
	weekly := map[string]manifest.Manifest{}
	if old, ok, err := e.readManifest(ctx, key); err != nil {
		return manifest.Manifest{}, err
	} else if ok {
		weekly[key] = old
	}
	hmacIDs, aeadIDs, modes := unionOf(sources, func(m manifest.Manifest) string { return m.HMACKeyID }),
		unionOf(sources, func(m manifest.Manifest) string { return m.AEADKeyID }),
		unionOf(sources, func(m manifest.Manifest) string { return m.FieldEncryption })
	if modes == "" { // an empty week: no source to inherit from
		modes = e.cfg.FieldEncryption
	}
	// One file has one encoding per column; a week across a change of mode is encoded as the
	// newest mode says (both kinds of ciphertext are bytes alike), and its manifest lists both.
	list := strings.Split(modes, ",")
	encoding := list[len(list)-1]

	g, cctx := errgroup.WithContext(ctx)
	var (
		info s3store.UploadInfo
		st   pieceStats
	)
	meta := e.fileMetadata(partition.Weekly, ws, to, hmacIDs, aeadIDs, modes)
	var total Progress
	mt := e.streamUpload(cctx, g, key, &info, func(mt *meter) error {
		return e.encode(cctx, mt, meta, encoding, key, &total, progress, func(put func([]parquet.Row) error) error {
			return e.copySources(cctx, sources, weekly, &st, put)
		})
	})
	if err := g.Wait(); err != nil {
		return manifest.Manifest{}, fmt.Errorf("write %s: %w", key, err)
	}
	if st.rows != want {
		return manifest.Manifest{}, fmt.Errorf("write %s: the weekly file holds %d rows, the daily manifests say %d", key, st.rows, want)
	}
	if info.Size != mt.n {
		return manifest.Manifest{}, fmt.Errorf("write %s: uploaded %d bytes of %d produced", key, info.Size, mt.n)
	}

	man := manifest.Manifest{
		ManifestVersion: manifest.Version,
		Table:           e.Table(),
		Granularity:     manifest.GranularityWeek,
		WindowStart:     ws,
		WindowEnd:       to,
		Partition:       lake.WeekPart + week.String(),
		TimeZone:        e.cfg.Grid.Location().String(),
		Object:          key,
		ETag:            info.ETag,
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
	e.log.DebugContext(ctx, "compacted week", "object", key, "rows", man.Rows, "sources", len(sources))
	return man, nil
}

// copySources streams the rows of every source piece, in window order, into the weekly file.
func (e *Exporter) copySources(ctx context.Context, sources []manifest.Manifest, weekly map[string]manifest.Manifest, st *pieceStats, put func([]parquet.Row) error) error {
	idSpec, _ := e.cfg.Spec.Column(e.cfg.Spec.IDColumn)
	idCol := e.cfg.Spec.Index(e.cfg.Spec.IDColumn)
	buf := make([]parquet.Row, e.cfg.BatchRows)
	for _, src := range sources {
		if src.Rows == 0 {
			continue
		}
		pr, err := e.openPiece(ctx, src, weekly)
		if err != nil {
			return err
		}
		for {
			n, rerr := pr.Read(buf)
			if n > 0 {
				for _, row := range buf[:n] {
					st.add(tablespec.ID(idSpec, row[idCol]))
				}
				if err := put(buf[:n]); err != nil {
					pr.Close()
					return err
				}
			}
			if errors.Is(rerr, io.EOF) {
				break
			}
			if rerr != nil {
				pr.Close()
				return fmt.Errorf("read daily file %s: %w", src.Object, rerr)
			}
			if err := context.Cause(ctx); err != nil {
				pr.Close()
				return err
			}
		}
		pr.Close()
	}
	return nil
}

// unionOf joins the distinct values of a field over the manifests, in order of first appearance.
func unionOf(ms []manifest.Manifest, field func(manifest.Manifest) string) string {
	lists := make([]string, len(ms))
	for i, m := range ms {
		lists[i] = field(m)
	}
	return unionIDs(lists...)
}
