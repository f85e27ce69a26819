// Package bench measures what logetl exists for, in one run against the real services: how
// close the export comes to the rate at which MySQL can hand out a window, how much memory it
// needs as windows grow, how small its files are next to the old service's format, and what the
// API's logging transaction costs next to the bare INSERTs.
//
// The bench loads a reproducible synthetic activity log into a database of its own, starts a
// versitygw of its own on a free port, and runs each export it measures for memory in a child
// process (the same binary), whose peak RSS is then the export's alone.
package bench

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/logetl/logetl/internal/export"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/internal/retention"
	"github.com/logetl/logetl/internal/testenv"
)

// Defaults of a run: Options.defaults applies them, and cmd/logetl-bench's flags show them.
const (
	DefaultDatabase          = "logetl_bench"
	DefaultRows              = 1_000_000
	DefaultSeed              = 1
	DefaultCompression       = "zstd"
	DefaultFieldEncryption   = protect.PerValue
	DefaultRowGroupRows      = 100_000
	DefaultPartSize          = 8 << 20
	DefaultUploadConcurrency = 2
	DefaultAPIDuration       = 10 * time.Second
	DefaultAPIConcurrency    = 16
)

// Options configure a run. Zero values pick the defaults noted.
type Options struct {
	// MySQLDSN locates the MySQL/MariaDB server; its database part is replaced by Database.
	MySQLDSN string
	// Database is the bench's own database (default logetl_bench). It is dropped and loaded
	// afresh, and dropped at the end, unless Reuse is set.
	Database string
	// Reuse keeps the database after the run and reuses it when it already holds exactly the
	// data set asked for, skipping the load.
	Reuse bool

	Rows      int    // records of the measured window (default 1,000,000)
	RowsLarge int    // records of the large window of the memory measurement (default 5 × Rows)
	WideRows  int    // records of the wide table's window (default Rows)
	PurgeRows int    // records the purge and the bare DELETE each remove (default Rows / 5)
	Seed      uint64 // of the synthetic data (default 1)

	// Purge paces the retention purge (zero values: retention's defaults); BareChunkRows is the
	// bare DELETE's LIMIT (default the purge's chunk).
	Purge         retention.Config
	BareChunkRows int

	// Settings of the measured export (default zstd, per-value, 100,000-row groups).
	Settings ExportSettings
	// PartSize and UploadConcurrency of the S3 multipart upload (defaults 8 MiB and 2, as
	// the configuration's).
	PartSize          int64
	UploadConcurrency int

	APIDuration    time.Duration // measured load of each of the API and raw phases (default 10s)
	APIConcurrency int           // workers of both (default 16)

	// ExportChild returns the command of an export child process: one that runs RunChild with
	// its standard input and output. Required.
	ExportChild func(ctx context.Context) *exec.Cmd

	// CPUProfile, when set, is the prefix of one CPU profile per phase:
	// <prefix>-extract.pprof, -export.pprof, -size.pprof and -api.pprof.
	CPUProfile string
	// MemProfile, when set, is the prefix of the export children's heap profiles:
	// <prefix>-export-<rows>.heap.pprof.
	MemProfile string
	// Log receives progress lines (default os.Stderr); the export children's errors go there too.
	Log io.Writer
	// Command is the command line recorded in the report.
	Command string
}

