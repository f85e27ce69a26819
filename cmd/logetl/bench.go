package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/logetl/logetl/internal/bench"
	"github.com/logetl/logetl/internal/config"
)

// benchCmd measures extract, export, memory, size and API throughput in one run against the
// real MariaDB and a versitygw it starts itself, and prints a table (and a JSON file).
type benchCmd struct {
	config.MySQL

	Rows           int           `name:"rows" default:"1000000" help:"Records in the measured window."`
	RowsLarge      int           `name:"rows-large" default:"0" help:"Records in the large window of the memory measurement (0: 5 x --rows)."`
	Seed           uint64        `name:"seed" default:"1" help:"Seed of the synthetic data."`
	JSON           string        `name:"json" help:"Write every figure, ratio and target to this JSON file."`
	APISeconds     float64       `name:"api-seconds" default:"10" help:"Seconds of measured load for the API and for the raw transactions, each."`
	APIConcurrency int           `name:"api-concurrency" default:"16" help:"Concurrent clients of the API and of the raw transactions."`
	BenchDB        string        `name:"bench-db" default:"logetl_bench" help:"Database the bench creates on the --mysql-dsn server (its own database part is ignored)."`
	ReuseDB        bool          `name:"reuse-db" help:"Keep the bench database afterwards, and reuse it when it holds the same data set (skips the load)."`
	Compression    string        `name:"compression" enum:"zstd,snappy,gzip,none" default:"zstd" help:"Parquet codec of the measured export."`
	FieldEnc       string        `name:"field-encryption" enum:"per-value,per-rowgroup" default:"per-value" help:"Field-encryption mode of the measured export."`
	RowGroupRows   int           `name:"row-group-rows" default:"100000" help:"Rows per Parquet row group."`
	PartSize       int64         `name:"s3-part-size" default:"8388608" help:"Multipart upload part size in bytes."`
	UploadConc     int           `name:"s3-upload-concurrency" default:"2" help:"Parts of one upload sent in parallel."`
	CPUProfile     string        `name:"cpuprofile" help:"Write one CPU profile per phase to <prefix>-extract.pprof, -export.pprof, -size.pprof, -api.pprof."`
	MemProfile     string        `name:"memprofile" help:"Make each export child write a heap profile to <prefix>-export-<rows>.heap.pprof."`
	Timeout        time.Duration `name:"timeout" default:"30m" help:"Give up after this long."`

	// ExportChild makes this process the export child of a running bench: spec on stdin,
	// result on stdout. Hidden: only the bench itself starts it.
	ExportChild bool `name:"export-child" hidden:"" help:"Run one export as a bench child process."`
}

func (c *benchCmd) Run(ctx context.Context) error {
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
		Seed:      c.Seed,
		Settings: bench.ExportSettings{
			Compression: c.Compression, FieldEncryption: c.FieldEnc, RowGroupRows: c.RowGroupRows,
		},
		PartSize:          c.PartSize,
		UploadConcurrency: c.UploadConc,
		APIDuration:       time.Duration(c.APISeconds * float64(time.Second)),
		APIConcurrency:    c.APIConcurrency,
		ExportChild: func(ctx context.Context) *exec.Cmd {
			return exec.CommandContext(ctx, self, "bench", "--export-child")
		},
		CPUProfile: c.CPUProfile,
		MemProfile: c.MemProfile,
		Log:        os.Stderr,
		Command:    "logetl " + strings.Join(os.Args[1:], " "),
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
