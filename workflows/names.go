// Package workflows holds logetl's Temporal workflow definitions: deterministic orchestration
// only. Every I/O step is an activity (package activities) called by the names declared here,
// so this package never imports the export library and replays from history alone. Time is
// modelled by package partition (pure arithmetic); anything that needs a table's time zone or
// its data is an activity.
package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/logetl/logetl/internal/partition"
)

// Activity names. The activities package registers its methods under these names; workflows
// call them by name so that this package stays free of I/O dependencies.
const (
	ActivityExportWindow  = "ExportWindowActivity"
	ActivityCompactWeek   = "CompactWeekActivity"
	ActivityClosedWeek    = "ClosedWeekActivity"
	ActivityVerify        = "VerifyActivity"
	ActivityPlanBackfill  = "PlanBackfillActivity"
	ActivityCoverRange    = "CoverRangeActivity"
	ActivityPlanPurge     = "PlanPurgeActivity"
	ActivityPurgeWindow   = "PurgeWindowActivity"
	ActivityAwaitWorkflow = "AwaitWorkflowActivity"
	ActivityRemoveDailies = "RemoveDailyFilesActivity"
	ActivitySignupBot     = "SignupBotActivity"
	ActivityBotSession    = "BotSessionActivity"
)

// Error types that retrying cannot fix. Activities wrap such failures in a non-retryable
// ApplicationError of one of these types; the retry policies list them as well so that a
// failure of that type from any source stops at once.
const (
	ErrTypeConfig   = "ConfigError"   // bad configuration (bucket, spec, layout, table schema)
	ErrTypeKey      = "KeyError"      // missing or unusable key in the keyring
	ErrTypeBadInput = "BadInputError" // invalid workflow or activity input
)

// Search attributes. LogetlWindowStart, LogetlGranularity and LogetlTable are custom
// attributes that `logetl worker` registers where the server allows it (`logetl doctor` prints
// the command otherwise); the UI finds the run of any window with e.g.
// `LogetlTable = "activity_log" AND LogetlWindowStart = "2026-11-24T10:00:00Z"`.
var (
	WindowStartKey        = temporal.NewSearchAttributeKeyTime("LogetlWindowStart")
	GranularityKey        = temporal.NewSearchAttributeKeyKeyword("LogetlGranularity")
	TableKey              = temporal.NewSearchAttributeKeyKeyword("LogetlTable")
	ScheduledStartTimeKey = temporal.NewSearchAttributeKeyTime("TemporalScheduledStartTime")
)

// SearchAttribute is a custom search attribute logetl's workflows upsert and its Temporal type.
type SearchAttribute struct {
	Name string
	Type string // as `temporal operator search-attribute create --type` spells it
}

// SearchAttributes are what a Temporal namespace must have registered for logetl.
var SearchAttributes = []SearchAttribute{
	{WindowStartKey.GetName(), "Datetime"},
	{GranularityKey.GetName(), "Keyword"},
	{TableKey.GetName(), "Keyword"},
}

// StartDevFlags are the `temporal server start-dev` flags that register them.
func StartDevFlags() []string {
	var out []string
	for _, sa := range SearchAttributes {
		out = append(out, "--search-attribute", sa.Name+"="+sa.Type)
	}
	return out
}

// Reasons an ExportWindow runs, recorded in its input (visible in the UI) and in metrics.
const (
	ReasonSchedule   = "schedule"
	ReasonBackfill   = "backfill"
	ReasonVerify     = "verify"     // the verify schedule found the window wrong
	ReasonCompaction = "compaction" // the compaction found the window wrong
	ReasonPurge      = "purge"      // a purge found the window wrong before deleting
)

// ExportWindowInput is the argument of the ExportWindow workflow and of its activity.
type ExportWindowInput struct {
	Table  string           `json:"table"`
	Window partition.Window `json:"window"`
	Reason string           `json:"reason,omitempty"`
}

// FileResult describes one object written by an export or a compaction.
type FileResult struct {
	Key   string `json:"key"`
	Rows  int64  `json:"rows"`
	Bytes int64  `json:"bytes"`
}

// ExportResult is what an export or compaction wrote.
type ExportResult struct {
	Files []FileResult `json:"files,omitempty"`
	Rows  int64        `json:"rows"`
	Bytes int64        `json:"bytes"`
	// AlreadyRunning is set when another run of the same window was open, so this call left
	// the work to it.
	AlreadyRunning bool `json:"already_running,omitempty"`
	// Merged is set when a purged window got rows committed after its purge (merged in).
	Merged bool `json:"merged,omitempty"`
}

// CompactWeekInput is the argument of the CompactWeek workflow and of its activity: the table's
// ISO week (in the table's time zone), compacted from rows before UpTo.
type CompactWeekInput struct {
	Table string         `json:"table"`
	Week  partition.Week `json:"week"`
	UpTo  time.Time      `json:"up_to"`
}

// CompactResult is the compaction activity's result: the weekly file, or the windows whose
// daily files must be repaired first.
type CompactResult struct {
	ExportResult
	Compacted bool `json:"compacted"`
	// Repair lists windows whose daily files do not hold MySQL's rows (at most a page of them);
	// RepairCount counts them all.
	Repair      []partition.Window `json:"repair,omitempty"`
	RepairCount int64              `json:"repair_count,omitempty"`
	// Lifecycle is what the scheduled run's S3 lifecycle did after the compaction.
	Lifecycle *RemoveDailiesResult `json:"lifecycle,omitempty"`
}

