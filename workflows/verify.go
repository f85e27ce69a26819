package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/logetl/logetl/internal/partition"
)

// VerifyWorkflowInput is the argument of Verify. With From and To zero the range ends at the
// last closed window of the nominal time and starts Lookback before it, or earlier with
// SinceUncompacted: at the first week that has no weekly file yet. That is how the verify
// schedule calls it.
type VerifyWorkflowInput struct {
	Table            string        `json:"table"`
	From             time.Time     `json:"from,omitempty"`
	To               time.Time     `json:"to,omitempty"`
	Lookback         time.Duration `json:"lookback,omitempty"`
	Window           time.Duration `json:"window"`
	SafetyLag        time.Duration `json:"safety_lag"`
	Repair           bool          `json:"repair"`
	SinceUncompacted bool          `json:"since_uncompacted,omitempty"`
}

// VerifyReport is Verify's result.
type VerifyReport struct {
	Table        string             `json:"table"`
	From         time.Time          `json:"from"`
	To           time.Time          `json:"to"`
	Windows      int64              `json:"windows"`
	Mismatched   []partition.Window `json:"mismatched,omitempty"`
	ProblemCount int64              `json:"problem_count"`
	Covered      int64              `json:"covered,omitempty"`
	Repaired     int                `json:"repaired"`
	Strays       []string           `json:"strays,omitempty"`
}

// Verify re-counts the windows of a range in MySQL against the S3 manifests and, with Repair,
// re-exports each window that differs through that window's own ExportWindow workflow (so a
// repair never overlaps a scheduled run of the same window). It is the safety net for late
// commits and gaps: a row committed after its window was exported (a transaction slower than
// the safety lag) or a window lost in an outage is found by the verify schedule and rewritten.
func Verify(ctx workflow.Context, in VerifyWorkflowInput) (VerifyReport, error) {
	in.Table = tableOf(in.Table)
	// The table's runs of every kind are found in the UI (and by logetl status) by LogetlTable.
	if err := workflow.UpsertTypedSearchAttributes(ctx, TableKey.ValueSet(in.Table)); err != nil {
		return VerifyReport{}, fmt.Errorf("upsert search attributes: %w", err)
	}
	from, to := in.From, in.To
	if from.IsZero() && to.IsZero() {
		if in.Window <= 0 || in.Lookback <= 0 {
			return VerifyReport{}, badInput("verify: window and lookback must be > 0")
		}
		to = ScheduledWindow(NominalTime(ctx), in.Window, in.SafetyLag).End
		from = to.Add(-in.Lookback)
	}
	if !to.After(from) {
		return VerifyReport{}, badInput("verify: to (%s) must be after from (%s)", to, from)
	}
	o := exportActivityOptions()
	o.ScheduleToCloseTimeout = time.Hour
	actx := workflow.WithActivityOptions(ctx, o)
	var vr VerifyResult
	if err := workflow.ExecuteActivity(actx, ActivityVerify, VerifyInput{Table: in.Table, From: from, To: to, SinceUncompacted: in.SinceUncompacted}).Get(ctx, &vr); err != nil {
		return VerifyReport{}, fmt.Errorf("verify %s %s..%s: %w", in.Table, from.Format(time.RFC3339), to.Format(time.RFC3339), err)
	}
	rep := VerifyReport{Table: in.Table, From: vr.From, To: vr.To, Windows: vr.Windows, Mismatched: vr.Mismatched,
		ProblemCount: vr.ProblemCount, Covered: vr.Covered, Strays: vr.Strays}
	if !in.Repair || len(vr.Mismatched) == 0 {
		return rep, nil
	}
	jobs := make([]ExportWindowInput, len(vr.Mismatched))
	for i, w := range vr.Mismatched {
		workflow.GetLogger(ctx).Warn("repairing window", "table", in.Table, "window", w.String())
		jobs[i] = ExportWindowInput{Table: in.Table, Window: w, Reason: ReasonVerify}
	}
	failures := repairWindows(ctx, in.Table, jobs, DefaultConcurrency)
	rep.Repaired = len(jobs) - len(failures)
	if len(failures) > 0 {
		return rep, fmt.Errorf("verify %s: %d repairs failed: %s", in.Table, len(failures), strings.Join(failures[:min(3, len(failures))], "; "))
	}
	return rep, nil
}
