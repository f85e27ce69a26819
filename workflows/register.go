package workflows

import "go.temporal.io/sdk/workflow"

// Registry is the part of a Temporal worker (or test environment) that takes workflows.
type Registry interface {
	RegisterWorkflowWithOptions(w interface{}, options workflow.RegisterOptions)
}

// Register adds every workflow of logetl under its function name, the name that schedules,
// the launcher and `temporal workflow start --type` use.
func Register(r Registry) {
	for _, w := range []struct {
		name string
		fn   any
	}{
		{WorkflowExportWindow, ExportWindow},
		{WorkflowScheduledExport, ScheduledExport},
		{WorkflowCompactWeek, CompactWeek},
		{WorkflowScheduledCompactWeek, ScheduledCompactWeek},
		{WorkflowBackfill, Backfill},
		{WorkflowVerify, Verify},
		{WorkflowPurge, Purge},
		{WorkflowScheduledPurge, ScheduledPurge},
		{WorkflowSignupBots, SignupBots},
		{WorkflowBotActivity, BotActivity},
	} {
		r.RegisterWorkflowWithOptions(w.fn, workflow.RegisterOptions{Name: w.name})
	}
}
