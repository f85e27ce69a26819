package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/manifest"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/pipeline"
)

// exportCmd exports windows straight from MySQL to S3, without Temporal: the operator's tool
// for a one-off export or a backfill on a machine without the worker.
type exportCmd struct {
	pipelineFlags
	config.TableSelect

	From        string `name:"from" required:"" help:"Start of the range, RFC 3339 (2026-11-24T10:00:00Z) or a date (local midnight in the table's time zone); on the window grid."`
	To          string `name:"to" required:"" help:"End of the range (exclusive), same formats; no later than now minus --safety-lag."`
	Granularity string `name:"granularity" enum:"daily,weekly" default:"daily" help:"daily: export every window of the range that has rows into day partitions (the others are recorded as exported and empty); weekly: compact each ISO week the range touches, repairing its windows first."`

	stdout io.Writer
}

func (c *exportCmd) Run(ctx context.Context) error {
	g, err := partition.ParseGranularity(c.Granularity)
	if err != nil {
		return err
	}
	p, err := c.openPipeline(ctx, "export (cli)", pipeline.Needs{Keys: true, ServicesNow: true})
	if err != nil {
		return err
	}
	defer p.Close()
	t, err := p.Table(c.Table)
	if err != nil {
		return err
	}
	exp := t.Export
	grid := exp.Grid()
	from, to, err := grid.ParseRange(c.From, c.To, time.Now(), c.SafetyLag)
	if err != nil {
		return err
	}
	// Before anything is written: a configuration of another layout is refused here.
	if err := exp.EnsureLayout(ctx); err != nil {
		return err
	}
	out := writerOr(c.stdout)
	var files, rows, bytes int64
	print := func(m manifest.Manifest) {
		if m.Granularity == manifest.GranularityWeek {
			fmt.Fprintf(out, "%s\t%d rows\t%d bytes\t%d daily files\n", m.Object, m.Rows, m.Bytes, len(m.Sources))
		} else {
			fmt.Fprintf(out, "%s\t%d rows\t%d bytes\n", m.Object, m.Rows, m.Bytes)
		}
		files, rows, bytes = files+1, rows+m.Rows, bytes+m.Bytes
	}
	if g == partition.Weekly {
		if _, err := exp.CompactRange(ctx, from, to, p.Store.ListPrefixes, print); err != nil {
			return err
		}
	} else {
		res, err := exp.ExportRange(ctx, from, to, c.maxWindows(t), print)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s: %d windows, %d with rows exported, the others recorded empty\n", t.Name(), res.Windows, res.Exported)
	}
	slog.InfoContext(ctx, "export done", "table", t.Name(), "from", from.Format(time.RFC3339), "to", to.Format(time.RFC3339),
		"granularity", g, "files", files, "rows", rows, "bytes", bytes, "bucket", c.S3Bucket)
	return nil
}
