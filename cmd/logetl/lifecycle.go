package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/pipeline"
)

// lifecycleCmd deletes the daily files of compacted weeks that the week's file provably holds,
// as the compaction schedule does after each compaction, without Temporal. It prints what it
// removed and the weeks it kept with their reasons, and exits non-zero if it kept any.
type lifecycleCmd struct {
	pipelineFlags
	config.TableSelect

	Before string `name:"before" help:"Remove daily files of windows that ended before this time (RFC 3339, or a date: local midnight in the table's time zone). Default: now minus the table's daily_files_retention; required when the spec sets none."`
	DryRun bool   `name:"dry-run" help:"Check and print what would be removed; remove nothing."`

	stdout io.Writer
}

func (c *lifecycleCmd) Run(ctx context.Context) error {
	p, err := c.openPipeline(ctx, "lifecycle (cli)", pipeline.Needs{ServicesNow: true})
	if err != nil {
		return err
	}
	defer p.Close()
	t, err := p.Table(c.Table)
	if err != nil {
		return err
	}
	var cutoff time.Time
	switch keep := t.Spec.DailyFilesRetention.D(); {
	case c.Before != "":
		if cutoff, err = partition.ParseTime(c.Before, t.Export.Grid().Location()); err != nil {
			return fmt.Errorf("--before: %w", err)
		}
	case keep > 0:
		cutoff = time.Now().Add(-keep)
	default:
		return fmt.Errorf("table %s keeps its daily files (its spec sets no daily_files_retention): give --before to remove them anyway", t.Name())
	}
	out := writerOr(c.stdout)
	verb := "removed"
	if c.DryRun {
		verb = "would remove"
	}
	var total struct {
		removed, weeks, done int
		bytes                int64
		kept                 []string
	}
	for {
		res, err := t.Export.RemoveCompactedDailies(ctx, cutoff, 20, c.DryRun, nil)
		if err != nil {
			return err
		}
		total.removed += res.Removed
		total.bytes += res.Bytes
		total.weeks += res.Weeks
		total.done = res.Done
		total.kept = append(total.kept, res.Skipped...)
		if !res.More || c.DryRun {
			break
		}
	}
	for _, k := range total.kept {
		fmt.Fprintf(out, "kept %s\n", k)
	}
	fmt.Fprintf(out, "%s: daily files of windows before %s: %s %d (%d bytes) in %d weeks; %d weeks already done, %d kept\n",
		t.Name(), cutoff.UTC().Format(time.RFC3339), verb, total.removed, total.bytes, total.weeks, total.done, len(total.kept))
	if len(total.kept) > 0 {
		return fmt.Errorf("%d weeks kept their daily files (see above: verify --repair, then the compaction, lets the next run remove them)", len(total.kept))
	}
	return nil
}