func (o *Options) defaults() error {
	if o.MySQLDSN == "" {
		o.MySQLDSN = "root@tcp(127.0.0.1:3306)/?parseTime=true&loc=UTC"
	}
	if o.Database == "" {
		o.Database = DefaultDatabase
	}
	if o.Rows == 0 {
		o.Rows = DefaultRows
	}
	if o.RowsLarge == 0 {
		o.RowsLarge = 5 * o.Rows
	}
	if o.WideRows == 0 {
		o.WideRows = o.Rows
	}
	if o.PurgeRows == 0 {
		o.PurgeRows = max(1, o.Rows/5)
	}
	if o.Purge.ChunkRows == 0 {
		o.Purge.ChunkRows = retention.DefaultChunkRows
	}
	if o.BareChunkRows == 0 {
		o.BareChunkRows = o.Purge.ChunkRows
	}
	if o.Rows < 1 || o.RowsLarge < o.Rows {
		return fmt.Errorf("rows %d and large rows %d: want 1 <= rows <= large rows", o.Rows, o.RowsLarge)
	}
	if o.Seed == 0 {
		o.Seed = DefaultSeed
	}
	if o.Settings.Compression == "" {
		o.Settings.Compression = DefaultCompression
	}
	if o.Settings.FieldEncryption == "" {
		o.Settings.FieldEncryption = DefaultFieldEncryption
	}
	if o.Settings.RowGroupRows == 0 {
		o.Settings.RowGroupRows = DefaultRowGroupRows
	}
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	if o.UploadConcurrency == 0 {
		o.UploadConcurrency = DefaultUploadConcurrency
	}
	if o.APIDuration == 0 {
		o.APIDuration = DefaultAPIDuration
	}
	if o.APIConcurrency == 0 {
		o.APIConcurrency = DefaultAPIConcurrency
	}
	if o.APIDuration < 0 || o.APIConcurrency < 1 {
		return fmt.Errorf("API load of %s at concurrency %d: want a positive duration and concurrency", o.APIDuration, o.APIConcurrency)
	}
	if o.ExportChild == nil {
		return errors.New("no export child command")
	}
	if o.Log == nil {
		o.Log = os.Stderr
	}
	return nil
}

// Report is every figure of a run. It is written as the JSON file.
type Report struct {
	StartedAt    time.Time `json:"started_at"`
	TotalSeconds float64   `json:"total_seconds"`
	Command      string    `json:"command,omitempty"`
	Machine      Machine   `json:"machine"`
	Dataset      Dataset   `json:"dataset"`
	// LoadSeconds is how long loading the data set took (0 when it was reused).
	LoadSeconds float64        `json:"load_seconds"`
	Settings    ExportSettings `json:"export_settings"`
	S3          S3Settings     `json:"s3"`

	// Tables are the extract, export and memory figures of each table: activity_log, then the
	// wide table.
	Tables []TableResult `json:"tables"`
	// UploadAlone is the S3 sink by itself: as many incompressible bytes as activity_log's
	// export wrote.
	UploadAlone Throughput `json:"upload_alone"`
	// Typed is the typed path's documented figures (docs/benchmarks.md before table specs).
	Typed TypedFigures `json:"typed_documented"`

	Size  SizeResult  `json:"size"`
	Purge PurgeResult `json:"purge"`
	API   APIResult   `json:"api"`

	Targets []Target `json:"targets"`
}

// TableResult is one table's extract limit, export and peak memory.
type TableResult struct {
	Table   string `json:"table"`
	Columns int    `json:"columns"` // exported columns
	// Extract is the plain streaming SELECT of the window, rows discarded: the limit (the
	// faster of ExtractPasses).
	Extract       Rate      `json:"extract"`
	ExtractPasses []float64 `json:"extract_passes_rows_per_sec"`
	// Reader is logtable.WindowReader alone: the export's first stage, spec-driven batches.
	Reader Rate `json:"reader"`
	// Export is the full export of the same window to versitygw, until the upload is complete.
	Export ExportResult `json:"export"`
	// ExportRatio is Export.RowsPerSec over Extract.RowsPerSec.
	ExportRatio float64 `json:"export_ratio"`
	// ExportNoS3 is the same export into a byte counter: extract, protect and encode only.
	ExportNoS3 ExportResult `json:"export_without_s3"`
	Memory     MemoryResult `json:"memory"`
}

// TypedFigures are the typed export's results documented in docs/benchmarks.md (the path
// removed when table specs landed), for the comparison the table prints.
type TypedFigures struct {
	Source        string  `json:"source"`
	ExtractPerSec float64 `json:"extract_rows_per_sec"`
	ExportPerSec  float64 `json:"export_rows_per_sec"`
	Ratio         float64 `json:"ratio"`
	BytesPerRow   float64 `json:"bytes_per_row"`
	PeakRSSMiB    float64 `json:"peak_rss_mib"`
	PeakRSSLarge  float64 `json:"peak_rss_large_mib"`
}

