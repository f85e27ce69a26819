package worker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/logetl/logetl/workflows"
)

// Schedule ids. Each table has its own schedules, named <kind>-<table> (logetl-export-activity_log),
// so the Temporal UI backfills, pauses and shows each table on its own and one table failing
// does not hold back the others. The bots drive the API, not a table.
const (
	ScheduleExport      = "logetl-export"
	ScheduleCompactWeek = "logetl-compact-week"
	ScheduleVerify      = "logetl-verify"
	SchedulePurge       = "logetl-purge"
	ScheduleBotSignup   = "logetl-bot-signup"
	ScheduleBotActivity = "logetl-bot-activity"
)

// ScheduleID is the id of a table's schedule of one kind.
func ScheduleID(kind, table string) string { return kind + "-" + table }

// legacySchedules are ids of schedules that logetl created before tables had their own; applying
// the current schedules deletes them, so nothing exports twice.
var legacySchedules = []string{ScheduleExport, ScheduleCompactWeek, ScheduleVerify}

// Profiles of schedule cadences.
const (
	ProfileProd = "prod"
	ProfileDev  = "dev"
)

// TableSchedule is what a table's schedules are derived from.
type TableSchedule struct {
	Name      string
	Window    time.Duration // the table's grid step
	Timezone  string        // of its weeks
	Retention time.Duration // 0: no purge schedule
}

// ScheduleConfig is what the schedules are derived from.
type ScheduleConfig struct {
	Profile          string
	TaskQueue        string
	SafetyLag        time.Duration
	Tables           []TableSchedule
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

// Schedules derives every table's schedules and the bots' from cfg. The policies, and why:
//
//   - logetl-export-<table> runs ScheduledExport every window, offset by the safety lag (a 15m
//     grid with a 1m lag fires at :01, :16, :31, :46), so each run's nominal time maps to exactly
//     the window that just closed. Overlap ALLOW_ALL: each run exports a different window, and
//     the window's workflow id already forbids two runs of one window, so a slow or retrying
//     window (S3 down) must not hold back or skip the next ones; after an outage every missed
//     window is exported by its own run. Catch-up window 24h: if the Temporal server itself was
//     down, the missed ticks of the last day still run on its return, each for its own past
//     window; older gaps are what `logetl backfill` and the verify schedule are for.
//   - logetl-compact-week-<table> runs ScheduledCompactWeek on Mondays shortly after midnight in
//     the table's time zone (dev: the current week every 2 minutes). Overlap SKIP, catch-up 7d.
//   - logetl-verify-<table> runs Verify with repair hourly over the last 24h and every week not
//     yet compacted (dev: every 5 minutes over the last hour and the uncompacted weeks): the
//     safety net for late commits and gaps, found before the compaction meets them. Overlap
//     SKIP (the next run covers the same range), catch-up 1h.
//   - logetl-purge-<table>, for tables with a retention, runs ScheduledPurge hourly (dev: every
//     minute), which runs Purge under the table's PurgeID: one purge of a table at a time, the
//     schedule's or one started by hand. Overlap SKIP.
//   - logetl-bot-signup and logetl-bot-activity drive the API (prod: hourly and every 5 minutes;
//     dev: every minute, sessions half a period after signups). Overlap SKIP and a 1m catch-up:
//     bot traffic stands for "now", so missed ticks are not replayed.
func Schedules(cfg ScheduleConfig) ([]Schedule, error) {
	if cfg.SafetyLag < 0 {
		return nil, fmt.Errorf("schedules: safety lag %s must not be negative", cfg.SafetyLag)
	}
	if cfg.TaskQueue == "" {
		return nil, errors.New("schedules: task queue is required")
	}
	if cfg.BotSignupCount < 1 || cfg.BotActivityCount < 1 || cfg.BotSignupCount > workflows.MaxBots || cfg.BotActivityCount > workflows.MaxBots {
		return nil, fmt.Errorf("schedules: bot counts must be in 1..%d", workflows.MaxBots)
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

	var out []Schedule
	for _, t := range cfg.Tables {
		if t.Window <= 0 || t.Window%time.Minute != 0 {
			return nil, fmt.Errorf("schedules: table %s: window %s must be a positive whole number of minutes", t.Name, t.Window)
		}
		if _, err := time.LoadLocation(t.Timezone); err != nil {
			return nil, fmt.Errorf("schedules: table %s: timezone %q: %w", t.Name, t.Timezone, err)
		}
		id := func(kind string) string { return ScheduleID(kind, t.Name) }
		out = append(out, Schedule{
			ID:   id(ScheduleExport),
			Spec: every(t.Window, lag),
			Action: action(id(ScheduleExport), workflows.WorkflowScheduledExport,
				workflows.ScheduledExportInput{Table: t.Name, Window: t.Window, SafetyLag: cfg.SafetyLag}, 7*time.Hour),
			Overlap:       enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL,
			CatchupWindow: 24 * time.Hour,
			Note:          "Exports the " + t.Name + " window that closed at each nominal time (managed by logetl schedules apply).",
		})

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
				TimeZoneName: t.Timezone,
			}
		}
		out = append(out, Schedule{
			ID: id(ScheduleCompactWeek), Spec: compactSpec,
			Action: action(id(ScheduleCompactWeek), workflows.WorkflowScheduledCompactWeek,
				workflows.ScheduledCompactInput{Table: t.Name, SafetyLag: cfg.SafetyLag, ToDate: dev}, 7*time.Hour),
			Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, CatchupWindow: 7 * 24 * time.Hour,
			Note: "Compacts the ISO week of " + t.Name + " that just closed into its weekly partition, repairing its gaps first (managed by logetl schedules apply).",
		})

		verifyIn := workflows.VerifyWorkflowInput{Table: t.Name, Lookback: 24 * time.Hour, Window: t.Window, SafetyLag: cfg.SafetyLag, Repair: true, SinceUncompacted: true}
		verifySpec := every(time.Hour, 30*time.Minute)
		if dev {
			verifyIn.Lookback = time.Hour
			verifySpec = every(5*time.Minute, 30*time.Second)
		}
		out = append(out, Schedule{
			ID: id(ScheduleVerify), Spec: verifySpec,
			Action:  action(id(ScheduleVerify), workflows.WorkflowVerify, verifyIn, 2*time.Hour),
			Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, CatchupWindow: time.Hour,
			Note: "Re-counts the recent and not yet compacted windows of " + t.Name + " against MySQL and re-exports any that differ (managed by logetl schedules apply).",
		})

		if t.Retention > 0 {
			purgeSpec := every(time.Hour, 45*time.Minute)
			if dev {
				purgeSpec = every(time.Minute, 40*time.Second)
			}
			out = append(out, Schedule{
				ID: id(SchedulePurge), Spec: purgeSpec,
				Action: &client.ScheduleWorkflowAction{ID: id(SchedulePurge), Workflow: workflows.WorkflowScheduledPurge,
					Args: []any{workflows.PurgeInput{Table: t.Name, Retention: t.Retention, Window: t.Window}}, TaskQueue: cfg.TaskQueue, WorkflowExecutionTimeout: 12 * time.Hour},
				Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, CatchupWindow: time.Hour,
				Note: fmt.Sprintf("Deletes from MySQL the verified windows of %s older than %s (managed by logetl schedules apply).", t.Name, t.Retention),
			})
		}
	}

	// Sessions run half a period after signups, so the first session finds the first bots.
	signupSpec, activitySpec := every(time.Hour, 0), every(5*time.Minute, 150*time.Second)
	if dev {
		signupSpec, activitySpec = every(time.Minute, 0), every(time.Minute, 30*time.Second)
	}
	out = append(out, Schedule{
		ID: ScheduleBotSignup, Spec: signupSpec,
		Action:  action(ScheduleBotSignup, workflows.WorkflowSignupBots, workflows.BotsInput{N: cfg.BotSignupCount}, 10*time.Minute),
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, CatchupWindow: time.Minute,
		Note: "Signs up bot accounts through the API (managed by logetl schedules apply).",
	}, Schedule{
		ID: ScheduleBotActivity, Spec: activitySpec,
		Action:  action(ScheduleBotActivity, workflows.WorkflowBotActivity, workflows.BotsInput{N: cfg.BotActivityCount}, 10*time.Minute),
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, CatchupWindow: time.Minute,
		Note: "Bots log in and create, update, view and delete posts through the API (managed by logetl schedules apply).",
	})
	return out, nil
}

