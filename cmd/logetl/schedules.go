package main

import (
	"context"
	"fmt"
	"log/slog"

	"go.temporal.io/sdk/client"

	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/worker"
)

// schedulesCmd creates or updates the Temporal schedules from config.
type schedulesCmd struct {
	Apply schedulesApplyCmd `cmd:"" name:"apply" default:"1" help:"Create the schedules, or update them in place, from config (idempotent)."`
}

type schedulesApplyCmd struct {
	config.Temporal
	config.Export
	config.Partitioning
	config.Schedules
}

func (c *schedulesApplyCmd) Run(ctx context.Context) error {
	tc, err := dialTemporal(ctx, c.Temporal, nil)
	if err != nil {
		return err
	}
	defer tc.Close()
	return applySchedules(ctx, tc, c.Temporal, c.Export, c.Partitioning, c.Schedules, slog.Default())
}

func applySchedules(ctx context.Context, tc client.Client, t config.Temporal, ex config.Export, part config.Partitioning, s config.Schedules, log *slog.Logger) error {
	scheds, err := worker.Schedules(worker.ScheduleConfig{
		Profile: s.ScheduleProfile, TaskQueue: t.TaskQueue, Window: ex.Window, SafetyLag: ex.SafetyLag,
		Timezone: part.Timezone, BotSignupCount: s.BotSignupCount, BotActivityCount: s.BotActivityCount,
	})
	if err != nil {
		return err
	}
	applied, err := worker.ApplySchedules(ctx, tc.ScheduleClient(), scheds)
	if err != nil {
		return err
	}
	for _, a := range applied {
		what := "updated"
		if a.Created {
			what = "created"
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
