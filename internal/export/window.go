package export

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/url"
	"strings"

	"github.com/parquet-go/parquet-go"
	"golang.org/x/sync/errgroup"

	"github.com/logetl/logetl/internal/lake"
	"github.com/logetl/logetl/internal/logtable"
	"github.com/logetl/logetl/internal/manifest"
	"github.com/logetl/logetl/internal/parquetlog"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/s3store"
	"github.com/logetl/logetl/internal/tablespec"
)

// WindowResult is what ExportWindow wrote: one manifest per day piece that has rows (a window
// without rows has no file, only its coverage).
type WindowResult struct {
	Window    partition.Window
	Manifests []manifest.Manifest
	// Removed lists objects deleted because the window lost its rows in MySQL (not by a purge).
	Removed []string
	// Merged is set when the window had been purged: its file was rewritten as the file's rows
	// plus the rows committed to MySQL since, so nothing the purge deleted is lost.
	Merged bool
}

// Rows is the number of rows written.
func (r WindowResult) Rows() int64 {
	var n int64
	for _, m := range r.Manifests {
		n += m.Rows
	}
	return n
}

// Bytes is the number of Parquet bytes written.
func (r WindowResult) Bytes() int64 {
	var n int64
	for _, m := range r.Manifests {
		n += m.Bytes
	}
	return n
}

// ExportWindow exports one grid window: one Parquet file and manifest per local day the window
// touches that has rows (one piece, unless the window crosses local midnight), then records the
// window in the table's coverage. It holds the window's lock throughout. progress, if not nil,
// is called every few thousand rows and at the end of each file.
func (e *Exporter) ExportWindow(ctx context.Context, w partition.Window, progress func(Progress)) (WindowResult, error) {
	if e.prot == nil {
		return WindowResult{}, fmt.Errorf("export window %s of %s: %w: no protector (keyring) configured", w, e.Table(), ErrInvalidConfig)
	}
	if !e.cfg.Grid.Aligned(w.Start) || !w.End.Equal(w.Start.Add(e.cfg.Grid.Length())) {
		return WindowResult{}, fmt.Errorf("export window %s of %s: %w: not a window of the %s grid", w, e.Table(), partition.ErrInvalid, e.cfg.Grid.Length())
	}
	if err := e.EnsureLayout(ctx); err != nil {
		return WindowResult{}, err
	}
	unlock, err := e.lock(ctx, windowLock(w), lockWait)
	if err != nil {
		return WindowResult{}, err
	}
	defer unlock()
	res, err := e.exportWindowLocked(ctx, w, progress)
	if err != nil {
		return res, fmt.Errorf("export window %s of %s: %w", w, e.Table(), err)
	}
	if err := lake.AddCoverage(ctx, e.store, e.cfg.Layout, e.cfg.Now(), lake.Interval{Start: w.Start, End: w.End}); err != nil {
		return res, err
	}
	return res, nil
}

// exportWindowLocked writes the window's pieces; the caller holds the window's lock.
func (e *Exporter) exportWindowLocked(ctx context.Context, w partition.Window, progress func(Progress)) (WindowResult, error) {
	tbl, err := e.openTable(ctx, true) // a changed column must fail this window, not a later one
	if err != nil {
		return WindowResult{}, err
	}
	res := WindowResult{Window: w}
	var total Progress
	for _, p := range e.cfg.Grid.Pieces(w) {
		key := e.cfg.Layout.DailyKey(p)
		old, hasOld, err := e.readManifest(ctx, key)
		if err != nil {
			return res, err
		}
		if hasOld && old.ObjectRemoved != nil {
			// The lifecycle had removed this daily file, which is about to change: drop its
			// week's record first, so that the next lifecycle run examines the week again.
			if err := e.store.Delete(ctx, e.cfg.Layout.LifecycleKey(e.cfg.Grid.WeekOf(p.Window.Start))); err != nil {
				return res, err
			}
		}
		var m manifest.Manifest
		var wrote bool
		if hasOld && old.Purge != nil {
			m, wrote, err = e.mergePiece(ctx, tbl, p, old, &total, progress)
			res.Merged = true
		} else {
			m, wrote, err = e.exportPiece(ctx, tbl, p, &total, progress)
		}
		if err != nil {
			return res, err
		}
		switch {
		case wrote:
			res.Manifests = append(res.Manifests, m)
		case hasOld && old.Purge == nil:
			// The piece has no rows any more (deleted in MySQL): the lake follows. The object
			// goes first, so a reader in between sees a manifest without object, which verify
			// re-checks under this window's lock, never an object without its proof.
			if err := e.store.Delete(ctx, key); err != nil {
				return res, err
			}
			if err := e.store.Delete(ctx, lake.ManifestKey(key)); err != nil {
				return res, err
			}
			res.Removed = append(res.Removed, key)
			e.log.WarnContext(ctx, "window lost its rows in MySQL; removed its file", "window", w.String(), "object", key, "rows_before", old.Rows)
		}
	}
	return res, nil
}

