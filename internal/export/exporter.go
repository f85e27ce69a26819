// Package export moves one table's windows from MySQL to protected Parquet files in S3,
// compacts a week's daily files into one weekly file, verifies the lake against MySQL window by
// window, and plans ranges of any length without touching S3 per empty window.
//
// One window's export is a pipeline of four overlapped stages, so that reading MySQL, sealing
// fields, encoding Parquet and uploading all run at once with memory bounded by a few batches,
// one row group and the upload's parts, whatever the window's size:
//
//	MySQL rows --read--> batches --protect--> batches --encode--> io.Pipe --upload--> S3 multipart
//
// The manifest is written only after its Parquet object is complete: it is the commit marker,
// and it records the object's ETag. A re-export uploads the new object over the old one (S3
// replaces it atomically when the upload completes) and then replaces the manifest, so at every
// moment a reader finds a readable manifest, and one whose ETag tells whether the object beside
// it is the one it describes. Windows without rows get no object: the table's coverage record
// says they were exported (package lake).
package export

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/logetl/logetl/internal/lake"
	"github.com/logetl/logetl/internal/logtable"
	"github.com/logetl/logetl/internal/manifest"
	"github.com/logetl/logetl/internal/parquetlog"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/internal/s3store"
	"github.com/logetl/logetl/internal/tablespec"
)

const parquetContentType = "application/vnd.apache.parquet"

// Defaults of Config's tuning fields.
const (
	DefaultBatchRows     = 2048
	DefaultProgressEvery = 5000
)

// Config is one table's export: its spec, where its files go and how they are encoded.
type Config struct {
	Spec            tablespec.Spec
	Layout          lake.Layout
	Grid            partition.Grid
	Compression     string // zstd, snappy, gzip or none
	RowGroupRows    int
	FieldEncryption string // protect.PerValue or protect.PerRowGroup
	// BatchRows is the number of rows that move between stages at once (DefaultBatchRows).
	BatchRows int
	// ProgressEvery is the number of rows between progress callbacks (DefaultProgressEvery).
	ProgressEvery int64
	// WriterVersion is recorded in files and manifests (default "logetl <version>").
	WriterVersion string
	// Component names the process in the layout descriptor it may create (e.g. "worker").
	Component string
	// Now gives created_at (default time.Now).
	Now func() time.Time
	// Log receives the export's notices (default slog.Default()).
	Log *slog.Logger
}

// Store is what the exporter needs of S3; *s3store.Store implements it.
type Store interface {
	lake.Store
	Upload(ctx context.Context, key string, body io.Reader, contentType string, opts ...s3store.UploadOption) (s3store.UploadInfo, error)
	Put(ctx context.Context, key string, data []byte, contentType string) error
	Get(ctx context.Context, key string) ([]byte, error)
	OpenVersion(ctx context.Context, key, etag string) (*s3store.Object, error)
	Open(ctx context.Context, key string) (*s3store.Object, error)
	ListRange(ctx context.Context, prefix, after, before string) ([]s3store.ObjectInfo, error)
	Delete(ctx context.Context, key string) error
	Stat(ctx context.Context, key string) (s3store.ObjectInfo, error)
	ListPrefixes(ctx context.Context, prefix, after, before string) ([]string, error)
}

