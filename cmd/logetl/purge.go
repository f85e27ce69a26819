package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/pipeline"
	"github.com/logetl/logetl/internal/retention"
)

// purgeCmd deletes from MySQL the rows of a table's windows before a time, each window only
// after it verified against the lake (re-exported first when it did not), as the purge schedule
// does, without Temporal. It prints a line per window and exits non-zero if any was refused.
type purgeCmd struct {
	pipelineFlags
	config.TableSelect

	Before string `name:"before" required:"" help:"Purge the windows that end at or before this time (RFC 3339, or a date: local midnight in the table's time zone); floored to the window grid, and no later than now minus --safety-lag."`
	DryRun bool   `name:"dry-run" help:"Verify and print what would be deleted; delete nothing, change nothing."`

	stdout io.Writer
}

func (c *purgeCmd) Run(ctx context.Context) error {
	p, err := c.openPipeline(ctx, "purge (cli)", pipeline.Needs{Keys: true, ServicesNow: true})
	if err != nil {
		return err
	}
	defer p.Close()
	t, err := p.Table(c.Table)
	if err != nil {
		return err
	}
	grid := t.Export.Grid()
	before, err := partition.ParseTime(c.Before, grid.Location())
	if err != nil {
		return fmt.Errorf("--before: %w", err)
	}
	before = grid.Floor(before)
	if limit := grid.Floor(time.Now().Add(-c.SafetyLag)); before.After(limit) {
		return fmt.Errorf("--before %s is after the last closed window (%s): rows may still be committing", before.Format(time.RFC3339), limit.Format(time.RFC3339))
	}
	if err := t.Export.EnsureLayout(ctx); err != nil {
		return err
	}
	purger := t.Purger
	if purger == nil {
		purger = retention.New(t.Export, retention.Config{ChunkRows: c.PurgeChunkRows, Pause: c.PurgePause, MaxLockWaits: c.PurgeMaxLockWaits, SlowChunk: c.PurgeSlowChunk})
	}
	out := writerOr(c.stdout)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "WINDOW\tMYSQL ROWS\tMANIFEST ROWS\tVERDICT\tDELETED\tREASON")
	var windows, refused int
	var deleted int64
	var longest time.Duration
	for cur := time.Unix(0, 0).UTC(); cur.Before(before); {
		page, err := t.Export.PlanPage(ctx, cur, before, 200)
		if err != nil {
			return err
		}
		for _, w := range page.Windows {
			r, err := purger.PurgeWindow(ctx, w, c.DryRun, nil)
			if err != nil {
				_ = tw.Flush()
				return fmt.Errorf("purge %s: %w", w, err)
			}
			windows++
			deleted += r.Deleted
			longest = max(longest, r.LongestChunk)
			if r.Verdict == retention.VerdictRefused {
				refused++
			}
			fmt.Fprintf(tw, "%s..%s\t%d\t%d\t%s\t%d\t%s\n", w.Start.Format(time.RFC3339), w.End.Format(time.RFC3339), r.MySQLRows, r.FileRows, r.Verdict, r.Deleted, r.Reason)
		}
		cur = page.Next
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	verb := "deleted"
	if c.DryRun {
		verb = "would delete"
	}
	fmt.Fprintf(out, "%s: %d windows before %s, %s %d rows, %d refused; the longest DELETE took %s\n",
		t.Name(), windows, before.Format(time.RFC3339), verb, deleted, refused, longest.Round(time.Millisecond))
	if refused > 0 {
		return fmt.Errorf("%d windows were refused and kept in MySQL (see REASON; `logetl verify --repair` over them, then purge again)", refused)
	}
	return nil
}
