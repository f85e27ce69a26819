package export

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/logetl/logetl/internal/lake"
	"github.com/logetl/logetl/internal/manifest"
	"github.com/logetl/logetl/internal/parquetlog"
	"github.com/logetl/logetl/internal/s3store"
	"github.com/logetl/logetl/internal/tablespec"
)

// The lake's rows of one daily piece live in its daily object, or, once the S3 lifecycle
// removed that object, in its week's compacted object among the other windows' rows. These
// readers hide the difference from the compaction, merge exports and purges.

// openObject opens a Parquet object as its manifest describes it: bound to the manifest's ETag
// when it has one, so a replaced object is an error, never a silent mix of versions.
func (e *Exporter) openObject(ctx context.Context, key, etag string, size int64) (*parquetlog.Reader, error) {
	var obj *s3store.Object
	var err error
	if etag != "" {
		obj, err = e.store.OpenVersion(ctx, key, etag)
	} else {
		obj, err = e.store.Open(ctx, key)
	}
	if err != nil {
		return nil, err
	}
	if size > 0 && obj.Size() != size {
		return nil, fmt.Errorf("%s is %d bytes, its manifest says %d: %w", key, obj.Size(), size, s3store.ErrChanged)
	}
	r, err := parquetlog.OpenReader(obj, obj.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return r, nil
}

// pieceRows reads the file-form rows of one daily piece, in (time, id) order.
type pieceRows struct {
	r        *parquetlog.Reader
	start    int64 // micros; only rows in [start, end) when filtering a weekly file
	end      int64
	filter   bool
	timeCol  int
	groups   []parquet.RowGroup
	rg       int
	rows     parquet.Rows
	expected int64
	seen     int64
}

// openPiece opens the rows of the daily piece m describes.
func (e *Exporter) openPiece(ctx context.Context, m manifest.Manifest, weekly map[string]manifest.Manifest) (*pieceRows, error) {
	timeCol := e.cfg.Spec.Index(e.cfg.Spec.TimeColumn)
	if m.ObjectRemoved == nil {
		r, err := e.openObject(ctx, m.Object, m.ETag, m.Bytes)
		switch {
		case errors.Is(err, s3store.ErrNotFound):
			// Expired by a bucket lifecycle rule (docs/retention.md): the week's file is the
			// copy, if it was compacted from this very file.
		case err != nil:
			return nil, err
		case r.NumRows() != m.Rows:
			r.Close()
			return nil, fmt.Errorf("daily file %s holds %d rows, its manifest says %d", m.Object, r.NumRows(), m.Rows)
		default:
			return &pieceRows{r: r, timeCol: timeCol, expected: m.Rows, groups: r.File().RowGroups()}, nil
		}
	}
	wm, err := e.weeklyHolding(ctx, m, weekly)
	if err != nil {
		return nil, err
	}
	r, err := e.openObject(ctx, wm.Object, wm.ETag, wm.Bytes)
	if err != nil {
		return nil, err
	}
	pr := &pieceRows{r: r, timeCol: timeCol, filter: true, expected: m.Rows,
		start: m.WindowStart.UnixMicro(), end: m.WindowEnd.UnixMicro()}
	// Row groups are in time order: keep those whose time range meets the piece's.
	for i, rg := range r.File().RowGroups() {
		lo, hi, ok := timeBounds(r.File(), i, timeCol)
		if ok && (hi < pr.start || lo >= pr.end) {
			continue
		}
		pr.groups = append(pr.groups, rg)
	}
	return pr, nil
}

// weeklyKeyOf is the key of the weekly file that holds a daily piece's rows once its daily
// object is gone: the one its manifest names, or its week's.
func (e *Exporter) weeklyKeyOf(m manifest.Manifest) string {
	if m.WeeklyObject != "" {
		return m.WeeklyObject
	}
	return e.cfg.Layout.WeeklyKey(e.cfg.Grid.WeekOf(m.WindowStart))
}

// weeklyHolding returns the manifest of the weekly file that holds the rows of the daily piece
// m describes: its sources must list m's object with m's row count and checksum, so a weekly
// file compacted from another version of the piece never stands in for it. weekly caches the
// weekly manifests already read (nil reads every time).
func (e *Exporter) weeklyHolding(ctx context.Context, m manifest.Manifest, weekly map[string]manifest.Manifest) (manifest.Manifest, error) {
	key := e.weeklyKeyOf(m)
	wm, ok := weekly[key]
	if !ok {
		data, err := e.store.Get(ctx, lake.ManifestKey(key))
		if err != nil {
			return manifest.Manifest{}, fmt.Errorf("daily file %s is gone and its week's manifest cannot be read: %w", m.Object, err)
		}
		if wm, err = manifest.Parse(data); err != nil {
			return manifest.Manifest{}, fmt.Errorf("daily file %s is gone and its week's manifest: %w", m.Object, err)
		}
		if weekly != nil {
			weekly[key] = wm
		}
	}
	for _, src := range wm.Sources {
		if src.Object == m.Object {
			if src.SHA256 != m.SHA256 || src.Rows != m.Rows {
				return manifest.Manifest{}, fmt.Errorf("daily file %s is gone and week file %s was compacted from another version of it (%d rows, sha256 %.12s; the manifest says %d, %.12s)",
					m.Object, key, src.Rows, src.SHA256, m.Rows, m.SHA256)
			}
			return wm, nil
		}
	}
	return manifest.Manifest{}, fmt.Errorf("daily file %s is gone and week file %s does not list it among its sources", m.Object, key)
}

// timeBounds reads a row group's min and max of an INT64 column from the file's statistics.
func timeBounds(f *parquet.File, rg, col int) (lo, hi int64, ok bool) {
	groups := f.Metadata().RowGroups
	if rg >= len(groups) || col >= len(groups[rg].Columns) {
		return 0, 0, false
	}
	st := groups[rg].Columns[col].MetaData.Statistics
	if len(st.MinValue) != 8 || len(st.MaxValue) != 8 {
		return 0, 0, false
	}
	return int64(binary.LittleEndian.Uint64(st.MinValue)), int64(binary.LittleEndian.Uint64(st.MaxValue)), true
}

// Read fills buf with the next rows (values valid until the next Read) and returns io.EOF at
// the end, having checked that the piece had exactly its manifest's row count.
func (p *pieceRows) Read(buf []parquet.Row) (int, error) {
	for {
		if p.rows == nil {
			if p.rg >= len(p.groups) {
				if p.seen != p.expected {
					return 0, fmt.Errorf("the lake holds %d rows of %s..%s, its manifest says %d", p.seen, time.UnixMicro(p.start).UTC(), time.UnixMicro(p.end).UTC(), p.expected)
				}
				return 0, io.EOF
			}
			p.rows = p.groups[p.rg].Rows()
			p.rg++
		}
		n, err := p.rows.ReadRows(buf)
		if n > 0 && p.filter {
			// Swap, never copy, kept rows forward: ReadRows refills each slot's own backing
			// array, and two slots sharing one would overwrite each other on the next call.
			k := 0
			for i := range buf[:n] {
				if t := buf[i][p.timeCol].Int64(); t >= p.start && t < p.end {
					buf[k], buf[i] = buf[i], buf[k]
					k++
				}
			}
			n = k
		}
		p.seen += int64(n)
		if errors.Is(err, io.EOF) {
			p.rows.Close()
			p.rows = nil
			err = nil
		}
		if err != nil {
			return n, fmt.Errorf("read %s rows: %w", p.describe(), err)
		}
		if n > 0 {
			return n, nil
		}
	}
}

func (p *pieceRows) describe() string {
	return fmt.Sprintf("%s..%s", time.UnixMicro(p.start).UTC().Format(time.RFC3339), time.UnixMicro(p.end).UTC().Format(time.RFC3339))
}

// Close releases the reader.
func (p *pieceRows) Close() {
	if p.rows != nil {
		p.rows.Close()
	}
	_ = p.r.Close()
}

// pieceIDs lists the ids of the lake's rows of a daily piece, ascending.
func (e *Exporter) pieceIDs(ctx context.Context, m manifest.Manifest) ([]uint64, error) {
	pr, err := e.openPiece(ctx, m, nil)
	if err != nil {
		return nil, err
	}
	defer pr.Close()
	idCol := e.cfg.Spec.Index(e.cfg.Spec.IDColumn)
	idSpec, _ := e.cfg.Spec.Column(e.cfg.Spec.IDColumn)
	ids := make([]uint64, 0, m.Rows)
	buf := make([]parquet.Row, 512)
	for {
		n, err := pr.Read(buf)
		for _, row := range buf[:n] {
			ids = append(ids, tablespec.ID(idSpec, row[idCol]))
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	slices.Sort(ids)
	return ids, nil
}
