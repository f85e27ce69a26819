package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// exportCmd exports windows straight from MySQL to S3, without Temporal: the operator's tool
// for a one-off export or a backfill on a machine without the worker.
type exportCmd struct {
	pipelineFlags

	From        string `name:"from" required:"" help:"Start of the range, RFC 3339 (2026-11-24T10:00:00Z) or a date (local midnight in --timezone); on the window grid."`
	To          string `name:"to" required:"" help:"End of the range (exclusive), same formats; no later than now minus --safety-lag."`
	Granularity string `name:"granularity" enum:"day,week" default:"day" help:"day: export every grid window of the range into day partitions; week: compact each ISO week the range touches from its daily files."`

	stdout io.Writer
}

func (c *exportCmd) Run(ctx context.Context) error {
	p, err := c.openPipeline(ctx, pipelineNeeds{keys: c.Granularity == "day", servicesNow: true})
	if err != nil {
		return err
	}
	defer p.close()
	grid := p.exp.Grid()
	from, to, err := grid.ParseRange(c.From, c.To, time.Now(), c.SafetyLag)
	if err != nil {
		return err
	}
	out := writerOr(c.stdout)
	var files, rows, bytes int64
	if c.Granularity == "week" {
		for _, w := range grid.Weeks(from, to) {
			m, err := p.exp.CompactWeek(ctx, w, to, nil)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "%s\t%d rows\t%d bytes\t%d daily files\n", m.Object, m.Rows, m.Bytes, len(m.Sources))
			files, rows, bytes = files+1, rows+m.Rows, bytes+m.Bytes
		}
	} else {
		windows, err := grid.Windows(from, to)
		if err != nil {
			return err
		}
		for _, w := range windows {
			ms, err := p.exp.ExportWindow(ctx, w, nil)
			if err != nil {
				return err
			}
			for _, m := range ms {
				fmt.Fprintf(out, "%s\t%d rows\t%d bytes\n", m.Object, m.Rows, m.Bytes)
				files, rows, bytes = files+1, rows+m.Rows, bytes+m.Bytes
			}
		}
	}
	slog.InfoContext(ctx, "export done", "from", from.Format(time.RFC3339), "to", to.Format(time.RFC3339),
		"granularity", c.Granularity, "files", files, "rows", rows, "bytes", bytes, "bucket", c.S3Bucket)
	return nil
}
