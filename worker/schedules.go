package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/logetl/logetl/workflows"
)

// Schedule ids. They are fixed: operators, docs and the fault tests refer to them.
const (
	ScheduleExport      = "logetl-export"
	ScheduleCompactWeek = "logetl-compact-week"
	ScheduleBotSignup   = "logetl-bot-signup"
	ScheduleBotActivity = "logetl-bot-activity"
	ScheduleVerify      = "logetl-verify"
)

// Profiles of schedule cadences.
const (
	ProfileProd = "prod"
	ProfileDev  = "dev"
)

// ScheduleConfig is what the schedules are derived from.
type ScheduleConfig struct {
	Profile          string
	TaskQueue        string
	Window           time.Duration // export window (grid step)
	SafetyLag        time.Duration
	Timezone         string
	BotSignupCount   int
	BotActivityCount int
}

// Schedule is one schedule as logetl wants it to be.
type Schedule struct {
	ID            string
	Spec          client.ScheduleSpec
	Action        *client.ScheduleWorkflowAction
	Overlap       enumspb.ScheduleOverlapPolicy
	CatchupWindow time.Duration
	Note          string
}

// Schedules derives the five schedules from cfg. The policies, and why:
//
//   - logetl-export runs ScheduledExport every Window, offset by the safety lag (a 15m grid
//     with a 1m lag fires at :01, :16, :31, :46), so each run's nominal time maps to exactly the
//     window that just closed. Overlap ALLOW_ALL: each run exports a different window, and the
//     window's workflow id already forbids two runs of one window, so a slow or retrying window
//     (S3 down) must not hold back or skip the next ones; after an outage every missed window
//     is exported by its own run. Catch-up window 24h: if the Temporal server itself was down,
//     the missed ticks of the last day still run on its return, each for its own past window;
//     older gaps are what `logetl backfill` and the verify schedule are for.
//   - logetl-compact-week runs ScheduledCompactWeek on Mondays shortly after midnight in the
//     partition time zone (dev: the current week every 2 minutes). Overlap SKIP, catch-up 7 days.
//   - logetl-verify runs Verify with repair hourly over the last 24h (dev: every 5 minutes over
//     the last hour): the safety net for rows committed after their window was exported.
//     Overlap SKIP (the next run covers the same range), catch-up 1h.
//   - logetl-bot-signup and logetl-bot-activity drive the API (prod: hourly and every 5
//     minutes; dev: every minute, sessions half a period after signups). Overlap SKIP and a 1m catch-up: bot traffic stands for "now",
//     so missed ticks are not replayed.
func Schedules(cfg ScheduleConfig) ([]Schedule, error) {
	if cfg.Window <= 0 || cfg.Window%time.Minute != 0 {
		return nil, fmt.Errorf("schedules: export window %s must be a positive whole number of minutes", cfg.Window)
	}
	if cfg.SafetyLag < 0 {
		return nil, fmt.Errorf("schedules: safety lag %s must not be negative", cfg.SafetyLag)
	}
	if cfg.TaskQueue == "" {
		return nil, errors.New("schedules: task queue is required")
	}
	if cfg.BotSignupCount < 1 || cfg.BotActivityCount < 1 || cfg.BotSignupCount > workflows.MaxBots || cfg.BotActivityCount > workflows.MaxBots {
		return nil, fmt.Errorf("schedules: bot counts must be in 1..%d", workflows.MaxBots)
	}
	if _, err := time.LoadLocation(cfg.Timezone); err != nil {
		return nil, fmt.Errorf("schedules: timezone %q: %w", cfg.Timezone, err)
	}
	dev := false
	switch cfg.Profile {
	case ProfileProd, "":
	case ProfileDev:
		dev = true
	default:
		return nil, fmt.Errorf("schedules: profile %q is not prod or dev", cfg.Profile)
	}
	lag := cfg.SafetyLag.Round(time.Second)
	if lag < cfg.SafetyLag {
		lag += time.Second
	}
	action := func(id, wf string, arg any, timeout time.Duration) *client.ScheduleWorkflowAction {
		return &client.ScheduleWorkflowAction{ID: id, Workflow: wf, Args: []any{arg}, TaskQueue: cfg.TaskQueue, WorkflowExecutionTimeout: timeout}
	}
	every := func(d, offset time.Duration) client.ScheduleSpec {
		return client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: d, Offset: offset % d}}}
	}

	export := Schedule{
		ID:   ScheduleExport,
		Spec: every(cfg.Window, lag),
		Action: action(ScheduleExport, workflows.WorkflowScheduledExport,
			workflows.ScheduledExportInput{Window: cfg.Window, SafetyLag: cfg.SafetyLag}, 7*time.Hour),
		Overlap:       enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL,
		CatchupWindow: 24 * time.Hour,
		Note:          "Exports the activity_log window that closed at each nominal time (managed by logetl schedules apply).",
	}

	compactIn := workflows.ScheduledCompactInput{Timezone: cfg.Timezone, SafetyLag: cfg.SafetyLag, Window: cfg.Window, ToDate: dev}
	compactSpec := every(2*time.Minute, 0)
	if !dev {
		at := lag + 10*time.Minute
		compactSpec = client.ScheduleSpec{
			Calendars: []client.ScheduleCalendarSpec{{
				DayOfWeek: []client.ScheduleRange{{Start: 1}}, // Monday
				Hour:      []client.ScheduleRange{{Start: int(at / time.Hour)}},
				Minute:    []client.ScheduleRange{{Start: int(at % time.Hour / time.Minute)}},
				Second:    []client.ScheduleRange{{Start: int(at % time.Minute / time.Second)}},
			}},
			TimeZoneName: cfg.Timezone,
		}
	}
	compact := Schedule{
		ID: ScheduleCompactWeek, Spec: compactSpec,
		Action:  action(ScheduleCompactWeek, workflows.WorkflowScheduledCompactWeek, compactIn, 7*time.Hour),
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, CatchupWindow: 7 * 24 * time.Hour,
		Note: "Compacts the ISO week that just closed into the weekly partition (managed by logetl schedules apply).",
	}

	verifyIn := workflows.VerifyWorkflowInput{Lookback: 24 * time.Hour, Window: cfg.Window, SafetyLag: cfg.SafetyLag, Repair: true}
	verifySpec := every(time.Hour, 30*time.Minute)
	if dev {
		verifyIn.Lookback = time.Hour
		verifySpec = every(5*time.Minute, 30*time.Second)
	}
	verify := Schedule{
		ID: ScheduleVerify, Spec: verifySpec,
		Action:  action(ScheduleVerify, workflows.WorkflowVerify, verifyIn, 2*time.Hour),
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, CatchupWindow: time.Hour,
		Note: "Re-counts recent windows against MySQL and re-exports any that changed (managed by logetl schedules apply).",
	}

	// Sessions run half a period after signups, so the first session finds the first bots.
	signupSpec, activitySpec := every(time.Hour, 0), every(5*time.Minute, 150*time.Second)
	if dev {
		signupSpec, activitySpec = every(time.Minute, 0), every(time.Minute, 30*time.Second)
	}
	signup := Schedule{
		ID: ScheduleBotSignup, Spec: signupSpec,
		Action:  action(ScheduleBotSignup, workflows.WorkflowSignupBots, workflows.BotsInput{N: cfg.BotSignupCount}, 10*time.Minute),
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, CatchupWindow: time.Minute,
		Note: "Signs up bot accounts through the API (managed by logetl schedules apply).",
	}
	activity := Schedule{
		ID: ScheduleBotActivity, Spec: activitySpec,
		Action:  action(ScheduleBotActivity, workflows.WorkflowBotActivity, workflows.BotsInput{N: cfg.BotActivityCount}, 10*time.Minute),
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, CatchupWindow: time.Minute,
		Note: "Bots log in and create, update, view and delete posts through the API (managed by logetl schedules apply).",
	}
	return []Schedule{export, compact, signup, activity, verify}, nil
}