// Protector pseudonymizes and seals values; *protect.Protector implements it.
type Protector interface {
	AppendPseudonym(dst []byte, domain string, value []byte) []byte
	PseudonymSize() int
	SealedSize(n int) int
	AppendSeal(dst []byte, field string, plaintext []byte) []byte
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

// Exporter runs one table's exports, compactions and verifications. It is safe for concurrent
// use: every call has its own pipeline, and writers of the same window or week, in any
// process, take turns (see lock).
type Exporter struct {
	cfg   Config
	db    *sql.DB
	store Store
	prot  Protector
	log   *slog.Logger

	mu         sync.Mutex
	layout     *lake.Descriptor // checked against the lake, once
	table      *logtable.Table
	tableAt    time.Time
	undeclared string // the undeclared columns last reported
	onUndecl   func(table string, columns []string)
	manifests  map[string]cachedManifest // by key, valid while the listed ETag matches
}

type cachedManifest struct {
	etag string
	m    manifest.Manifest
}

// New validates cfg and returns an Exporter. prot may be nil for an Exporter that only
// compacts and verifies (no repair). Nothing is contacted yet: MySQL and S3 may be down.
func New(cfg Config, db *sql.DB, store Store, prot Protector) (*Exporter, error) {
	if err := cfg.Spec.Validate(); err != nil {
		return nil, err
	}
	if cfg.Grid.Length() == 0 {
		return nil, fmt.Errorf("%w: table %s: no window grid", ErrInvalidConfig, cfg.Spec.Name)
	}
	if cfg.Layout.Table == "" {
		cfg.Layout.Table = cfg.Spec.Name
	}
	if cfg.Compression == "" {
		cfg.Compression = "zstd"
	}
	if !slices.Contains(parquetlog.Codecs, cfg.Compression) {
		return nil, fmt.Errorf("%w: compression %q: want one of %v", ErrInvalidConfig, cfg.Compression, parquetlog.Codecs)
	}
	if cfg.RowGroupRows <= 0 {
		cfg.RowGroupRows = parquetlog.DefaultRowGroupRows
	}
	switch cfg.FieldEncryption {
	case "":
		cfg.FieldEncryption = protect.PerValue
	case protect.PerValue, protect.PerRowGroup:
	default:
		return nil, fmt.Errorf("%w: field encryption %q: want one of %v", ErrInvalidConfig, cfg.FieldEncryption, protect.Modes)
	}
	if cfg.BatchRows <= 0 {
		cfg.BatchRows = DefaultBatchRows
	}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = DefaultProgressEvery
	}
	if cfg.WriterVersion == "" {
		cfg.WriterVersion = writerVersion()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if db == nil || store == nil {
		return nil, fmt.Errorf("%w: exporter needs a database and a store", ErrInvalidConfig)
	}
	return &Exporter{cfg: cfg, db: db, store: store, prot: prot, log: cfg.Log.With("table", cfg.Spec.Name), manifests: map[string]cachedManifest{}}, nil
}

func writerVersion() string {
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	return "logetl " + v
}

// Spec is the exporter's table spec.
func (e *Exporter) Spec() tablespec.Spec { return e.cfg.Spec }

// Table is the table's lake name.
func (e *Exporter) Table() string { return e.cfg.Spec.Name }

// Grid is the exporter's window grid.
func (e *Exporter) Grid() partition.Grid { return e.cfg.Grid }

// Layout is the exporter's key layout.
func (e *Exporter) Layout() lake.Layout { return e.cfg.Layout }

// Config is the exporter's configuration.
func (e *Exporter) Config() Config { return e.cfg }

// OnUndeclaredColumns sets the function told, once per change, which columns of the MySQL
// table the spec does not name (they are never read; the worker counts them in a metric).
func (e *Exporter) OnUndeclaredColumns(f func(table string, columns []string)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.onUndecl = f
}

// Descriptor is the layout descriptor this exporter writes and expects.
func (e *Exporter) Descriptor() lake.Descriptor {
	p := e.cfg.Spec.Policy()
	return lake.Descriptor{
		Table:         e.cfg.Spec.Name,
		Window:        e.cfg.Grid.Length().String(),
		TimeZone:      e.cfg.Grid.Location().String(),
		Granularities: []string{string(partition.Daily), string(partition.Weekly)},
		SchemaVersion: parquetlog.SchemaVersion,
		Fingerprint:   p.Fingerprint(),
		Policy:        p,
		CreatedAt:     e.cfg.Now().UTC(),
		CreatedBy:     strings.TrimSpace(e.cfg.WriterVersion + " " + e.cfg.Component),
	}
}

// EnsureLayout checks this configuration against the table's layout descriptor, creating it if
// the table has none. Every writer calls it before writing; the check is done once per
// Exporter, as the descriptor never changes once written.
func (e *Exporter) EnsureLayout(ctx context.Context) error {
	e.mu.Lock()
	ok := e.layout != nil
	e.mu.Unlock()
	if ok {
		return nil
	}
	// A table that does not match its spec gets no descriptor: the first writer must be one
	// that can write.
	if _, err := e.openTable(ctx, false); err != nil {
		return err
	}
	d, err := lake.EnsureDescriptor(ctx, e.store, e.cfg.Layout, e.Descriptor(), e.hasFiles)
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.layout = &d
	e.mu.Unlock()
	return nil
}

// hasFiles reports whether the table's partitions hold any object: a descriptor may be replaced
// only while none was written under it.
func (e *Exporter) hasFiles(ctx context.Context) (bool, error) {
	for _, g := range []partition.Granularity{partition.Daily, partition.Weekly} {
		objs, err := e.store.ListRange(ctx, e.cfg.Layout.PartitionsPrefix(g), "", "")
		if err != nil {
			return false, err
		}
		if len(objs) > 0 {
			return true, nil
		}
	}
	return false, nil
}

// CheckLayout compares this configuration with the table's descriptor without creating one:
// the read-only commands' check (verify, status). A table without a descriptor passes.
func (e *Exporter) CheckLayout(ctx context.Context) error {
	d, ok, err := lake.ReadDescriptor(ctx, e.store, e.cfg.Layout)
	if err != nil || !ok {
		return err
	}
	if diff := d.Differences(e.Descriptor()); len(diff) > 0 {
		return fmt.Errorf("%w: table %s: %s", lake.ErrLayout, e.cfg.Spec.Name, strings.Join(diff, "; "))
	}
	return nil
}

// tableCheckEvery is how long a checked MySQL table is trusted before its columns are read
// again; an export re-reads them every time (it must notice a changed type at once).
const tableCheckEvery = time.Minute

// openTable checks the MySQL table against the spec (columns, types, window index), at most
// every tableCheckEvery unless fresh is set, and reports undeclared columns once per change.
func (e *Exporter) openTable(ctx context.Context, fresh bool) (*logtable.Table, error) {
	e.mu.Lock()
	if t := e.table; t != nil && !fresh && time.Since(e.tableAt) < tableCheckEvery {
		e.mu.Unlock()
		return t, nil
	}
	e.mu.Unlock()
	t, undeclared, err := logtable.Open(ctx, e.db, e.cfg.Spec)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.table, e.tableAt = t, time.Now()
	key := strings.Join(undeclared, ",")
	report := key != e.undeclared
	e.undeclared = key
	notify := e.onUndecl
	e.mu.Unlock()
	if report {
		if len(undeclared) > 0 {
			e.log.WarnContext(ctx, "columns of the MySQL table are not in the spec and are not exported",
				"mysql_table", e.cfg.Spec.MySQLTable, "columns", undeclared, "count", len(undeclared),
				"fix", "declare them in the table spec (with treatment drop to silence this) if they should be")
		}
		if notify != nil {
			notify(e.cfg.Spec.Name, undeclared)
		}
	}
	return t, nil
}

// MySQL returns the table's MySQL side, checked against the spec.
func (e *Exporter) MySQL(ctx context.Context) (*logtable.Table, error) {
	return e.openTable(ctx, false)
}

// ErrBusy means another writer holds the window or week; retrying later succeeds.
var ErrBusy = errors.New("another export of the same window is running")

// lockWait bounds how long a writer waits for a window before giving up (retryably).
var lockWait = 60 * time.Second

// lockName is the MySQL lock of a table's window or week (lock names are at most 64
// characters). Every writer of the lake reads MySQL, so a MySQL named lock, held on its own
// connection for the whole write, covers the worker's runs, `logetl export` and `logetl
// purge` alike, and is released by the server if the process dies.
func (e *Exporter) lockName(what string) string {
	sum := sha256.Sum256([]byte(e.cfg.Layout.Root() + "|" + what))
	return "logetl:" + hex.EncodeToString(sum[:])[:48]
}

// lock serializes every writer of one window (all its pieces) or week, in any process:
// Temporal's workflow id keeps its own runs of a window apart, and this also covers the
// commands that run outside Temporal, so two writers never interleave and a manifest always
// describes the object beside it.
func (e *Exporter) lock(ctx context.Context, what string, wait time.Duration) (unlock func(), err error) {
	name := e.lockName(what)
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock %s of %s: %w", what, e.cfg.Spec.Name, err)
	}
	var got sql.NullInt64
	secs := max(int(wait/time.Second), 0)
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?)", name, secs).Scan(&got); err != nil {
		conn.Close()
		return nil, fmt.Errorf("lock %s of %s: %w", what, e.cfg.Spec.Name, err)
	}
	if !got.Valid || got.Int64 != 1 {
		conn.Close()
		return nil, fmt.Errorf("lock %s of %s: %w (waited %s)", what, e.cfg.Spec.Name, ErrBusy, wait)
	}
	return func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT RELEASE_LOCK(?)", name)
		conn.Close()
	}, nil
}

