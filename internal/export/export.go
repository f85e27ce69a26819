// Package export moves windows of the activity log from MySQL to protected Parquet files in S3,
// compacts a week's daily files into one weekly file, and verifies S3 against MySQL.
//
// One window's export is a pipeline of four overlapped stages, so that reading MySQL, sealing
// fields, encoding Parquet and uploading all run at once with memory bounded by a few batches,
// one row group and the upload's parts, whatever the window's size:
//
//	MySQL rows --read--> records --protect--> rows --encode--> io.Pipe --upload--> S3 multipart
//
// The manifest is written only after its Parquet object is complete: it is the commit marker.
// Re-exporting a window first removes its manifest, then rewrites the same keys with the same
// rows, so "a manifest exists" always means "the object next to it is the one it describes".
package export

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"runtime/debug"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/logetl/logetl/internal/activitylog"
	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/manifest"
	"github.com/logetl/logetl/internal/parquetlog"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/internal/s3store"
)

// Field-encryption modes.
const (
	PerValue    = "per-value"
	PerRowGroup = "per-rowgroup"
)

// Names of the protected fields, as the protect package binds ciphertexts to them.
const (
	FieldClientIP  = "client_ip"
	FieldUserAgent = "user_agent"
	FieldEmail     = "email"
)

const parquetContentType = "application/vnd.apache.parquet"

// Config tunes an Exporter.
type Config struct {
	Layout          partition.Layout
	Grid            partition.Grid
	Compression     string // zstd, snappy, gzip or none
	RowGroupRows    int
	FieldEncryption string // PerValue or PerRowGroup
	// BatchRows is the number of records that move between stages at once (default 2048).
	BatchRows int
	// ProgressEvery is the number of rows between progress callbacks (default 5000).
	ProgressEvery int64
	// WriterVersion is recorded in files and manifests (default "logetl <version>").
	WriterVersion string
	// Now gives created_at (default time.Now).
	Now func() time.Time
}