// typedDocumented: the 18:34 UTC 2026-11-25 run's rates, ratio and size (its table), and the
// peak RSS with GOGC=50 as shipped (the 20:57 run), both in docs/benchmarks.md before this bench.
var typedDocumented = TypedFigures{
	Source:        "docs/benchmarks.md of 2026-11-25 (typed activitylog path): rates and size of the 18:34 run, RSS of the 20:57 run (GOGC=50)",
	ExtractPerSec: 327581, ExportPerSec: 251556, Ratio: 0.77, BytesPerRow: 209.1, PeakRSSMiB: 155.8, PeakRSSLarge: 163.3,
}

// S3Settings are the upload's settings.
type S3Settings struct {
	PartSize          int64 `json:"part_size"`
	UploadConcurrency int   `json:"upload_concurrency"`
}

// MemoryResult is the export's peak memory at N and at the large size.
type MemoryResult struct {
	Small MemoryPoint `json:"small"`
	Large MemoryPoint `json:"large"`
	// Growth is Large.PeakRSSMiB over Small.PeakRSSMiB: 1 is perfectly flat.
	Growth float64 `json:"growth"`
}

// Target is one goal with its measured value.
type Target struct {
	Name  string  `json:"name"`
	What  string  `json:"what"`
	Value float64 `json:"value"`
	Op    string  `json:"op"` // ">=" or "<="
	Limit float64 `json:"limit"`
	Pass  bool    `json:"pass"`
}

func target(name, what string, value float64, op string, limit float64) Target {
	pass := value >= limit
	if op == "<=" {
		pass = value <= limit
	}
	return Target{Name: name, What: what, Value: value, Op: op, Limit: limit, Pass: pass}
}

// Run performs the whole benchmark.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if err := opts.defaults(); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(opts.Log, "[bench %s] "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
	rep := &Report{
		StartedAt: time.Now().UTC().Truncate(time.Second),
		Command:   opts.Command,
		Dataset:   Dataset{Seed: opts.Seed, Rows: opts.Rows, RowsLarge: opts.RowsLarge, WideRows: opts.WideRows, Users: 3000, Agents: 300},
		Typed:     typedDocumented,
		Settings:  opts.Settings,
		S3:        S3Settings{PartSize: opts.PartSize, UploadConcurrency: opts.UploadConcurrency},
	}
	dsn, err := benchDSN(opts.MySQLDSN, opts.Database)
	if err != nil {
		return nil, err
	}
	db, loaded, took, err := prepareDatabase(ctx, dsn, rep.Dataset, opts.Reuse, logf)
	if err != nil {
		return nil, fmt.Errorf("bench database: %w", err)
	}
	defer func() {
		db.Close()
		if !opts.Reuse {
			if err := dropDatabase(context.WithoutCancel(ctx), dsn); err != nil {
				logf("could not drop the bench database: %v", err)
			}
		}
	}()
	if loaded {
		rep.LoadSeconds = took.Seconds()
		logf("loaded in %.1fs", rep.LoadSeconds)
	}
	rep.Machine = describeMachine(ctx, db)

	dir, err := os.MkdirTemp("", "logetl-bench-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(dir) }() // a temporary folder; what is left is harmless
	s3srv, err := testenv.LaunchS3(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("bench: start versitygw: %w", err)
	}
	defer s3srv.Stop()
	s3cfg := s3srv.Config()
	s3cfg.S3PartSize, s3cfg.S3Concurrency = opts.PartSize, opts.UploadConcurrency
	s3t := S3Target{Config: s3cfg, AccessKey: s3srv.AccessKey, SecretKey: s3srv.SecretKey}
	logf("versitygw on %s", s3srv.Endpoint)

	began := time.Now()
	meter := newCPUMeter(strings.TrimPrefix(s3srv.Endpoint, "http://"))
	if err := measure(ctx, rep, meter, db, dsn, s3t, opts, logf); err != nil {
		return rep, err
	}
	rep.TotalSeconds = time.Since(began).Seconds() + rep.LoadSeconds
	rep.Targets = targets(rep)
	return rep, nil
}