// Applied tells what ApplySchedules did to one schedule.
type Applied struct {
	ID      string
	Created bool // false: an existing schedule was updated
}

// ApplySchedules creates each schedule, or updates it in place when it exists, so running it
// again (every worker start) converges on the same schedules. An update keeps the schedule's
// state: a schedule an operator paused stays paused.
func ApplySchedules(ctx context.Context, sc client.ScheduleClient, schedules []Schedule) ([]Applied, error) {
	var out []Applied
	for _, s := range schedules {
		_, err := sc.Create(ctx, client.ScheduleOptions{
			ID: s.ID, Spec: s.Spec, Action: s.Action, Overlap: s.Overlap, CatchupWindow: s.CatchupWindow, Note: s.Note,
		})
		if err == nil {
			out = append(out, Applied{ID: s.ID, Created: true})
			continue
		}
		if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
			return out, fmt.Errorf("create schedule %s: %w", s.ID, err)
		}
		err = sc.GetHandle(ctx, s.ID).Update(ctx, client.ScheduleUpdateOptions{
			DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
				sched := in.Description.Schedule
				spec := s.Spec
				sched.Spec = &spec
				sched.Action = s.Action
				if sched.Policy == nil {
					sched.Policy = &client.SchedulePolicies{}
				}
				sched.Policy.Overlap = s.Overlap
				sched.Policy.CatchupWindow = s.CatchupWindow
				return &client.ScheduleUpdate{Schedule: &sched}, nil
			},
		})
		if err != nil {
			return out, fmt.Errorf("update schedule %s: %w", s.ID, err)
		}
		out = append(out, Applied{ID: s.ID})
	}
	return out, nil
}
