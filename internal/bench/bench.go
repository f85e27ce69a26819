//go:build ignore

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
	"github.com/logetl/logetl/internal/testenv"
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
	Seed      uint64 // of the synthetic data (default 1)

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
		o.Database = "logetl_bench"
	}
	if o.Rows == 0 {
		o.Rows = 1_000_000
	}
	if o.RowsLarge == 0 {
		o.RowsLarge = 5 * o.Rows
	}
	if o.Rows < 1 || o.RowsLarge < o.Rows {
		return fmt.Errorf("rows %d and large rows %d: want 1 <= rows <= large rows", o.Rows, o.RowsLarge)
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Settings.Compression == "" {
		o.Settings.Compression = "zstd"
	}
	if o.Settings.FieldEncryption == "" {
		o.Settings.FieldEncryption = export.PerValue
	}
	if o.Settings.RowGroupRows == 0 {
		o.Settings.RowGroupRows = 100_000
	}
	if o.PartSize == 0 {
		o.PartSize = 8 << 20
	}
	if o.UploadConcurrency == 0 {
		o.UploadConcurrency = 2
	}
	if o.APIDuration == 0 {
		o.APIDuration = 10 * time.Second
	}
	if o.APIConcurrency == 0 {
		o.APIConcurrency = 16
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

	// Extract is the plain streaming SELECT of the window, rows discarded: the limit (the
	// faster of ExtractPasses).
	Extract       Rate      `json:"extract"`
	ExtractPasses []float64 `json:"extract_passes_rows_per_sec"`
	// Reader is activitylog.WindowReader alone: the export's first stage, typed records.
	Reader Rate `json:"reader"`
	// Export is the full export of the same window to versitygw, until the upload is complete.
	Export ExportResult `json:"export"`
	// ExportRatio is Export.RowsPerSec over Extract.RowsPerSec.
	ExportRatio float64 `json:"export_ratio"`
	// ExportNoS3 is the same export into a byte counter: extract, protect and encode only.
	ExportNoS3 ExportResult `json:"export_without_s3"`
	// UploadAlone is the S3 sink by itself: as many incompressible bytes as the export wrote.
	UploadAlone Throughput `json:"upload_alone"`

	Memory MemoryResult `json:"memory"`
	Size   SizeResult   `json:"size"`
	API    APIResult    `json:"api"`

	Targets []Target `json:"targets"`
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
		Dataset:   Dataset{Seed: opts.Seed, Rows: opts.Rows, RowsLarge: opts.RowsLarge, Users: 3000, Agents: 300},
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
	defer os.RemoveAll(dir)
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

	// 1. The extract limit. A first pass settles MySQL's caches so that neither the limit nor
	// the export that follows pays for a cold read; the limit is the better of two more passes,
	// since on a shared machine one pass can be slowed by others.
	logf("1/5 extract: plain streaming SELECT of %s", small)
	err := phase("extract", func() error {
		rep.Extract, rep.ExtractPasses = Rate{}, nil
		if _, err := extractPlain(ctx, db, small); err != nil {
			return err
		}
		for pass := 0; pass < 2; pass++ {
			t0 := meter.snapshot()
			r, err := extractPlain(ctx, db, small)
			if err != nil {
				return err
			}
			r.CPU = ptr(meter.since(t0))
			rep.ExtractPasses = append(rep.ExtractPasses, r.RowsPerSec)
			if r.RowsPerSec > rep.Extract.RowsPerSec {
				rep.Extract = r
			}
		}
		t0 := meter.snapshot()
		var err error
		rep.Reader, err = extractRecords(ctx, db, small, nil)
		rep.Reader.CPU = ptr(meter.since(t0))
		return err
	})
	if err != nil {
		return err
	}
	if rep.Extract.Rows != int64(rep.Dataset.Rows) {
		return fmt.Errorf("extract read %d rows of the window, want %d", rep.Extract.Rows, rep.Dataset.Rows)
	}
	logf("  %.0f rows/s (%.1f MB/s of source data); typed reader %.0f rows/s", rep.Extract.RowsPerSec, rep.Extract.SourceMBps, rep.Reader.RowsPerSec)

	// 2. The full export of the same window to versitygw; then where its time goes: the same
	// export without S3, and S3 without the export.
	logf("2/5 export: %s to versitygw (%s, %s)", small, opts.Settings.Compression, opts.Settings.FieldEncryption)
	store, err := openS3(ctx, s3t)
	if err != nil {
		return err
	}
	err = phase("export", func() error {
		var err error
		t0 := meter.snapshot()
		if rep.Export, err = runExport(ctx, db, store, small, opts.Settings); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		rep.Export.CPU = ptr(meter.since(t0))
		t0 = meter.snapshot()
		if rep.ExportNoS3, err = runExport(ctx, db, &countingStore{}, small, opts.Settings); err != nil {
			return fmt.Errorf("export without S3: %w", err)
		}
		rep.ExportNoS3.CPU = ptr(meter.since(t0))
		t0 = meter.snapshot()
		if rep.UploadAlone, err = uploadAlone(ctx, store, rep.Export.OutputBytes); err != nil {
			return err
		}
		rep.UploadAlone.CPU = ptr(meter.since(t0))
		return nil
	})
	if err != nil {
		return err
	}
	if rep.Export.Rows != rep.Extract.Rows {
		return fmt.Errorf("export wrote %d rows, the window holds %d", rep.Export.Rows, rep.Extract.Rows)
	}
	rep.Export.SourceBytes = rep.Extract.SourceBytes
	if rep.Export.Seconds > 0 {
		rep.Export.SourceMBps = float64(rep.Export.SourceBytes) / 1e6 / rep.Export.Seconds
	}
	if rep.Extract.RowsPerSec > 0 {
		rep.ExportRatio = rep.Export.RowsPerSec / rep.Extract.RowsPerSec
	}
	logf("  %.0f rows/s (%.1f MB/s), %.2f of the extract limit; %.1f bytes/row", rep.Export.RowsPerSec, rep.Export.SourceMBps, rep.ExportRatio, rep.Export.BytesPerRow)
	logf("  without S3 %.0f rows/s; S3 upload alone %.1f MB/s", rep.ExportNoS3.RowsPerSec, rep.UploadAlone.MBps)

	// 3. Peak memory of the export at N and at the large size, each in a child process.
	for _, m := range []struct {
		win  partition.Window
		rows int
		into *MemoryPoint
	}{{small, rep.Dataset.Rows, &rep.Memory.Small}, {large, rep.Dataset.RowsLarge, &rep.Memory.Large}} {
		logf("3/5 memory: export of %d rows in a child process", m.rows)
		spec := ChildSpec{DSN: dsn, S3: s3t, Start: m.win.Start, End: m.win.End, Settings: opts.Settings}
		if opts.MemProfile != "" {
			spec.HeapProfile = fmt.Sprintf("%s-export-%d.heap.pprof", opts.MemProfile, m.rows)
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
	if rep.Memory.Small.PeakRSSMiB > 0 {
		rep.Memory.Growth = rep.Memory.Large.PeakRSSMiB / rep.Memory.Small.PeakRSSMiB
	}

	// 4. Output bytes per row, against the old format.
	logf("4/5 size: Parquet codecs and field-encryption modes against the old format")
	err = phase("size", func() error {
		var err error
		rep.Size, err = measureSizes(ctx, db, small, opts.Settings.RowGroupRows, logf)
		return err
	})
	if err != nil {
		return err
	}

	// 5. The API against raw transactions. Failed requests are counted, not fatal; but a
	// database restart shows up as failures, so a run with any is repeated (and kept, with its
	// errors, if they persist).
	logf("5/5 api: POST /blog/create/ for %s at concurrency %d, then the raw transactions", opts.APIDuration, opts.APIConcurrency)
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
	t := []Target{
		target("export_vs_extract", "export rows/s over the plain SELECT's rows/s", r.ExportRatio, ">=", 0.8),
		target("peak_rss_large_mib", fmt.Sprintf("peak RSS of the export of %d rows, MiB", r.Dataset.RowsLarge), r.Memory.Large.PeakRSSMiB, "<=", 200),
		target("peak_rss_growth", fmt.Sprintf("peak RSS at %d rows over peak RSS at %d rows (flat = 1)", r.Dataset.RowsLarge, r.Dataset.Rows), r.Memory.Growth, "<=", 1.25),
	}
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