func measure(ctx context.Context, rep *Report, meter *cpuMeter, db *sql.DB, dsn string, s3t S3Target, opts Options, logf func(string, ...any)) error {
	small, large := rep.Dataset.SmallWindow(), rep.Dataset.LargeWindow()
	profile := func(phase string, f func() error) error {
		if opts.CPUProfile == "" {
			return f()
		}
		path := opts.CPUProfile + "-" + phase + ".pprof"
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		pf, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
		return f()
	}

	// Each phase is repeated, up to twice, when the database went away under it: on a shared
	// machine MariaDB may be restarted (fault tests do), and a phase cut short measures nothing.
	phase := func(name string, f func() error) error {
		for attempt := 1; ; attempt++ {
			err := profile(name, f)
			if err == nil || attempt == 3 || ctx.Err() != nil || !dbGone(err) {
				return err
			}
			logf("  the database went away (%v); repeating the %s phase", err, name)
			if err := waitForDB(ctx, db); err != nil {
				return err
			}
		}
	}

	tables := []Table{ActivityLog()}
	wide, err := WideLog()
	if err != nil {
		return err
	}
	tables = append(tables, wide)
	rep.Tables = make([]TableResult, len(tables))
	for i, t := range tables {
		rep.Tables[i] = TableResult{Table: t.Name(), Columns: len(t.Spec.Exported())}
	}
	rowsOf := func(i int) int {
		if i == 0 {
			return rep.Dataset.Rows
		}
		return rep.Dataset.WideRows
	}

	// 1. The extract limit of each table. A first pass settles MySQL's caches so that neither
	// the limit nor the export that follows pays for a cold read; the limit is the better of two
	// more passes, since on a shared machine one pass can be slowed by others.
	for i, t := range tables {
		tr := &rep.Tables[i]
		logf("1/6 extract %s: plain streaming SELECT of %s", t.Name(), small)
		lt, err := openTable(ctx, db, t.Spec)
		if err != nil {
			return err
		}
		err = phase("extract", func() error {
			tr.Extract, tr.ExtractPasses = Rate{}, nil
			if _, err := extractPlain(ctx, lt, small); err != nil {
				return err
			}
			for pass := 0; pass < 2; pass++ {
				t0 := meter.snapshot()
				r, err := extractPlain(ctx, lt, small)
				if err != nil {
					return err
				}
				r.CPU = ptr(meter.since(t0))
				tr.ExtractPasses = append(tr.ExtractPasses, r.RowsPerSec)
				if r.RowsPerSec > tr.Extract.RowsPerSec {
					tr.Extract = r
				}
			}
			t0 := meter.snapshot()
			var err error
			tr.Reader, err = extractSpec(ctx, lt, small)
			tr.Reader.CPU = ptr(meter.since(t0))
			return err
		})
		if err != nil {
			return err
		}
		if tr.Extract.Rows != int64(rowsOf(i)) {
			return fmt.Errorf("extract of %s read %d rows of the window, want %d", t.Name(), tr.Extract.Rows, rowsOf(i))
		}
		logf("  %.0f rows/s (%.1f MB/s of source data); spec reader %.0f rows/s", tr.Extract.RowsPerSec, tr.Extract.SourceMBps, tr.Reader.RowsPerSec)
	}

	// 2. The full export of the same window to versitygw; then where its time goes: the same
	// export without S3, and S3 without the export.
	store, err := openS3(ctx, s3t)
	if err != nil {
		return err
	}
	for i, t := range tables {
		tr := &rep.Tables[i]
		logf("2/6 export %s: %s to versitygw (%s, %s)", t.Name(), small, opts.Settings.Compression, opts.Settings.FieldEncryption)
		err = phase("export-"+t.Name(), func() error {
			var err error
			t0 := meter.snapshot()
			if tr.Export, err = runExport(ctx, db, store, t.Spec, small, opts.Settings); err != nil {
				return fmt.Errorf("export %s: %w", t.Name(), err)
			}
			tr.Export.CPU = ptr(meter.since(t0))
			t0 = meter.snapshot()
			if tr.ExportNoS3, err = runExport(ctx, db, &countingStore{Store: store}, t.Spec, small, opts.Settings); err != nil {
				return fmt.Errorf("export %s without S3: %w", t.Name(), err)
			}
			tr.ExportNoS3.CPU = ptr(meter.since(t0))
			if i > 0 {
				return nil
			}
			t0 = meter.snapshot()
			if rep.UploadAlone, err = uploadAlone(ctx, store, tr.Export.OutputBytes); err != nil {
				return err
			}
			rep.UploadAlone.CPU = ptr(meter.since(t0))
			return nil
		})
		if err != nil {
			return err
		}
		if tr.Export.Rows != tr.Extract.Rows {
			return fmt.Errorf("export of %s wrote %d rows, the window holds %d", t.Name(), tr.Export.Rows, tr.Extract.Rows)
		}
		tr.Export.SourceBytes = tr.Extract.SourceBytes
		if tr.Export.Seconds > 0 {
			tr.Export.SourceMBps = float64(tr.Export.SourceBytes) / 1e6 / tr.Export.Seconds
		}
		if tr.Extract.RowsPerSec > 0 {
			tr.ExportRatio = tr.Export.RowsPerSec / tr.Extract.RowsPerSec
		}
		logf("  %.0f rows/s (%.1f MB/s), %.2f of the extract limit; %.1f bytes/row", tr.Export.RowsPerSec, tr.Export.SourceMBps, tr.ExportRatio, tr.Export.BytesPerRow)
		logf("  without S3 %.0f rows/s", tr.ExportNoS3.RowsPerSec)
	}
	logf("  S3 upload alone %.1f MB/s", rep.UploadAlone.MBps)

	// 3. Peak memory of the export, each in a child process: activity_log at N and at the large
	// size, the wide table at its N.
	for _, m := range []struct {
		table int
		win   partition.Window
		rows  int
		into  *MemoryPoint
	}{
		{0, small, rep.Dataset.Rows, &rep.Tables[0].Memory.Small},
		{0, large, rep.Dataset.RowsLarge, &rep.Tables[0].Memory.Large},
		{1, small, rep.Dataset.WideRows, &rep.Tables[1].Memory.Small},
	} {
		name := tables[m.table].Name()
		logf("3/6 memory: export of %d rows of %s in a child process", m.rows, name)
		spec := ChildSpec{Table: name, DSN: dsn, S3: s3t, Start: m.win.Start, End: m.win.End, Settings: opts.Settings}
		if opts.MemProfile != "" {
			spec.HeapProfile = fmt.Sprintf("%s-export-%s-%d.heap.pprof", opts.MemProfile, name, m.rows)
		}
		err := phase("memory", func() error {
			t0 := meter.snapshot()
			p, err := runChild(ctx, opts.ExportChild(ctx), spec, opts.Log)
			if err != nil {
				return err
			}
			p.Export.CPU = ptr(meter.since(t0))
			if p.Rows != int64(m.rows) {
				return fmt.Errorf("export child wrote %d rows, want %d", p.Rows, m.rows)
			}
			*m.into = p
			return nil
		})
		if err != nil {
			return err
		}
		logf("  peak RSS %.1f MiB (Go heap peak %.1f MiB), %.0f rows/s, GC %.1f%% of its CPU (GOGC %s)",
			m.into.PeakRSSMiB, m.into.PeakHeapMiB, m.into.Export.RowsPerSec, 100*m.into.GCShare, gogc())
	}
	if mem := &rep.Tables[0].Memory; mem.Small.PeakRSSMiB > 0 {
		mem.Growth = mem.Large.PeakRSSMiB / mem.Small.PeakRSSMiB
	}

	// 4. Output bytes per row of activity_log, against the old format.
	logf("4/6 size: Parquet codecs and field-encryption modes against the old format")
	err = phase("size", func() error {
		var err error
		rep.Size, err = measureSizes(ctx, db, store, tables[0].Spec, small, opts.Settings.RowGroupRows, logf)
		return err
	})
	if err != nil {
		return err
	}

	// 5. The retention purge against a bare chunked DELETE of the same rows.
	logf("5/6 purge: %d rows through internal/retention, then the same rows by a bare chunked DELETE", opts.PurgeRows)
	err = phase("purge", func() error {
		var err error
		rep.Purge, err = benchPurge(ctx, db, store, tables[0], rep.Dataset.PurgeWindow(), rep.Dataset.Seed, opts, logf)
		return err
	})
	if err != nil {
		return err
	}

	// 5. The API against raw transactions. Failed requests are counted, not fatal; but a
	// database restart shows up as failures, so a run with any is repeated (and kept, with its
	// errors, if they persist).
	logf("6/6 api: POST /blog/create/ for %s at concurrency %d, then the raw transactions", opts.APIDuration, opts.APIConcurrency)
	err = phase("api", func() error {
		var err error
		if rep.API, err = benchAPI(ctx, meter, dsn, opts.APIConcurrency, opts.APIDuration); err != nil {
			return fmt.Errorf("api: %w", err)
		}
		if rep.API.API.Errors+rep.API.Raw.Errors > 0 {
			return &loadErrors{api: rep.API.API, raw: rep.API.Raw}
		}
		return nil
	})
	var le *loadErrors
	if err != nil && !errors.As(err, &le) {
		return err
	}
	logf("  API %.0f req/s (p50 %.1f ms, p99 %.1f ms); raw %.0f tx/s (p50 %.1f ms, p99 %.1f ms); ratio %.2f",
		rep.API.API.PerSec, rep.API.API.P50ms, rep.API.API.P99ms, rep.API.Raw.PerSec, rep.API.Raw.P50ms, rep.API.Raw.P99ms, rep.API.Ratio)
	return nil
}

