package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
)

// Activity names. The activities package registers its methods under these names; workflows
// call them by name so that this package stays free of I/O dependencies.
const (
	ActivityExportWindow  = "ExportWindowActivity"
	ActivityCompactWeek   = "CompactWeekActivity"
	ActivityVerify        = "VerifyActivity"
	ActivityAwaitWorkflow = "AwaitWorkflowActivity"
	ActivitySignupBot     = "SignupBotActivity"
	ActivityBotSession    = "BotSessionActivity"
)

// Error types that retrying cannot fix. Activities wrap such failures in a non-retryable
// ApplicationError of one of these types; the retry policies list them as well so that a
// failure of that type from any source stops at once.
const (
	ErrTypeConfig   = "ConfigError"   // bad configuration (bucket, time zone, DSN syntax)
	ErrTypeKey      = "KeyError"      // missing or unusable key in the keyring
	ErrTypeBadInput = "BadInputError" // invalid workflow or activity input
)

// Search attributes. LogetlWindowStart and LogetlGranularity are custom attributes that the dev
// supervisor and the test harness register (temporal server start-dev --search-attribute
// LogetlWindowStart=Datetime --search-attribute LogetlGranularity=Keyword); the UI finds the run
// of any window with e.g. `LogetlWindowStart = "2026-11-24T10:00:00Z"`.
var (
	WindowStartKey        = temporal.NewSearchAttributeKeyTime("LogetlWindowStart")
	GranularityKey        = temporal.NewSearchAttributeKeyKeyword("LogetlGranularity")
	ScheduledStartTimeKey = temporal.NewSearchAttributeKeyTime("TemporalScheduledStartTime")
)

// ExportWindowInput is the argument of the ExportWindow workflow and of its activity.
type ExportWindowInput struct {
	Window Window `json:"window"`
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
}

// CompactWeekInput is the argument of the CompactWeek workflow and of its activity: the ISO
// week that starts at Week (Monday 00:00 in Timezone), compacted from rows before UpTo.
type CompactWeekInput struct {
	Week     time.Time `json:"week"`
	UpTo     time.Time `json:"up_to"`
	Timezone string    `json:"timezone"`
}

// VerifyInput is the argument of the Verify activity: the range to re-count.
type VerifyInput struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// VerifyResult lists the windows whose S3 files do not hold exactly MySQL's rows.
type VerifyResult struct {
	Windows    int      `json:"windows"`
	Mismatched []Window `json:"mismatched,omitempty"`
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
	WorkflowSignupBots           = "SignupBots"
	WorkflowBotActivity          = "BotActivity"
)