// tableKinds are the schedules logetl keeps per table, as ScheduleID prefixes.
var tableKinds = []string{ScheduleExport, ScheduleCompactWeek, ScheduleVerify, SchedulePurge}

// staleTableSchedules lists the per-table schedules that logetl created (by their note) for
// the task queue of schedules and that schedules no longer has: a table removed from the specs,
// or a purge whose retention was removed. Schedules of other task queues (another worker's
// tables) are left alone.
func staleTableSchedules(ctx context.Context, sc client.ScheduleClient, schedules []Schedule) ([]string, error) {
	want := map[string]bool{}
	queue := ""
	for _, s := range schedules {
		want[s.ID] = true
		if s.Action != nil && queue == "" {
			queue = s.Action.TaskQueue
		}
	}
	it, err := sc.List(ctx, client.ScheduleListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	var stale []string
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("list schedules: %w", err)
		}
		if want[e.ID] || !slices.ContainsFunc(tableKinds, func(k string) bool { return strings.HasPrefix(e.ID, k+"-") }) {
			continue
		}
		d, err := sc.GetHandle(ctx, e.ID).Describe(ctx)
		if err != nil {
			continue // deleted meanwhile
		}
		a, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction)
		if !ok || a.TaskQueue != queue || !strings.Contains(d.Schedule.State.Note, "managed by logetl") {
			continue
		}
		stale = append(stale, e.ID)
	}
	return stale, nil
}

// Applied tells what ApplySchedules did to one schedule.
type Applied struct {
	ID      string
	Created bool // false: an existing schedule was updated
	Deleted bool // a schedule of a table no longer configured, or of an older logetl, was removed
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
	stale, err := staleTableSchedules(ctx, sc, schedules)
	if err != nil {
		return out, err
	}
	for _, id := range stale {
		if err := sc.GetHandle(ctx, id).Delete(ctx); err != nil {
			return out, fmt.Errorf("delete the schedule %s of a table no longer configured: %w", id, err)
		}
		out = append(out, Applied{ID: id, Deleted: true})
	}
	// Schedules of a logetl before per-table schedules would export the built-in table a second
	// time: remove them (only those logetl created, by their note).
	for _, id := range legacySchedules {
		h := sc.GetHandle(ctx, id)
		d, err := h.Describe(ctx)
		if err != nil {
			continue // not there
		}
		if !strings.Contains(d.Memo.GetFields()["note"].String()+d.Schedule.State.Note, "managed by logetl") {
			continue
		}
		if err := h.Delete(ctx); err != nil {
			return out, fmt.Errorf("delete the pre-table schedule %s: %w", id, err)
		}
		out = append(out, Applied{ID: id, Deleted: true})
	}
	return out, nil
}