// loadErrors reports failed requests of a load; dbGone treats it as a reason to repeat.
type loadErrors struct{ api, raw Load }

func (e *loadErrors) Error() string {
	return fmt.Sprintf("%d API and %d raw failures (first: %s%s)", e.api.Errors, e.raw.Errors, e.api.FirstError, e.raw.FirstError)
}

// dbGone reports whether err comes from losing the database connection (a restart), as opposed
// to a real failure of what is measured.
func dbGone(err error) bool {
	var le *loadErrors
	if errors.As(err, &le) || errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"invalid connection", "connection refused", "bad connection", "broken pipe", "connection reset", "server shutdown"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// waitForDB waits up to two minutes for the database to answer again.
func waitForDB(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := db.PingContext(pctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("database still unreachable after 2 minutes: %w", err)
		}
		time.Sleep(time.Second)
	}
}

func ptr[T any](v T) *T { return &v }

func targets(r *Report) []Target {
	var t []Target
	for _, tr := range r.Tables {
		t = append(t, target("export_vs_extract_"+tr.Table, tr.Table+" export rows/s over the plain SELECT's rows/s", tr.ExportRatio, ">=", 0.9))
	}
	a := r.Tables[0].Memory
	t = append(t,
		target("peak_rss_large_mib", fmt.Sprintf("peak RSS of the export of %d rows, MiB", r.Dataset.RowsLarge), a.Large.PeakRSSMiB, "<=", 200),
		target("peak_rss_growth", fmt.Sprintf("peak RSS at %d rows over peak RSS at %d rows (flat = 1)", r.Dataset.RowsLarge, r.Dataset.Rows), a.Growth, "<=", 1.25),
		target("bytes_per_row_vs_typed", "activity_log bytes/row, spec-driven over the typed path's documented figure", r.Tables[0].Export.BytesPerRow/r.Typed.BytesPerRow, "<=", 1.0),
		target("ratio_vs_typed", "activity_log export/extract ratio, spec-driven minus the typed path's documented ratio", r.Tables[0].ExportRatio-r.Typed.Ratio, ">=", 0),
	)
	for _, mode := range sizeModes {
		if v, ok := r.Size.Variant("zstd", mode); ok {
			t = append(t, target("size_ratio_zstd_"+mode, "Parquet zstd "+mode+" bytes over the old format's bytes", v.RatioToLegacy, "<=", 0.2))
		}
	}
	t = append(t, target("api_vs_raw", "API POST /blog/create/ requests/s over raw post+log transactions/s", r.API.Ratio, ">=", 0.7))
	return t
}

// gogc is the GOGC the export runs with: the environment's, or export.GCPercent.
func gogc() string {
	if v, ok := os.LookupEnv("GOGC"); ok {
		return v
	}
	return strconv.Itoa(export.GCPercent)
}
