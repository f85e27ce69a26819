package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/logetl/logetl/internal/export"
)

// verifyCmd compares MySQL with the S3 manifests window by window and exits non-zero on any
// missing file or mismatch. With --repair it re-exports those windows (it then needs the
// keyring) and fails only if a window is still wrong afterwards.
type verifyCmd struct {
	pipelineFlags

	From              string `name:"from" required:"" help:"Start of the range, RFC 3339 or a date (local midnight in --timezone); on the window grid."`
	To                string `name:"to" required:"" help:"End of the range (exclusive); no later than now minus --safety-lag."`
	Repair            bool   `name:"repair" help:"Re-export every window that is missing or differs, then check it again."`
	AllowMissingEmpty bool   `name:"allow-missing-empty" help:"Accept windows with no rows in MySQL and no file (e.g. before the pipeline was deployed)."`
	ProblemsOnly      bool   `name:"problems-only" help:"Print only the windows that are not ok."`

	stdout io.Writer
}

func (c *verifyCmd) Run(ctx context.Context) error {
	p, err := c.openPipeline(ctx, pipelineNeeds{keys: c.Repair, servicesNow: true})
	if err != nil {
		return err
	}
	defer p.close()
	from, to, err := p.exp.Grid().ParseRange(c.From, c.To, time.Now(), c.SafetyLag)
	if err != nil {
		return err
	}
	rep, err := p.exp.Verify(ctx, from, to, export.VerifyOptions{Repair: c.Repair, AllowMissingEmpty: c.AllowMissingEmpty})
	if err != nil {
		return err
	}
	out := writerOr(c.stdout)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "WINDOW\tMYSQL ROWS\tFILE ROWS\tFILES\tSTATUS\tDETAIL")
	for _, w := range rep.Windows {
		if c.ProblemsOnly && w.Good() && w.Status != export.StatusRepaired {
			continue
		}
		fmt.Fprintf(tw, "%s..%s\t%d\t%d\t%d/%d\t%s\t%s\n", w.Window.Start.Format(time.RFC3339), w.Window.End.Format(time.RFC3339),
			w.MySQLRows, w.FileRows, w.Files, w.Pieces, w.Status, w.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	problems := len(rep.Problems())
	fmt.Fprintf(out, "%d windows, %d ok, %d repaired, %d problems\n", len(rep.Windows), len(rep.Windows)-problems-rep.Repaired(), rep.Repaired(), problems)
	if problems > 0 {
		return fmt.Errorf("%d of %d windows in %s..%s do not match MySQL (rerun with --repair to re-export them)",
			problems, len(rep.Windows), from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	return nil
}
