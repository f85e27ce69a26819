package main

import (
	"context"
	"fmt"
	"log/slog"

	"go.temporal.io/sdk/client"

	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/pipeline"
	"github.com/logetl/logetl/worker"
)

// schedulesCmd creates or updates the Temporal schedules from config.
type schedulesCmd struct {
	Apply schedulesApplyCmd `cmd:"" name:"apply" default:"1" help:"Create every table's schedules, or update them in place, from config (idempotent)."`
}

type schedulesApplyCmd struct {
	pipelineFlags
	config.Temporal
	config.Schedules
}

func (c *schedulesApplyCmd) Run(ctx context.Context) error {
	p, err := c.openPipeline(ctx, "schedules apply", pipeline.Needs{})
	if err != nil {
		return err
	}
	defer p.Close()
	tc, err := dialTemporal(ctx, c.Temporal, nil)
	if err != nil {
		return err
	}
	defer tc.Close()
	return applySchedules(ctx, tc, c.Temporal, c.Export, c.Schedules, p, slog.Default())
}

// scheduleConfig derives the schedules' configuration from the pipeline's tables.
func scheduleConfig(t config.Temporal, ex config.Export, s config.Schedules, p *pipeline.Pipeline) worker.ScheduleConfig {
	cfg := worker.ScheduleConfig{Profile: s.ScheduleProfile, TaskQueue: t.TaskQueue, SafetyLag: ex.SafetyLag,
		BotSignupCount: s.BotSignupCount, BotActivityCount: s.BotActivityCount}
	for _, tb := range p.Tables {
		g := tb.Export.Grid()
		cfg.Tables = append(cfg.Tables, worker.TableSchedule{Name: tb.Name(), Window: g.Length(), Timezone: g.Location().String(), Retention: tb.Spec.Retention.D()})
	}
	return cfg
}

func applySchedules(ctx context.Context, tc client.Client, t config.Temporal, ex config.Export, s config.Schedules, p *pipeline.Pipeline, log *slog.Logger) error {
	scheds, err := worker.Schedules(scheduleConfig(t, ex, s, p))
	if err != nil {
		return err
	}
	applied, err := worker.ApplySchedules(ctx, tc.ScheduleClient(), scheds)
	if err != nil {
		return err
	}
	for _, a := range applied {
		what := "updated"
		switch {
		case a.Created:
			what = "created"
		case a.Deleted:
			what = "deleted (replaced by per-table schedules)"
		}
		log.Info("schedule "+what, "id", a.ID, "profile", s.ScheduleProfile)
	}
	fmt.Printf("%d schedules applied (profile %s): ", len(applied), s.ScheduleProfile)
	for i, a := range applied {
		if i > 0 {
			fmt.Print(", ")
		}
		fmt.Print(a.ID)
	}
	fmt.Println()
	return nil
}