// ClosedWeekInput asks which week a compaction schedule's run stands for.
type ClosedWeekInput struct {
	Table     string        `json:"table"`
	Nominal   time.Time     `json:"nominal"`
	SafetyLag time.Duration `json:"safety_lag"`
	// ToDate means the week holding Nominal - SafetyLag, up to its last closed window (the dev
	// profile's compaction every few minutes), instead of the week that just closed.
	ToDate bool `json:"to_date"`
}

// ClosedWeek is the week to compact and up to when.
type ClosedWeek struct {
	Week partition.Week `json:"week"`
	UpTo time.Time      `json:"up_to"`
}

// VerifyInput is the argument of the Verify activity: the range to re-count. With SinceUncompacted
// the range starts no later than the first week holding rows or files that has no weekly file
// yet, so a gap is found before its compaction meets it.
type VerifyInput struct {
	Table            string    `json:"table"`
	From             time.Time `json:"from"`
	To               time.Time `json:"to"`
	SinceUncompacted bool      `json:"since_uncompacted,omitempty"`
}

// VerifyResult lists the windows whose files do not hold exactly MySQL's rows. Windows without
// rows that were never recorded exported are recorded by the activity itself (no re-export
// needed); the others are repaired by the workflow through each window's ExportWindow.
type VerifyResult struct {
	From         time.Time          `json:"from"`
	To           time.Time          `json:"to"`
	Windows      int64              `json:"windows"`
	Mismatched   []partition.Window `json:"mismatched,omitempty"`
	ProblemCount int64              `json:"problem_count"`
	Covered      int64              `json:"covered,omitempty"`
	Strays       []string           `json:"strays,omitempty"`
}

// PlanInput asks for the next page of a backfill.
type PlanInput struct {
	Table       string                `json:"table"`
	Granularity partition.Granularity `json:"granularity"`
	From        time.Time             `json:"from"`
	To          time.Time             `json:"to"`
	Limit       int                   `json:"limit"`
}

// PlanResult is a page: the windows (daily) or weeks (weekly) with rows in [From, Next).
type PlanResult struct {
	Windows []partition.Window `json:"windows,omitempty"`
	Weeks   []partition.Week   `json:"weeks,omitempty"`
	Next    time.Time          `json:"next"`
}

// CoverInput records [From, To) of a table as exported, except the failed windows.
type CoverInput struct {
	Table  string             `json:"table"`
	From   time.Time          `json:"from"`
	To     time.Time          `json:"to"`
	Failed []partition.Window `json:"failed,omitempty"`
}

// PurgeWindowInput purges one window of a table.
type PurgeWindowInput struct {
	Table  string           `json:"table"`
	Window partition.Window `json:"window"`
	DryRun bool             `json:"dry_run,omitempty"`
}

// PurgeResult is one window's purge verdict.
type PurgeResult struct {
	Window    partition.Window `json:"window"`
	MySQLRows int64            `json:"mysql_rows"`
	FileRows  int64            `json:"file_rows"`
	Deleted   int64            `json:"deleted"`
	Verdict   string           `json:"verdict"` // purged, repaired-purged, empty, refused
	Reason    string           `json:"reason,omitempty"`
}

// RemoveDailiesInput asks for one call of the table's S3 lifecycle: the daily files of
// compacted weeks that ended DailyFilesRetention before Nominal.
type RemoveDailiesInput struct {
	Table   string    `json:"table"`
	Nominal time.Time `json:"nominal"`
	DryRun  bool      `json:"dry_run,omitempty"`
}

// RemoveDailiesResult is what a lifecycle call did; Off when the table keeps its daily files.
type RemoveDailiesResult struct {
	Off     bool      `json:"off,omitempty"`
	Cutoff  time.Time `json:"cutoff,omitzero"`
	Weeks   int       `json:"weeks"`
	Done    int       `json:"done"`
	Removed int       `json:"removed"`
	Bytes   int64     `json:"bytes"`
	Skipped []string  `json:"skipped,omitempty"`
	More    bool      `json:"more,omitempty"`
}

// AwaitWorkflowInput names a workflow whose current run an activity waits for.
type AwaitWorkflowInput struct {
	WorkflowID string `json:"workflow_id"`
}

// BotSessionResult tells what one bot did. Activity results are stored in Temporal history and
// shown in its UI, so the bot is named by number only: no email, token or password.
type BotSessionResult struct {
	// Bot is the bot's number (bot{n}), 0 when no account existed. The JSON name differs from
	// the "bot" email string that older histories hold, so that replaying them ignores it.
	Bot     int  `json:"bot_number,omitempty"`
	Skipped bool `json:"skipped,omitempty"` // the chosen account could not log in
	Actions int  `json:"actions"`
}

// SignupBotResult names the account a signup activity created by its number (bot{n}), never by
// its email: it is stored in Temporal history. Older histories hold an "email" field instead,
// which decoding ignores.
type SignupBotResult struct {
	Bot int `json:"bot_number"`
}

// Workflow type names, as registered by Register.
const (
	WorkflowExportWindow         = "ExportWindow"
	WorkflowScheduledExport      = "ScheduledExport"
	WorkflowCompactWeek          = "CompactWeek"
	WorkflowScheduledCompactWeek = "ScheduledCompactWeek"
	WorkflowBackfill             = "Backfill"
	WorkflowVerify               = "Verify"
	WorkflowPurge                = "Purge"
	WorkflowScheduledPurge       = "ScheduledPurge"
	WorkflowSignupBots           = "SignupBots"
	WorkflowBotActivity          = "BotActivity"
)