func windowLock(w partition.Window) string { return "window/" + w.String() }
func weekLock(w partition.Week) string     { return "week/" + w.String() }

func (e *Exporter) putManifest(ctx context.Context, m manifest.Manifest) error {
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	if err := e.store.Put(ctx, lake.ManifestKey(m.Object), data, "application/json"); err != nil {
		return fmt.Errorf("write manifest of %s: %w", m.Object, err)
	}
	return nil
}

func (e *Exporter) fileMetadata(g partition.Granularity, start, end time.Time, hmacKey, aeadKey, fieldEnc string) map[string]string {
	return map[string]string{
		parquetlog.MetaWindowStart:     start.UTC().Format(time.RFC3339),
		parquetlog.MetaWindowEnd:       end.UTC().Format(time.RFC3339),
		parquetlog.MetaGranularity:     manifestGranularity(g),
		parquetlog.MetaHMACKeyID:       hmacKey,
		parquetlog.MetaAEADKeyID:       aeadKey,
		parquetlog.MetaFieldEncryption: fieldEnc,
		parquetlog.MetaWriter:          e.cfg.WriterVersion,
	}
}

// manifestGranularity is the granularity as manifests and file metadata have always spelled it.
func manifestGranularity(g partition.Granularity) string {
	if g == partition.Weekly {
		return manifest.GranularityWeek
	}
	return manifest.GranularityDay
}

