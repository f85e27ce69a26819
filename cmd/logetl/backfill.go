package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/launcher"
	"github.com/logetl/logetl/workflows"
)

// backfillCmd starts a Backfill workflow over a past range.
type backfillCmd struct {
	config.Temporal
	config.Export
	config.Partitioning

	From        string `name:"from" required:"" help:"Start of the range (RFC 3339, or YYYY-MM-DD for local midnight in --timezone); aligned to the export window."`
	To          string `name:"to" required:"" help:"End of the range, exclusive (same forms as --from)."`
	Granularity string `name:"granularity" enum:"daily,weekly" default:"daily" help:"daily: export every window of the range; weekly: compact every ISO week it touches."`
	Wait        bool   `name:"wait" help:"Wait for the backfill to finish and print its result."`
}

func parseWhen(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither RFC 3339 (2026-11-24T10:00:00Z) nor a date (2026-11-24)", s)
}

func (c *backfillCmd) Run(ctx context.Context) error {
	loc, err := c.Location()
	if err != nil {
		return err
	}
	from, err := parseWhen(c.From, loc)
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	to, err := parseWhen(c.To, loc)
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	l := launcher.New(launcher.Config{Temporal: c.Temporal, Window: c.Window, SafetyLag: c.SafetyLag, Timezone: c.Timezone})
	defer l.Close()
	run, err := l.StartBackfill(ctx, from, to, c.Granularity)
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
	s := fmt.Sprintf("done %d/%d, failed %d", p.Done, p.Total, p.Failed)
	if len(p.Failures) > 0 {
		s += "\n  " + strings.Join(p.Failures, "\n  ")
	}
	return s
}
