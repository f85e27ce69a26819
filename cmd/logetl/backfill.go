package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/logetl/logetl/apiserver"
	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/launcher"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/pipeline"
	"github.com/logetl/logetl/workflows"
)

// backfillCmd starts a Backfill workflow over a past range of a table.
type backfillCmd struct {
	config.Temporal
	config.Export
	config.Partitioning
	config.Tables
	config.TableSelect
	config.Ranges

	From        string `name:"from" required:"" help:"Start of the range (RFC 3339, or YYYY-MM-DD for local midnight in the table's time zone); aligned to the table's window."`
	To          string `name:"to" required:"" help:"End of the range, exclusive (same forms as --from)."`
	Granularity string `name:"granularity" enum:"daily,weekly" default:"daily" help:"daily: export every window of the range that has rows; weekly: compact every ISO week it touches."`
	Wait        bool   `name:"wait" help:"Wait for the backfill to finish and print its result; a run whose workflow tasks keep failing is reported, not waited for forever."`
}

// launcherConfig is the launcher's view of the tables: their windows where the specs or
// flags fix them.
func launcherConfig(t config.Temporal, ex config.Export, tables config.Tables, r config.Ranges) (launcher.Config, error) {
	specs, err := pipeline.Specs(tables)
	if err != nil {
		return launcher.Config{}, err
	}
	cfg := launcher.Config{Temporal: t, SafetyLag: ex.SafetyLag, MaxRange: r.MaxRange.D(), Tables: map[string]time.Duration{}}
	for _, s := range specs.Tables {
		w := s.Window.D()
		if w == 0 {
			w = ex.Window
		}
		cfg.Tables[s.Name] = w
	}
	return cfg, nil
}

func (c *backfillCmd) Run(ctx context.Context) error {
	loc, err := c.Location()
	if err != nil {
		return err
	}
	from, err := partition.ParseTime(c.From, loc)
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	to, err := partition.ParseTime(c.To, loc)
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	cfg, err := launcherConfig(c.Temporal, c.Export, c.Tables, c.Ranges)
	if err != nil {
		return err
	}
	l := launcher.New(cfg)
	defer l.Close()
	run, err := l.StartBackfill(ctx, apiserver.BackfillRequest{Table: c.Table, From: from, To: to, Granularity: c.Granularity})
	if err != nil {
		return err
	}
	fmt.Printf("workflow id: %s\nrun id:      %s\nui:          %s\n", run.WorkflowID, run.RunID, run.UIURL)
	if !c.Wait {
		return nil
	}
	p, err := l.WaitBackfill(ctx, run.WorkflowID)
	if err != nil {
		return err
	}
	fmt.Println(progressLine(p))
	return nil
}

func progressLine(p workflows.BackfillProgress) string {
	s := fmt.Sprintf("done %d, failed %d, %d pages, planned up to %s", p.Done, p.Failed, p.Pages, p.Cursor.Format(time.RFC3339))
	if len(p.Failures) > 0 {
		s += "\n  " + strings.Join(p.Failures, "\n  ")
	}
	return s
}