// The primitives below let a caller hold a window while it checks and changes it (the
// retention purge): the window's lock, its lake manifests, its re-export under the lock.

// LockWindow takes the window's lock, the one every export of the window takes.
func (e *Exporter) LockWindow(ctx context.Context, w partition.Window) (unlock func(), err error) {
	return e.lock(ctx, windowLock(w), lockWait)
}

// WindowManifests reads the manifests of a window's day pieces; a piece without a manifest
// (no rows) is absent from the result.
func (e *Exporter) WindowManifests(ctx context.Context, w partition.Window) ([]manifest.Manifest, error) {
	var out []manifest.Manifest
	for _, p := range e.cfg.Grid.Pieces(w) {
		m, ok, err := e.readManifest(ctx, e.cfg.Layout.DailyKey(p))
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, m)
		}
	}
	return out, nil
}

// ExportLocked re-exports a window whose lock the caller holds (a purged window is merged, as
// ExportWindow does) and records it in the coverage.
func (e *Exporter) ExportLocked(ctx context.Context, w partition.Window) (WindowResult, error) {
	if e.prot == nil {
		return WindowResult{}, fmt.Errorf("export window %s of %s: %w: no protector (keyring) configured", w, e.Table(), ErrInvalidConfig)
	}
	if err := e.EnsureLayout(ctx); err != nil {
		return WindowResult{}, err
	}
	res, err := e.exportWindowLocked(ctx, w, nil)
	if err != nil {
		return res, fmt.Errorf("export window %s of %s: %w", w, e.Table(), err)
	}
	return res, lake.AddCoverage(ctx, e.store, e.cfg.Layout, e.cfg.Now(), lake.Interval{Start: w.Start, End: w.End})
}

// PieceIDs lists the ids of the lake's rows of a daily piece (from its daily object, or its
// week's file once the lifecycle removed the daily one), ascending.
func (e *Exporter) PieceIDs(ctx context.Context, m manifest.Manifest) ([]uint64, error) {
	return e.pieceIDs(ctx, m)
}

// PutManifest replaces a manifest (the purge records its progress in it).
func (e *Exporter) PutManifest(ctx context.Context, m manifest.Manifest) error {
	return e.putManifest(ctx, m)
}