// readManifest reads the manifest of a Parquet key; ok is false when there is none.
func (e *Exporter) readManifest(ctx context.Context, key string) (manifest.Manifest, bool, error) {
	data, err := e.store.Get(ctx, lake.ManifestKey(key))
	if errors.Is(err, s3store.ErrNotFound) {
		return manifest.Manifest{}, false, nil
	}
	if err != nil {
		return manifest.Manifest{}, false, err
	}
	m, err := manifest.Parse(data)
	if err != nil {
		// An unreadable manifest of a file that is rewritten now: the rewrite replaces it.
		// (A purge record is never lost this way: purges rewrite manifests only whole.)
		e.log.WarnContext(ctx, "replacing an unreadable manifest", "object", key, "error", err)
		return manifest.Manifest{}, false, nil
	}
	return m, true, nil
}

// meter hashes and counts the bytes on their way to the upload pipe.
type meter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (m *meter) Write(p []byte) (int, error) {
	n, err := m.w.Write(p)
	m.h.Write(p[:n])
	m.n += int64(n)
	return n, err
}

// streamUpload adds two stages to g: produce writes the object into a pipe through a meter,
// and the upload reads the other end into key. info is set once g.Wait returns nil; the
// returned meter then holds the size and sha256 of what was uploaded. ctx must be g's context.
//
// Any stage failing cancels ctx, which closes the pipe: the side still waiting on it stops, the
// upload is aborted (no partial object, the previous version stays), and the error g reports is
// the one that came first, e.g. the S3 error that classifies a failed upload, not the encoder's
// broken-pipe echo of it.
func (e *Exporter) streamUpload(ctx context.Context, g *errgroup.Group, key string, info *s3store.UploadInfo, produce func(*meter) error) *meter {
	pr, pw := io.Pipe()
	context.AfterFunc(ctx, func() { pr.CloseWithError(context.Cause(ctx)) })
	m := &meter{w: pw, h: sha256.New()}
	g.Go(func() error {
		err := produce(m)
		pw.CloseWithError(err) // nil closes cleanly: the upload sees EOF
		return err
	})
	g.Go(func() error {
		var err error
		var tags url.Values
		if k, ok := e.cfg.Layout.ParseKey(key); ok {
			tags = url.Values{lake.FileTag: {string(k.Granularity)}}
		}
		*info, err = e.store.Upload(ctx, key, pr, parquetContentType, s3store.WithTags(tags))
		return err
	})
	return m
}

// batchPool is the free list of batches that circulate between the stages.
func (e *Exporter) newBatches(n int) chan *parquetlog.Batch {
	free := make(chan *parquetlog.Batch, n)
	for i := 0; i < n; i++ {
		free <- parquetlog.NewBatch(e.cfg.Spec, e.cfg.BatchRows)
	}
	return free
}