// ConfigFrom builds a Config from the command-line settings.
func ConfigFrom(s3 config.S3, part config.Partitioning, exp config.Export) (Config, error) {
	loc, err := part.Location()
	if err != nil {
		return Config{}, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	grid, err := partition.NewGrid(exp.Window, loc)
	if err != nil {
		return Config{}, err
	}
	return Config{
		Layout:          partition.Layout{Prefix: s3.S3Prefix},
		Grid:            grid,
		Compression:     exp.Compression,
		RowGroupRows:    exp.RowGroupRows,
		FieldEncryption: exp.FieldEncryption,
	}, nil
}

// Store is what the exporter needs of S3; *s3store.Store implements it.
type Store interface {
	Upload(ctx context.Context, key string, body io.Reader, contentType string) (s3store.UploadInfo, error)
	Put(ctx context.Context, key string, data []byte, contentType string) error
	Get(ctx context.Context, key string) ([]byte, error)
	Open(ctx context.Context, key string) (*s3store.Object, error)
	List(ctx context.Context, prefix string) ([]s3store.ObjectInfo, error)
	Delete(ctx context.Context, key string) error
}

// Protector pseudonymizes and seals fields; *protect.Protector implements it.
type Protector interface {
	Pseudonym(userID uint64) string
	Seal(field string, plaintext []byte) []byte
	NewSealCache() *protect.SealCache
	HMACKeyID() string
	AEADKeyID() string
}

// Progress reports how far an export or compaction is, for heartbeats.
type Progress struct {
	Object string // key being written
	Rows   int64  // rows written so far by this call (all pieces)
	Bytes  int64  // bytes of Parquet produced so far by this call
}

// Exporter runs exports, compactions and verifications. It is safe for concurrent use: every
// call has its own pipeline, and writers of the same object key, in any process, take turns
// (see lockKey).
type Exporter struct {
	cfg   Config
	db    *sql.DB
	store Store
	prot  Protector
}

// New validates cfg and returns an Exporter. prot may be nil for an Exporter that only
// compacts and verifies (no repair).
func New(cfg Config, db *sql.DB, store Store, prot Protector) (*Exporter, error) {
	if cfg.Grid.Length() == 0 {
		return nil, fmt.Errorf("%w: no window grid", ErrInvalidConfig)
	}
	if cfg.Compression == "" {
		cfg.Compression = "zstd"
	}
	if cfg.RowGroupRows <= 0 {
		cfg.RowGroupRows = parquetlog.DefaultRowGroupRows
	}
	switch cfg.FieldEncryption {
	case "":
		cfg.FieldEncryption = PerValue
	case PerValue, PerRowGroup:
	default:
		return nil, fmt.Errorf("%w: field encryption %q: want %s or %s", ErrInvalidConfig, cfg.FieldEncryption, PerValue, PerRowGroup)
	}
	if cfg.BatchRows <= 0 {
		cfg.BatchRows = 2048
	}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = 5000
	}
	if cfg.WriterVersion == "" {
		cfg.WriterVersion = writerVersion()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if db == nil || store == nil {
		return nil, fmt.Errorf("%w: exporter needs a database and a store", ErrInvalidConfig)
	}
	return &Exporter{cfg: cfg, db: db, store: store, prot: prot}, nil
}

func writerVersion() string {
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	return "logetl " + v
}

// Grid is the exporter's window grid.
func (e *Exporter) Grid() partition.Grid { return e.cfg.Grid }

// Layout is the exporter's key layout.
func (e *Exporter) Layout() partition.Layout { return e.cfg.Layout }

// ExportWindow exports one grid window: one Parquet file and manifest per local day the window
// touches (one, unless it crosses local midnight). Rows with occurred_at in [w.Start, w.End)
// are exported; an empty window still gets a valid empty file and a manifest with rows = 0.
// progress, if not nil, is called every few thousand rows and at the end of each file.
func (e *Exporter) ExportWindow(ctx context.Context, w partition.Window, progress func(Progress)) ([]manifest.Manifest, error) {
	if e.prot == nil {
		return nil, fmt.Errorf("export window %s: %w: no protector (keyring) configured", w, ErrInvalidConfig)
	}
	if !e.cfg.Grid.Aligned(w.Start) || !w.End.Equal(w.Start.Add(e.cfg.Grid.Length())) {
		return nil, fmt.Errorf("export window %s: %w: not a window of the %s grid", w, partition.ErrInvalid, e.cfg.Grid.Length())
	}
	var (
		out   []manifest.Manifest
		total Progress
	)
	for _, p := range e.cfg.Grid.Pieces(w) {
		m, err := e.exportPiece(ctx, p, &total, progress)
		if err != nil {
			return out, fmt.Errorf("export window %s: %w", w, err)
		}
		out = append(out, m)
	}
	return out, nil
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
// upload is aborted (no partial object), and the error g reports is the one that came first,
// e.g. the S3 error that classifies a failed upload, not the encoder's broken-pipe echo of it.
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
		*info, err = e.store.Upload(ctx, key, pr, parquetContentType)
		return err
	})
	return m
}

// pieceStats is what the protect stage learns about the rows.
type pieceStats struct {
	rows    int64
	minID   uint64
	maxID   uint64
	hasRows bool
}

