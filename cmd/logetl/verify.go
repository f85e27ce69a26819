package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/export"
	"github.com/logetl/logetl/internal/pipeline"
)

// verifyCmd compares MySQL with the lake window by window and exits non-zero on any missing or
// wrong window or stray object. With --repair it re-exports those windows (it then needs the
// keyring) and fails only if a window is still wrong afterwards. Long ranges are summarized:
// counts by status, then only the problems, unless --all-windows.
type verifyCmd struct {
	pipelineFlags
	config.TableSelect

	From              string `name:"from" required:"" help:"Start of the range, RFC 3339 or a date (local midnight in the table's time zone); on the window grid."`
	To                string `name:"to" required:"" help:"End of the range (exclusive); no later than now minus --safety-lag."`
	Repair            bool   `name:"repair" help:"Re-export every window that is missing or differs (record never-exported empty ones), then check it again."`
	AllowMissingEmpty bool   `name:"allow-missing-empty" help:"Accept windows with no rows anywhere that were never exported (e.g. before the pipeline was deployed)."`
	DeleteStrays      bool   `name:"delete-strays" help:"Delete the objects in the table's partitions that are no file or manifest of its windows (they are reported either way)."`
	AllWindows        bool   `name:"all-windows" help:"Print every window, not only the problems."`

	stdout io.Writer
}

func (c *verifyCmd) Run(ctx context.Context) error {
	p, err := c.openPipeline(ctx, "verify (cli)", pipeline.Needs{Keys: c.Repair, ServicesNow: true})
	if err != nil {
		return err
	}
	defer p.Close()
	t, err := p.Table(c.Table)
	if err != nil {
		return err
	}
	from, to, err := t.Export.Grid().ParseRange(c.From, c.To, time.Now(), c.SafetyLag)
	if err != nil {
		return err
	}
	out := writerOr(c.stdout)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	header := false
	row := func(w export.WindowStatus) {
		if !header {
			fmt.Fprintln(tw, "WINDOW\tMYSQL ROWS\tFILE ROWS\tFILES\tSTATUS\tDETAIL")
			header = true
		}
		fmt.Fprintf(tw, "%s..%s\t%d\t%d\t%d/%d\t%s\t%s\n", w.Window.Start.Format(time.RFC3339), w.Window.End.Format(time.RFC3339),
			w.MySQLRows, w.FileRows, w.Files, w.Pieces, w.Status, w.Detail)
	}
	opts := export.VerifyOptions{Repair: c.Repair, AllowMissingEmpty: c.AllowMissingEmpty, DeleteStrays: c.DeleteStrays, MaxWindows: c.maxWindows(t)}
	if c.AllWindows {
		opts.Visit = row
	}
	rep, err := t.Export.Verify(ctx, from, to, opts)
	if err != nil {
		return err
	}
	if !c.AllWindows {
		for _, w := range rep.Problems {
			row(w)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, iv := range rep.Uncovered {
		fmt.Fprintf(out, "uncovered %s..%s: no rows anywhere, never recorded as exported\n", iv.Start.Format(time.RFC3339), iv.End.Format(time.RFC3339))
	}
	for _, s := range rep.Strays {
		fmt.Fprintf(out, "stray %s\n", s)
	}
	if more := rep.ProblemCount - rep.Counts[export.StatusUncovered] - int64(len(rep.Problems)); more > 0 {
		fmt.Fprintf(out, "... and %d more problem windows\n", more)
	}
	if rep.NullTimes > 0 {
		fmt.Fprintf(out, "note: %d rows have a NULL %s: they are in no window and never exported\n", rep.NullTimes, t.Spec.TimeColumn)
	}
	fmt.Fprintln(out, rep.Summary())
	if !rep.OK() {
		hint := "rerun with --repair to re-export them"
		if len(rep.Strays) > rep.StraysDeleted {
			hint += "; --delete-strays removes the strays"
		}
		return fmt.Errorf("%d of %d windows of %s in %s..%s do not match MySQL and %d objects do not belong (%s)",
			rep.ProblemCount, rep.Windows, t.Name(), from.Format(time.RFC3339), to.Format(time.RFC3339), len(rep.Strays)-rep.StraysDeleted, hint)
	}
	return nil
}
