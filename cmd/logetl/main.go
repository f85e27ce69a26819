// Command logetl is the one binary of logetl: the REST API, the Temporal worker, the export
// pipeline's commands and the operator tools. Every flag is also an environment variable
// LOGETL_<NAME>; see --help of each command.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/retention"
)

// cli lists the subcommands; each lives in its own file of this folder.
type cli struct {
	config.Log

	API       apiCmd       `cmd:"" name:"api" help:"Serve the REST API (runs migrations first unless --no-migrate)."`
	Worker    workerCmd    `cmd:"" name:"worker" help:"Run the Temporal worker (workflows and activities) on the task queue."`
	Migrate   migrateCmd   `cmd:"" name:"migrate" help:"Create or upgrade the MySQL schema."`
	Export    exportCmd    `cmd:"" name:"export" help:"Export a table's windows to Parquet in S3 directly, without Temporal."`
	Backfill  backfillCmd  `cmd:"" name:"backfill" help:"Start a Backfill workflow over a past range and print its id and UI link."`
	Decrypt   decryptCmd   `cmd:"" name:"decrypt" help:"Print an exported Parquet file as JSON lines with protected fields decrypted."`
	Verify    verifyCmd    `cmd:"" name:"verify" help:"Compare MySQL row counts with the S3 manifests, window by window."`
	Keys      keysCmd      `cmd:"" name:"keys" help:"Generate or rotate the keyring of pseudonymization and encryption keys."`
	Schedules schedulesCmd `cmd:"" name:"schedules" help:"Create or update the Temporal schedules from config."`
	Bot       botCmd       `cmd:"" name:"bot" help:"Drive the API with bot traffic directly (no Temporal)."`
	Purge     purgeCmd     `cmd:"" name:"purge" help:"Delete from MySQL the rows of verified windows before a time, window by window, without Temporal."`
	Lifecycle lifecycleCmd `cmd:"" name:"lifecycle" help:"Delete the daily files of compacted weeks whose weekly file holds their rows, without Temporal."`
	Tables    tablesCmd    `cmd:"" name:"tables" help:"Inspect a MySQL table for a starting table spec; list and check the configured tables."`
	Doctor    doctorCmd    `cmd:"" name:"doctor" help:"Check Temporal, search attributes, S3, the keyring and every table's MySQL side; one line per check with the fix."`
	Status    statusCmd    `cmd:"" name:"status" help:"Per table: last exported window and lag, last verify, failing windows with UI links, schedules, oldest row; non-zero exit over --max-lag."`
}

func main() {
	var c cli
	kctx := kong.Parse(&c,
		kong.Name("logetl"),
		kong.Description("logetl moves MySQL log tables into a partitioned, protected Parquet data lake on S3, orchestrated by Temporal."),
		kong.UsageOnError(),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		defaults(),
	)
	slog.SetDefault(newLogger(c.Log, os.Stderr))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	kctx.BindTo(ctx, (*context.Context)(nil))
	if err := kctx.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "logetl %s: %v\n", kctx.Command(), err)
		os.Exit(1)
	}
}

// defaults are the flag defaults declared as constants of the packages that own them.
func defaults() kong.Vars {
	return kong.Vars{
		"max_range":            "36500d",
		"default_window":       strings.TrimSuffix(config.DefaultWindow.String(), "0s"),
		"purge_chunk_rows":     strconv.Itoa(retention.DefaultChunkRows),
		"purge_pause":          retention.DefaultPause.String(),
		"purge_max_lock_waits": strconv.Itoa(retention.DefaultMaxLockWaits),
		"purge_slow_chunk":     retention.DefaultSlowChunk.String(),
	}
}

func newLogger(cfg config.Log, w *os.File) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