func (e *Exporter) exportPiece(ctx context.Context, p partition.Piece, total *Progress, progress func(Progress)) (manifest.Manifest, error) {
	key := e.cfg.Layout.DailyKey(p)
	mkey := partition.ManifestKey(key)
	unlock, err := e.lockKey(ctx, key)
	if err != nil {
		return manifest.Manifest{}, err
	}
	defer unlock()
	// Withdraw the commit marker first: if this rewrite fails half-way, verify sees a missing
	// manifest instead of one describing a file that may have changed.
	if err := e.store.Delete(ctx, mkey); err != nil {
		return manifest.Manifest{}, fmt.Errorf("remove old manifest: %w", err)
	}

	// The first stage to fail cancels pctx with its error, which stops the others.
	g, pctx := errgroup.WithContext(ctx)

	reader, err := activitylog.OpenWindow(pctx, e.db, p.Window.Start, p.Window.End)
	if err != nil {
		return manifest.Manifest{}, err
	}
	defer reader.Close()

	batch := e.cfg.BatchRows
	recFree := make(chan []activitylog.Record, 3)
	rowFree := make(chan []parquetlog.Row, 3)
	for i := 0; i < cap(recFree); i++ {
		recFree <- make([]activitylog.Record, batch)
		rowFree <- make([]parquetlog.Row, batch)
	}
	recs := make(chan []activitylog.Record, 2)
	rows := make(chan []parquetlog.Row, 2)

	// Stage 1: read MySQL.
	g.Go(func() error {
		defer close(recs)
		for {
			var buf []activitylog.Record
			select {
			case buf = <-recFree:
			case <-pctx.Done():
				return context.Cause(pctx)
			}
			n, err := reader.Next(buf)
			if n > 0 {
				select {
				case recs <- buf[:n]:
				case <-pctx.Done():
					return context.Cause(pctx)
				}
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
		}
	})

	// Stage 2: protect.
	var st pieceStats
	g.Go(func() error {
		defer close(rows)
		sealer := e.newSealer()
		for rb := range recs {
			var out []parquetlog.Row
			select {
			case out = <-rowFree:
			case <-pctx.Done():
				return context.Cause(pctx)
			}
			out = out[:len(rb)]
			for i := range rb {
				sealer.protect(&rb[i], &out[i], &st)
			}
			recFree <- rb[:cap(rb)]
			select {
			case rows <- out:
			case <-pctx.Done():
				return context.Cause(pctx)
			}
		}
		return nil
	})

	// Stages 3 and 4: encode Parquet, hashing and counting on the way, and upload it.
	var (
		info    s3store.UploadInfo
		written int64
	)
	m := e.streamUpload(pctx, g, key, &info, func(m *meter) error {
		return e.encode(pctx, p, m, rows, rowFree, &written, total, key, progress)
	})
	if err := g.Wait(); err != nil {
		return manifest.Manifest{}, fmt.Errorf("write %s: %w", key, err)
	}
	if info.Size != m.n || written != st.rows {
		return manifest.Manifest{}, fmt.Errorf("write %s: uploaded %d bytes of %d produced, %d rows of %d", key, info.Size, m.n, written, st.rows)
	}

	man := manifest.Manifest{
		ManifestVersion: manifest.Version,
		Table:           partition.Table,
		Granularity:     manifest.GranularityDay,
		WindowStart:     p.Window.Start,
		WindowEnd:       p.Window.End,
		Partition:       "dt=" + p.Day,
		TimeZone:        e.cfg.Grid.Location().String(),
		Object:          key,
		Rows:            st.rows,
		Bytes:           m.n,
		SHA256:          hex.EncodeToString(m.h.Sum(nil)),
		SchemaVersion:   parquetlog.SchemaVersion,
		Compression:     e.cfg.Compression,
		FieldEncryption: e.cfg.FieldEncryption,
		HMACKeyID:       e.prot.HMACKeyID(),
		AEADKeyID:       e.prot.AEADKeyID(),
		WriterVersion:   e.cfg.WriterVersion,
		CreatedAt:       e.cfg.Now().UTC(),
	}
	if st.hasRows {
		lo, hi := st.minID, st.maxID
		man.MinLogID, man.MaxLogID = &lo, &hi
	}
	if err := e.putManifest(ctx, man); err != nil {
		return manifest.Manifest{}, err
	}
	slog.DebugContext(ctx, "exported window piece", "object", key, "rows", man.Rows, "bytes", man.Bytes)
	return man, nil
}

func (e *Exporter) putManifest(ctx context.Context, m manifest.Manifest) error {
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	if err := e.store.Put(ctx, partition.ManifestKey(m.Object), data, "application/json"); err != nil {
		return fmt.Errorf("write manifest of %s: %w", m.Object, err)
	}
	return nil
}

func (e *Exporter) fileMetadata(granularity string, start, end time.Time, hmacKey, aeadKey, fieldEnc string) map[string]string {
	return map[string]string{
		parquetlog.MetaWindowStart:     start.UTC().Format(time.RFC3339),
		parquetlog.MetaWindowEnd:       end.UTC().Format(time.RFC3339),
		parquetlog.MetaGranularity:     granularity,
		parquetlog.MetaHMACKeyID:       hmacKey,
		parquetlog.MetaAEADKeyID:       aeadKey,
		parquetlog.MetaFieldEncryption: fieldEnc,
		parquetlog.MetaWriter:          e.cfg.WriterVersion,
	}
}

func (e *Exporter) encode(ctx context.Context, p partition.Piece, m *meter, rows <-chan []parquetlog.Row, rowFree chan<- []parquetlog.Row,
	written *int64, total *Progress, key string, progress func(Progress)) error {
	// Parquet emits many small writes (page headers, pages); batching them keeps the pipe's
	// hand-offs to the uploader few.
	bw := bufio.NewWriterSize(m, 256<<10)
	w, err := parquetlog.NewWriter(bw, parquetlog.WriterOptions{
		Compression:  e.cfg.Compression,
		RowGroupRows: e.cfg.RowGroupRows,
		PlainSealed:  e.cfg.FieldEncryption == PerValue, // unique ciphertexts: no dictionary
		Metadata:     e.fileMetadata(manifest.GranularityDay, p.Window.Start, p.Window.End, e.prot.HMACKeyID(), e.prot.AEADKeyID(), e.cfg.FieldEncryption),
	})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	report := func() {
		if progress != nil {
			progress(Progress{Object: key, Rows: total.Rows, Bytes: total.Bytes + m.n})
		}
	}
	var sinceReport int64
	for rb := range rows {
		if err := w.Write(rb); err != nil {
			return err
		}
		n := int64(len(rb))
		*written += n
		total.Rows += n
		sinceReport += n
		clear(rb) // drop references to this batch's strings and ciphertexts
		rowFree <- rb[:cap(rb)]
		if sinceReport >= e.cfg.ProgressEvery {
			sinceReport = 0
			report()
		}
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
	total.Bytes += m.n
	return nil
}

// sealer applies the configured field protection to one file's rows.
type sealer struct {
	prot      Protector
	cache     *protect.SealCache // per-rowgroup mode only
	groupRows int64
	// pseudonyms memoizes Pseudonym per user within a file; a window has few distinct users.
	pseudonyms map[uint64]*string
}

const maxPseudonymCache = 1 << 16

func (e *Exporter) newSealer() *sealer {
	s := &sealer{prot: e.prot, groupRows: int64(e.cfg.RowGroupRows), pseudonyms: make(map[uint64]*string)}
	if e.cfg.FieldEncryption == PerRowGroup {
		s.cache = e.prot.NewSealCache()
	}
	return s
}

func (s *sealer) seal(field, v string) []byte {
	if s.cache != nil {
		return s.cache.Seal(field, []byte(v))
	}
	return s.prot.Seal(field, []byte(v))
}

// protect converts one record. In per-rowgroup mode the cache is reset exactly where the
// Parquet writer starts a new row group (it flushes every RowGroupRows rows), so equal values
// share a ciphertext only inside one row group.
func (s *sealer) protect(r *activitylog.Record, row *parquetlog.Row, st *pieceStats) {
	if s.cache != nil && st.rows > 0 && st.rows%s.groupRows == 0 {
		s.cache.Reset()
	}
	*row = parquetlog.Row{
		LogID:      int64(r.ID),
		OccurredAt: r.OccurredAt,
		RequestID:  r.RequestID,
		Action:     r.Action,
		Method:     r.Method,
		Route:      r.Route,
		Path:       r.Path,
		Status:     int32(r.Status),
		Message:    r.Message,
	}
	if r.UserID != nil {
		ps, ok := s.pseudonyms[*r.UserID]
		if !ok {
			if len(s.pseudonyms) >= maxPseudonymCache {
				clear(s.pseudonyms)
			}
			v := s.prot.Pseudonym(*r.UserID)
			ps = &v
			s.pseudonyms[*r.UserID] = ps
		}
		row.UserPseudonym = ps
	}
	if r.PostID != nil {
		v := int64(*r.PostID)
		row.PostID = &v
	}
	row.ClientIPEnc = s.seal(FieldClientIP, r.ClientIP)
	row.UserAgentEnc = s.seal(FieldUserAgent, r.UserAgent)
	if r.Email != nil {
		row.EmailEnc = s.seal(FieldEmail, *r.Email)
	}
	if !st.hasRows || r.ID < st.minID {
		st.minID = r.ID
	}
	if !st.hasRows || r.ID > st.maxID {
		st.maxID = r.ID
	}
	st.hasRows = true
	st.rows++
}
