//go:build faults

package faults

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/worker"
	"github.com/logetl/logetl/workflows"
)

// Values of the late rows: distinctive, so the security check can look for them too.
const (
	lateIP    = "203.0.113.77"
	lateAgent = "late-commit-agent/2.1 (ua-0be4c9)"
	lateEmail = "late.commit.probe.41d2@example.org"
)

// insertLate commits a row into w long after w was exported, as a transaction slower than the
// safety lag would: its occurred_at is old, its id is new.
func (st *stack) insertLate(ctx context.Context, w partition.Window, requestID string) error {
	_, err := st.db.DB.ExecContext(ctx, `INSERT INTO activity_log (occurred_at, request_id, user_id, action, method, route, path, status,
		post_id, client_ip, user_agent, email, message) VALUES (?, ?, NULL, 'user.login_failed', 'POST', '/user/login/', '/user/login/', 401,
		NULL, ?, ?, ?, 'POST login failed')`, w.Start.Add(29*time.Second+123456*time.Microsecond), requestID, lateIP, lateAgent, lateEmail)
	return err
}

// triggerSchedule runs a schedule's action now (paused or not) and returns the run it started.
func (st *stack) triggerSchedule(ctx context.Context, id string) (client.WorkflowRun, error) {
	h := st.tc.ScheduleClient().GetHandle(ctx, id)
	before, err := h.Describe(ctx)
	if err != nil {
		return nil, err
	}
	if err := h.Trigger(ctx, client.ScheduleTriggerOptions{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL}); err != nil {
		return nil, fmt.Errorf("trigger %s: %w", id, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		d, err := h.Describe(ctx)
		if err != nil {
			return nil, err
		}
		if n := len(d.Info.RecentActions); n > 0 && (len(before.Info.RecentActions) == 0 ||
			d.Info.RecentActions[n-1].StartWorkflowResult.WorkflowID != before.Info.RecentActions[len(before.Info.RecentActions)-1].StartWorkflowResult.WorkflowID) {
			r := d.Info.RecentActions[n-1].StartWorkflowResult
			return st.tc.GetWorkflow(ctx, r.WorkflowID, r.FirstExecutionRunID), nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil, fmt.Errorf("schedule %s started no run within 30s of its trigger", id)
}

// lateCommits commits a row into an exported window twice: once healed by the project's
// safety net, the logetl-verify schedule (Verify workflow with repair; hourly in prod, here
// triggered), once by an operator's `logetl verify --repair`.
func (st *stack) lateCommits(t *testing.T, ctx context.Context, w partition.Window) {
	if w.Start.IsZero() {
		t.Fatal("no exported window from the S3 fault to commit into")
	}
	// Both windows were verified equal to MySQL by the previous fault. The CLI repairs outside
	// Temporal, so its window is one the schedule is long done with.
	w2 := partition.Window{Start: w.Start.Add(-window), End: w.Start}

	if err := st.insertLate(ctx, w, "faults-late-schedule"); err != nil {
		t.Fatal(err)
	}
	out, err := st.cli(ctx, "verify", "--from", rfc(w.Start), "--to", rfc(w.End))
	if err == nil || !strings.Contains(out, "mismatch") {
		t.Errorf("logetl verify after a late commit into %s: err %v, want a mismatch:\n%s", w, err, out)
	}
	run, err := st.triggerSchedule(ctx, worker.ScheduleID(worker.ScheduleVerify, table))
	if err != nil {
		t.Fatal(err)
	}
	vctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var rep workflows.VerifyReport
	if err := run.Get(vctx, &rep); err != nil {
		t.Fatalf("verify schedule run %s: %v", run.GetID(), err)
	}
	found := false
	for _, m := range rep.Mismatched {
		found = found || m.Start.Equal(w.Start)
	}
	if !found {
		t.Errorf("the verify schedule's run checked %s..%s (%d windows) and did not find %s: %+v", rfc(rep.From), rfc(rep.To), rep.Windows, w, rep.Mismatched)
	}
	st.verifyCLI(t, ctx, w.Start, w.End)
	a, err := st.audit(ctx, w.Start, w.End)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Repaired != len(rep.Mismatched) {
		t.Errorf("the verify schedule's run repaired %d of its %d mismatched windows", rep.Repaired, len(rep.Mismatched))
	}
	// Other windows the run re-exported: the newest ones, whose scheduled export may still be
	// retrying after the S3 outage when the run checks them (the repair then waits for it).
	var others []string
	for _, m := range rep.Mismatched {
		if !m.Start.Equal(w.Start) {
			others = append(others, m.String())
		}
	}
	t.Logf("the verify schedule's run %s re-exported %s and %v", run.GetID(), w, others)
	recordAudit(t, "5 late commit, verify schedule", a, fmt.Sprintf("%d windows re-exported", rep.Repaired),
		fmt.Sprintf("found by %s among %d windows, with %d other(s) %v; %d empty windows from before this stack started recorded in the coverage, not exported",
			run.GetID(), rep.Windows, len(others), others, rep.Covered))

	if err := st.insertLate(ctx, w2, "faults-late-cli"); err != nil {
		t.Fatal(err)
	}
	out, err = st.cli(ctx, "verify", "--repair", "--from", rfc(w2.Start), "--to", rfc(w2.End))
	if err != nil || !strings.Contains(out, "1 repaired") {
		t.Errorf("logetl verify --repair over %s: %v, want 1 window repaired:\n%s", w2, err, out)
	}
	st.verifyCLI(t, ctx, w2.Start, w2.End)
	a2, err := st.audit(ctx, w2.Start, w2.End)
	if err != nil {
		t.Fatal(err)
	}
	recordAudit(t, "5 late commit, logetl verify --repair", a2, "1 window re-exported", "found and repaired by the CLI")
}