// exportPiece streams one day piece from MySQL into its Parquet object and writes the
// manifest. A piece without rows writes nothing (wrote is false).
func (e *Exporter) exportPiece(ctx context.Context, tbl *logtable.Table, p partition.Piece, total *Progress, progress func(Progress)) (manifest.Manifest, bool, error) {
	key := e.cfg.Layout.DailyKey(p)
	reader, err := tbl.OpenWindow(ctx, p.Window.Start, p.Window.End)
	if err != nil {
		return manifest.Manifest{}, false, err
	}
	defer reader.Close()

	free := e.newBatches(4)
	first := <-free
	more, err := reader.Next(first)
	if err != nil {
		return manifest.Manifest{}, false, err
	}
	if first.Len() == 0 && !more {
		return manifest.Manifest{}, false, nil
	}

	// The first stage to fail cancels pctx with its error, which stops the others.
	g, pctx := errgroup.WithContext(ctx)
	read := make(chan *parquetlog.Batch, 2)
	sealed := make(chan *parquetlog.Batch, 2)
	send := func(ch chan<- *parquetlog.Batch, b *parquetlog.Batch) error {
		select {
		case ch <- b:
			return nil
		case <-pctx.Done():
			return context.Cause(pctx)
		}
	}

	// Stage 1: read MySQL.
	g.Go(func() error {
		defer close(read)
		if err := send(read, first); err != nil {
			return err
		}
		for more {
			var b *parquetlog.Batch
			select {
			case b = <-free:
			case <-pctx.Done():
				return context.Cause(pctx)
			}
			if more, err = reader.Next(b); err != nil {
				return err
			}
			if b.Len() == 0 {
				free <- b
				continue
			}
			if err := send(read, b); err != nil {
				return err
			}
		}
		return nil
	})

	// Stage 2: protect.
	var st pieceStats
	g.Go(func() error {
		defer close(sealed)
		s := e.newSealer(&st)
		for b := range read {
			if err := s.protect(b); err != nil {
				return err
			}
			if err := send(sealed, b); err != nil {
				return err
			}
		}
		return nil
	})

	// Stages 3 and 4: encode Parquet, hashing and counting on the way, and upload it.
	var (
		info    s3store.UploadInfo
		written int64
	)
	meta := e.fileMetadata(partition.Daily, p.Window.Start, p.Window.End, e.prot.HMACKeyID(), e.prot.AEADKeyID(), e.cfg.FieldEncryption)
	m := e.streamUpload(pctx, g, key, &info, func(m *meter) error {
		return e.encode(pctx, m, meta, e.cfg.FieldEncryption, key, total, progress, func(put func([]parquet.Row) error) error {
			for b := range sealed {
				if err := put(b.Rows); err != nil {
					return err
				}
				written += int64(b.Len())
				b.Reset()
				free <- b
			}
			return nil
		})
	})
	if err := g.Wait(); err != nil {
		return manifest.Manifest{}, false, fmt.Errorf("write %s: %w", key, err)
	}
	if info.Size != m.n || written != st.rows {
		return manifest.Manifest{}, false, fmt.Errorf("write %s: uploaded %d bytes of %d produced, %d rows of %d", key, info.Size, m.n, written, st.rows)
	}
	man := e.dailyManifest(p, key, info, m, st, e.prot.HMACKeyID(), e.prot.AEADKeyID())
	if err := e.putManifest(ctx, man); err != nil {
		return manifest.Manifest{}, false, err
	}
	e.log.DebugContext(ctx, "exported window piece", "object", key, "rows", man.Rows, "bytes", man.Bytes)
	return man, true, nil
}

func (e *Exporter) dailyManifest(p partition.Piece, key string, info s3store.UploadInfo, m *meter, st pieceStats, hmacIDs, aeadIDs string) manifest.Manifest {
	man := manifest.Manifest{
		ManifestVersion: manifest.Version,
		Table:           e.Table(),
		Granularity:     manifest.GranularityDay,
		WindowStart:     p.Window.Start,
		WindowEnd:       p.Window.End,
		Partition:       lake.DayPart + p.Day,
		TimeZone:        e.cfg.Grid.Location().String(),
		Object:          key,
		ETag:            info.ETag,
		Rows:            st.rows,
		Bytes:           m.n,
		SHA256:          hex.EncodeToString(m.h.Sum(nil)),
		SchemaVersion:   parquetlog.SchemaVersion,
		Compression:     e.cfg.Compression,
		FieldEncryption: e.cfg.FieldEncryption,
		HMACKeyID:       hmacIDs,
		AEADKeyID:       aeadIDs,
		WriterVersion:   e.cfg.WriterVersion,
		CreatedAt:       e.cfg.Now().UTC(),
	}
	if st.hasRows {
		lo, hi := st.minID, st.maxID
		man.MinLogID, man.MaxLogID = &lo, &hi
	}
	return man
}

