package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// VerifyWorkflowInput is the argument of Verify. With From and To zero the range is the Lookback
// before the last closed window of the nominal time, which is how the verify schedule calls it.
type VerifyWorkflowInput struct {
	From      time.Time     `json:"from,omitempty"`
	To        time.Time     `json:"to,omitempty"`
	Lookback  time.Duration `json:"lookback,omitempty"`
	Window    time.Duration `json:"window"`
	SafetyLag time.Duration `json:"safety_lag"`
	Repair    bool          `json:"repair"`
}

// VerifyReport is Verify's result.
type VerifyReport struct {
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	Windows    int       `json:"windows"`
	Mismatched []Window  `json:"mismatched,omitempty"`
	Repaired   int       `json:"repaired"`
}

// Verify re-counts the windows of a range in MySQL against the S3 manifests and, with Repair,
// re-exports each window that differs through that window's own ExportWindow workflow (so a
// repair never overlaps a scheduled run of the same window). It is the safety net for late
// commits: a row committed after its window was exported (a transaction slower than the safety
// lag) is found within an hour by the verify schedule and its window rewritten.
func Verify(ctx workflow.Context, in VerifyWorkflowInput) (VerifyReport, error) {
	from, to := in.From, in.To
	if from.IsZero() && to.IsZero() {
		if in.Window <= 0 || in.Lookback <= 0 {
			return VerifyReport{}, temporal.NewNonRetryableApplicationError("verify: window and lookback must be > 0", ErrTypeBadInput, nil)
		}
		to = ScheduledWindow(NominalTime(ctx), in.Window, in.SafetyLag).End
		from = to.Add(-in.Lookback)
	}
	if !to.After(from) {
		return VerifyReport{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("verify: to (%s) must be after from (%s)", to, from), ErrTypeBadInput, nil)
	}
	o := exportActivityOptions()
	o.ScheduleToCloseTimeout = time.Hour
	actx := workflow.WithActivityOptions(ctx, o)
	var vr VerifyResult
	if err := workflow.ExecuteActivity(actx, ActivityVerify, VerifyInput{From: from, To: to}).Get(ctx, &vr); err != nil {
		return VerifyReport{}, fmt.Errorf("verify %s..%s: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), err)
	}
	rep := VerifyReport{From: from, To: to, Windows: vr.Windows, Mismatched: vr.Mismatched}
	if !in.Repair {
		return rep, nil
	}
	wctx := workflow.WithActivityOptions(ctx, awaitActivityOptions())
	for _, w := range vr.Mismatched {
		workflow.GetLogger(ctx).Warn("repairing window", "window", w.String())
		_, alreadyRunning, err := runExportWindowChild(ctx, w)
		if err == nil && alreadyRunning {
			err = workflow.ExecuteActivity(wctx, ActivityAwaitWorkflow, AwaitWorkflowInput{WorkflowID: ExportWindowID(w)}).Get(ctx, nil)
		}
		if err != nil {
			return rep, fmt.Errorf("repair window %s: %w", w, err)
		}
		rep.Repaired++
	}
	return rep, nil
}
