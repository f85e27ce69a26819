// Command logetl-bench measures, in one run against the real services, what logetl exists for:
// the spec-driven export of activity_log and of a wide synthetic table against the rate at which
// MySQL hands out a window, the export's peak memory, its bytes per row next to the old service's
// format, the retention purge next to a bare chunked DELETE, and the API's logging transaction
// next to the bare INSERTs. It is a tool beside the product: the logetl binary does not link it.
// Results and how to read them: docs/benchmarks.md.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kong"

	"github.com/logetl/logetl/internal/bench"
	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/retention"
)

// cli is the whole command line. Every default comes from the bench and retention packages'
// constants (vars), declared once there.
type cli struct {
	config.MySQL

	Rows           int           `name:"rows" default:"${rows}" help:"Records of activity_log in the measured window (N)."`
	RowsLarge      int           `name:"rows-large" default:"0" help:"Records of activity_log in the large window of the memory measurement (0: 5 x --rows)."`
	WideRows       int           `name:"wide-rows" default:"0" help:"Records of the wide table (wide_log, 26 exported columns) in its window (0: --rows)."`
	PurgeRows      int           `name:"purge-rows" default:"0" help:"Records the purge and the bare DELETE each remove (0: --rows / 5)."`
	Seed           uint64        `name:"seed" default:"${seed}" help:"Seed of the synthetic data."`
	JSON           string        `name:"json" help:"Write every figure, ratio and target to this JSON file."`
	APIDuration    time.Duration `name:"api-duration" default:"${api_duration}" help:"Measured load for the API and for the raw transactions, each."`
	APIConcurrency int           `name:"api-concurrency" default:"${api_concurrency}" help:"Concurrent clients of the API and of the raw transactions."`
	BenchDB        string        `name:"bench-db" default:"${bench_db}" help:"Database the bench creates on the --mysql-dsn server (the DSN's own database part is ignored)."`
	ReuseDB        bool          `name:"reuse-db" help:"Keep the bench database afterwards, and reuse it when it holds the same data set (skips the load)."`
	Compression    string        `name:"compression" enum:"zstd,snappy,gzip,none" default:"${compression}" help:"Parquet codec of the measured exports."`
	FieldEnc       string        `name:"field-encryption" enum:"per-value,per-rowgroup" default:"${field_encryption}" help:"Field-encryption mode of the measured exports."`
	RowGroupRows   int           `name:"row-group-rows" default:"${row_group_rows}" help:"Rows per Parquet row group."`
	PartSize       int64         `name:"s3-part-size" default:"${part_size}" help:"Multipart upload part size in bytes."`
	UploadConc     int           `name:"s3-upload-concurrency" default:"${upload_concurrency}" help:"Parts of one upload sent in parallel."`
	PurgeChunkRows int           `name:"purge-chunk-rows" default:"${purge_chunk_rows}" help:"Ids per DELETE of the purge, and the bare DELETE's LIMIT."`
	PurgePause     time.Duration `name:"purge-pause" default:"${purge_pause}" help:"Pause between the purge's chunks in its first run (the second runs without)."`
	CPUProfile     string        `name:"cpuprofile" help:"Write one CPU profile per phase to <prefix>-<phase>.pprof (extract, export-<table>, size, purge, api)."`
	MemProfile     string        `name:"memprofile" help:"Make each export child write a heap profile to <prefix>-export-<table>-<rows>.heap.pprof."`
	Timeout        time.Duration `name:"timeout" default:"30m" help:"Give up after this long."`

	// ExportChild makes this process the export child of a running bench: spec on stdin,
	// result on stdout. Hidden: only the bench itself starts it.
	ExportChild bool `name:"export-child" hidden:"" help:"Run one export as a bench child process."`
}

func vars() kong.Vars {
	return kong.Vars{
		"rows":               strconv.Itoa(bench.DefaultRows),
		"seed":               strconv.Itoa(bench.DefaultSeed),
		"api_duration":       bench.DefaultAPIDuration.String(),
		"api_concurrency":    strconv.Itoa(bench.DefaultAPIConcurrency),
		"bench_db":           bench.DefaultDatabase,
		"compression":        bench.DefaultCompression,
		"field_encryption":   bench.DefaultFieldEncryption,
		"row_group_rows":     strconv.Itoa(bench.DefaultRowGroupRows),
		"part_size":          strconv.Itoa(bench.DefaultPartSize),
		"upload_concurrency": strconv.Itoa(bench.DefaultUploadConcurrency),
		"purge_chunk_rows":   strconv.Itoa(retention.DefaultChunkRows),
		"purge_pause":        retention.DefaultPause.String(),
	}
}

func main() {
	var c cli
	kong.Parse(&c,
		kong.Name("logetl-bench"),
		kong.Description("Benchmarks of logetl's spec-driven pipeline against MariaDB and a versitygw it starts itself (docs/benchmarks.md)."),
		kong.UsageOnError(),
		vars(),
	)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := c.run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "logetl-bench:", err)
		os.Exit(1)
	}
}

func (c *cli) run(ctx context.Context) error {
	if c.ExportChild {
		return bench.RunChild(ctx, os.Stdin, os.Stdout)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary for the export child: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	rep, err := bench.Run(ctx, bench.Options{
		MySQLDSN:  c.MySQLDSN,
		Database:  c.BenchDB,
		Reuse:     c.ReuseDB,
		Rows:      c.Rows,
		RowsLarge: c.RowsLarge,
		WideRows:  c.WideRows,
		PurgeRows: c.PurgeRows,
		Seed:      c.Seed,
		Settings: bench.ExportSettings{
			Compression: c.Compression, FieldEncryption: c.FieldEnc, RowGroupRows: c.RowGroupRows,
		},
		PartSize:          c.PartSize,
		UploadConcurrency: c.UploadConc,
		Purge:             retention.Config{ChunkRows: c.PurgeChunkRows, Pause: c.PurgePause},
		APIDuration:       c.APIDuration,
		APIConcurrency:    c.APIConcurrency,
		ExportChild: func(ctx context.Context) *exec.Cmd {
			return exec.CommandContext(ctx, self, "--export-child")
		},
		CPUProfile: c.CPUProfile,
		MemProfile: c.MemProfile,
		Log:        os.Stderr,
		Command:    "logetl-bench " + strings.Join(os.Args[1:], " "),
	})
	if err != nil {
		return err
	}
	if err := rep.WriteTable(os.Stdout); err != nil {
		return err
	}
	if c.JSON != "" {
		data, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(c.JSON, append(data, '\n'), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", c.JSON, err)
		}
	}
	return nil
}