// encode writes one Parquet file through m: feed hands it rows through put, then the footer is
// written. progress is called every ProgressEvery rows and at the end.
func (e *Exporter) encode(ctx context.Context, m *meter, meta map[string]string, mode, key string, total *Progress, progress func(Progress),
	feed func(put func([]parquet.Row) error) error) error {
	// Parquet emits many small writes (page headers, pages); batching them keeps the pipe's
	// hand-offs to the uploader few.
	bw := bufio.NewWriterSize(m, 256<<10)
	w, err := parquetlog.NewWriter(bw, e.cfg.Spec, parquetlog.WriterOptions{
		Compression:     e.cfg.Compression,
		RowGroupRows:    e.cfg.RowGroupRows,
		FieldEncryption: mode,
		Metadata:        meta,
	})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	report := func() {
		if progress != nil {
			progress(Progress{Object: key, Rows: total.Rows + w.Rows(), Bytes: total.Bytes + m.n})
		}
	}
	var since int64
	put := func(rows []parquet.Row) error {
		if err := w.Write(rows); err != nil {
			return err
		}
		if since += int64(len(rows)); since >= e.cfg.ProgressEvery {
			since = 0
			report()
		}
		return nil
	}
	if err := feed(put); err != nil {
		return err
	}
	if err := context.Cause(ctx); err != nil {
		return err // a stage upstream failed: do not finish a file that lacks rows
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	report()
	total.Rows += w.Rows()
	total.Bytes += m.n
	return nil
}

// mergePiece rewrites a purged piece as the lake's rows plus the rows MySQL gained since (rows
// that committed into the window after its purge began): MySQL no longer holds what the purge
// deleted, so a plain re-export would lose it. The file's rows are copied as they are (already
// protected); only the new rows are protected now. Without new rows the file stays untouched.
func (e *Exporter) mergePiece(ctx context.Context, tbl *logtable.Table, p partition.Piece, old manifest.Manifest, total *Progress, progress func(Progress)) (manifest.Manifest, bool, error) {
	key := e.cfg.Layout.DailyKey(p)
	fileIDs, err := e.pieceIDs(ctx, old)
	if err != nil {
		return manifest.Manifest{}, false, err
	}
	mysqlIDs, err := tbl.IDs(ctx, p.Window.Start, p.Window.End)
	if err != nil {
		return manifest.Manifest{}, false, err
	}
	inFile := make(map[uint64]bool, len(fileIDs))
	for _, id := range fileIDs {
		inFile[id] = true
	}
	fresh := 0
	for _, id := range mysqlIDs {
		if !inFile[id] {
			fresh++
		}
	}
	if fresh == 0 {
		return old, true, nil
	}
	src, err := e.openPiece(ctx, old, nil)
	if err != nil {
		return manifest.Manifest{}, false, err
	}
	defer src.Close()
	reader, err := tbl.OpenWindow(ctx, p.Window.Start, p.Window.End)
	if err != nil {
		return manifest.Manifest{}, false, err
	}
	defer reader.Close()

	g, pctx := errgroup.WithContext(ctx)
	hmacIDs := unionIDs(old.HMACKeyID, e.prot.HMACKeyID())
	aeadIDs := unionIDs(old.AEADKeyID, e.prot.AEADKeyID())
	meta := e.fileMetadata(partition.Daily, p.Window.Start, p.Window.End, hmacIDs, aeadIDs, old.FieldEncryption)
	var (
		info s3store.UploadInfo
		st   pieceStats
	)
	m := e.streamUpload(pctx, g, key, &info, func(m *meter) error {
		return e.encode(pctx, m, meta, old.FieldEncryption, key, total, progress, func(put func([]parquet.Row) error) error {
			return e.merge(src, reader, inFile, &st, put)
		})
	})
	if err := g.Wait(); err != nil {
		return manifest.Manifest{}, false, fmt.Errorf("merge %s: %w", key, err)
	}
	if want := int64(len(fileIDs) + fresh); st.rows != want {
		return manifest.Manifest{}, false, fmt.Errorf("merge %s: wrote %d rows, want %d (%d in the lake, %d new in MySQL)", key, st.rows, want, len(fileIDs), fresh)
	}
	man := e.dailyManifest(p, key, info, m, st, hmacIDs, aeadIDs)
	man.FieldEncryption = old.FieldEncryption
	purge := *old.Purge
	man.Purge = &purge
	if err := e.putManifest(ctx, man); err != nil {
		return manifest.Manifest{}, false, err
	}
	e.log.WarnContext(ctx, "merged rows committed after a purge into the window's file", "object", key, "new_rows", fresh, "rows", man.Rows)
	return man, true, nil
}

// merge writes the lake's rows and MySQL's new ones (those not in inFile) in (time, id) order.
func (e *Exporter) merge(src *pieceRows, reader *logtable.WindowReader, inFile map[uint64]bool, st *pieceStats, put func([]parquet.Row) error) error {
	spec := e.cfg.Spec
	timeCol, idCol := spec.Index(spec.TimeColumn), spec.Index(spec.IDColumn)
	idSpec, _ := spec.Column(spec.IDColumn)
	var ignored pieceStats
	s := e.newSealer(&ignored)
	batch := parquetlog.NewBatch(spec, e.cfg.BatchRows)
	fbuf := make([]parquet.Row, 256)
	var frows, mrows []parquet.Row
	fileDone, mysqlDone := false, false
	one := make([]parquet.Row, 1)
	write := func(row parquet.Row, id uint64) error {
		one[0] = row
		st.add(id)
		return put(one)
	}
	for {
		if len(frows) == 0 && !fileDone {
			n, err := src.Read(fbuf)
			frows = fbuf[:n]
			if errors.Is(err, io.EOF) {
				fileDone = n == 0
			} else if err != nil {
				return err
			}
		}
		for len(mrows) == 0 && !mysqlDone {
			batch.Reset()
			more, err := reader.Next(batch)
			if err != nil {
				return err
			}
			mysqlDone = !more && batch.Len() == 0
			// Keep only rows the lake lacks, then protect them.
			kept := batch.Rows[:0]
			for _, row := range batch.Rows {
				if !inFile[uint64(row[idCol].Int64())] {
					kept = append(kept, row)
				}
			}
			batch.Rows = kept
			if err := s.protect(batch); err != nil {
				return err
			}
			mrows = batch.Rows
			if !more {
				mysqlDone = true
			}
		}
		switch {
		case len(frows) == 0 && len(mrows) == 0 && fileDone && mysqlDone:
			return nil
		case len(mrows) == 0 || len(frows) > 0 && less(frows[0], mrows[0], timeCol, idSpec, idCol):
			if len(frows) == 0 {
				continue
			}
			if err := write(frows[0], tablespec.ID(idSpec, frows[0][idCol])); err != nil {
				return err
			}
			frows = frows[1:]
		default:
			if err := write(mrows[0], tablespec.ID(idSpec, mrows[0][idCol])); err != nil {
				return err
			}
			mrows = mrows[1:]
		}
	}
}

// less orders file-form rows by (time, id).
func less(a, b parquet.Row, timeCol int, idSpec tablespec.Column, idCol int) bool {
	ta, tb := a[timeCol].Int64(), b[timeCol].Int64()
	if ta != tb {
		return ta < tb
	}
	return tablespec.ID(idSpec, a[idCol]) < tablespec.ID(idSpec, b[idCol])
}

// unionIDs joins comma-separated key id lists, keeping the order of first appearance.
func unionIDs(lists ...string) string {
	var out []string
	seen := map[string]bool{}
	for _, l := range lists {
		for _, v := range strings.Split(l, ",") {
			if v != "" && !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	return strings.Join(out, ",")
}
