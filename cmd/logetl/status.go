package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/lake"
	"github.com/logetl/logetl/internal/launcher"
	"github.com/logetl/logetl/internal/pipeline"
	"github.com/logetl/logetl/worker"
	"github.com/logetl/logetl/workflows"
)

// statusCmd answers "is my pipeline healthy and how far behind is it", per table, from the lake
// (the newest window exported), Temporal (the last verify, the windows failing or retrying now,
// the schedules) and MySQL (the oldest row still there). Its exit status is non-zero when a
// table's lag exceeds --max-lag, so it serves as a health check.
type statusCmd struct {
	pipelineFlags
	config.Temporal
	MaxLag time.Duration `name:"max-lag" env:"LOGETL_MAX_LAG" default:"45m" help:"Exit non-zero when a table's newest exported window ended longer ago than this."`
	JSON   bool          `name:"json" help:"Print JSON for scripts instead of the table."`

	now    func() time.Time
	stdout io.Writer
}

// TableStatus is one table's state.
type TableStatus struct {
	Table         string     `json:"table"`
	LastWindowEnd *time.Time `json:"last_window_end,omitempty"`
	LagSeconds    *float64   `json:"lag_seconds,omitempty"`
	LagExceeded   bool       `json:"lag_exceeded"`
	// LagSource says where the last window end was read: "lake" (its coverage record) or,
	// when S3 cannot be read, "temporal" (the newest window an export run completed).
	LagSource  string         `json:"lag_source,omitempty"`
	LastVerify *RunStatus     `json:"last_verify,omitempty"`
	Failing    []RunStatus    `json:"failing,omitempty"`
	Schedules  []ScheduleInfo `json:"schedules,omitempty"`
	OldestRow  *time.Time     `json:"oldest_row,omitempty"`
	Retention  string         `json:"retention,omitempty"`
	Errors     []string       `json:"errors,omitempty"`
}

// RunStatus is a workflow run as status shows it.
type RunStatus struct {
	WorkflowID string    `json:"workflow_id"`
	Status     string    `json:"status"`
	StartedAt  time.Time `json:"started_at"`
	Attempt    int32     `json:"attempt,omitempty"`
	Detail     string    `json:"detail,omitempty"`
	UIURL      string    `json:"ui_url"`
}

// ScheduleInfo is a schedule's state.
type ScheduleInfo struct {
	ID     string `json:"id"`
	Paused bool   `json:"paused"`
	Note   string `json:"note,omitempty"`
}

func (c *statusCmd) Run(ctx context.Context) error {
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	p, err := c.openPipeline(ctx, "status", pipeline.Needs{})
	if err != nil {
		return err
	}
	defer p.Close()
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	tc, terr := dialTemporal(dctx, c.Temporal, nil)
	cancel()
	if terr == nil {
		defer tc.Close()
	}
	var all []TableStatus
	exceeded := false
	for _, t := range p.Tables {
		st := TableStatus{Table: t.Name()}
		if t.Spec.Retention > 0 {
			st.Retention = t.Spec.Retention.String()
		}
		var end time.Time
		cov, _, err := lake.ReadCoverage(ctx, p.Store, t.Export.Layout())
		switch {
		case err != nil:
			st.Errors = append(st.Errors, "lake: "+err.Error())
			// The lake cannot say (S3 down is when an operator asks most): the newest window
			// an ExportWindow run completed is the next best answer.
			if terr == nil {
				if e, ok := lastExportedByTemporal(ctx, tc, c.TemporalNamespace, t); ok {
					end, st.LagSource = e, "temporal"
				}
			}
		case len(cov.Intervals) > 0:
			end, st.LagSource = cov.Intervals[len(cov.Intervals)-1].End, "lake"
		default:
			st.Errors = append(st.Errors, "lake: no window exported yet")
		}
		if end.IsZero() {
			st.LagExceeded = true // an unknown lag is not a healthy one
		} else {
			// One reading of the clock, so the lag printed and the verdict on it agree.
			d := now().Sub(end)
			lag := d.Seconds()
			st.LastWindowEnd, st.LagSeconds = &end, &lag
			st.LagExceeded = d > c.MaxLag
		}
		if tbl, err := t.Export.MySQL(ctx); err != nil {
			st.Errors = append(st.Errors, "mysql: "+err.Error())
		} else if at, ok, err := tbl.Oldest(ctx); err != nil {
			st.Errors = append(st.Errors, "mysql: "+err.Error())
		} else if ok {
			st.OldestRow = &at
		}
		if terr != nil {
			st.Errors = append(st.Errors, "temporal: "+terr.Error())
		} else {
			c.temporalState(ctx, tc, t, &st)
		}
		exceeded = exceeded || st.LagExceeded
		all = append(all, st)
	}
	out := writerOr(c.stdout)
	if c.JSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(all); err != nil {
			return err
		}
	} else {
		c.print(out, all, now())
	}
	if exceeded {
		return fmt.Errorf("lag over --max-lag %s on %s", c.MaxLag, strings.Join(lagging(all), ", "))
	}
	return nil
}

// lastExportedByTemporal is the end of the newest window among the table's most recently
// completed ExportWindow runs (scheduled runs complete in window order; a backfill's old
// windows only lower the maximum, never raise it).
func lastExportedByTemporal(ctx context.Context, tc client.Client, namespace string, t *pipeline.Table) (time.Time, bool) {
	query := fmt.Sprintf("WorkflowType = '%s' AND LogetlTable = '%s' AND ExecutionStatus = 'Completed'",
		workflows.WorkflowExportWindow, strings.ReplaceAll(t.Name(), "'", ""))
	resp, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: namespace, Query: query, PageSize: 50})
	if err != nil {
		return time.Time{}, false
	}
	var newest time.Time
	for _, e := range resp.GetExecutions() {
		p := e.GetSearchAttributes().GetIndexedFields()[workflows.WindowStartKey.GetName()]
		if p == nil {
			continue
		}
		var start time.Time
		if err := converter.GetDefaultDataConverter().FromPayload(p, &start); err != nil {
			continue
		}
		if w := t.Export.Grid().WindowAt(start); w.End.After(newest) {
			newest = w.End
		}
	}
	return newest, !newest.IsZero()
}

func lagging(all []TableStatus) []string {
	var out []string
	for _, s := range all {
		if s.LagExceeded {
			out = append(out, s.Table)
		}
	}
	return out
}

// temporalState fills in the runs and schedules of a table.
func (c *statusCmd) temporalState(ctx context.Context, tc client.Client, t *pipeline.Table, st *TableStatus) {
	ui := func(id string) string { return launcher.UIURL(c.TemporalUIURL, c.TemporalNamespace, id) }
	table := strings.ReplaceAll(t.Name(), "'", "")
	list := func(query string, size int32) []*workflowservice.ListWorkflowExecutionsResponse {
		resp, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: c.TemporalNamespace, Query: query, PageSize: size})
		if err != nil {
			st.Errors = append(st.Errors, "temporal: "+err.Error())
			return nil
		}
		return []*workflowservice.ListWorkflowExecutionsResponse{resp}
	}
	// No ORDER BY: the dev server's and SQL visibility stores refuse it ("operation is not
	// supported"), and every store lists open runs first, then the most recently closed.
	for _, resp := range list(fmt.Sprintf("WorkflowType = '%s' AND LogetlTable = '%s'", workflows.WorkflowVerify, table), 1) {
		for _, e := range resp.GetExecutions() {
			rs := RunStatus{WorkflowID: e.GetExecution().GetWorkflowId(), Status: statusName(e.GetStatus()), StartedAt: e.GetStartTime().AsTime(), UIURL: ui(e.GetExecution().GetWorkflowId())}
			if e.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
				var rep workflows.VerifyReport
				if err := tc.GetWorkflow(ctx, rs.WorkflowID, e.GetExecution().GetRunId()).Get(ctx, &rep); err == nil {
					rs.Detail = fmt.Sprintf("%d windows, %d problems, %d repaired", rep.Windows, rep.ProblemCount, rep.Repaired)
				}
			}
			st.LastVerify = &rs
		}
	}
	for _, resp := range list(fmt.Sprintf("WorkflowType = '%s' AND LogetlTable = '%s' AND ExecutionStatus = 'Running'", workflows.WorkflowExportWindow, table), 50) {
		for _, e := range resp.GetExecutions() {
			id := e.GetExecution().GetWorkflowId()
			d, err := launcher.Describe(ctx, tc, id, e.GetExecution().GetRunId())
			if err != nil {
				continue
			}
			for _, a := range d.GetPendingActivities() {
				if a.GetAttempt() < 2 && a.GetLastFailure() == nil {
					continue // running its first attempt: not failing
				}
				st.Failing = append(st.Failing, RunStatus{WorkflowID: id, Status: "retrying", StartedAt: e.GetStartTime().AsTime(),
					Attempt: a.GetAttempt(), Detail: firstLine(a.GetLastFailure().GetMessage()), UIURL: ui(id)})
			}
			if reason := launcher.Stuck(ctx, tc, id); reason != "" {
				st.Failing = append(st.Failing, RunStatus{WorkflowID: id, Status: "stuck", StartedAt: e.GetStartTime().AsTime(), Detail: reason, UIURL: ui(id)})
			}
		}
	}
	since := time.Now().Add(-24 * time.Hour).UTC().Format(time.RFC3339)
	for _, resp := range list(fmt.Sprintf("WorkflowType = '%s' AND LogetlTable = '%s' AND ExecutionStatus = 'Failed' AND CloseTime > '%s'", workflows.WorkflowExportWindow, table, since), 20) {
		for _, e := range resp.GetExecutions() {
			id := e.GetExecution().GetWorkflowId()
			st.Failing = append(st.Failing, RunStatus{WorkflowID: id, Status: "failed", StartedAt: e.GetStartTime().AsTime(), UIURL: ui(id)})
		}
	}
	ids := []string{worker.ScheduleExport, worker.ScheduleCompactWeek, worker.ScheduleVerify}
	if t.Spec.Retention > 0 {
		ids = append(ids, worker.SchedulePurge)
	}
	for _, kind := range ids {
		id := worker.ScheduleID(kind, t.Name())
		d, err := tc.ScheduleClient().GetHandle(ctx, id).Describe(ctx)
		if err != nil {
			var nf *serviceerror.NotFound
			if errors.As(err, &nf) {
				st.Schedules = append(st.Schedules, ScheduleInfo{ID: id, Note: "missing (the worker applies it at start, or logetl schedules apply)"})
			} else {
				st.Errors = append(st.Errors, "temporal: schedule "+id+": "+err.Error())
			}
			continue
		}
		st.Schedules = append(st.Schedules, ScheduleInfo{ID: id, Paused: d.Schedule.State.Paused, Note: d.Schedule.State.Note})
	}
}

func statusName(s enumspb.WorkflowExecutionStatus) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "WORKFLOW_EXECUTION_STATUS_"))
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func (c *statusCmd) print(out io.Writer, all []TableStatus, now time.Time) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tLAST WINDOW END\tLAG\tLAST VERIFY\tOLDEST ROW IN MYSQL\tSCHEDULES")
	for _, s := range all {
		last, lag := "none", "unknown"
		if s.LastWindowEnd != nil {
			last = s.LastWindowEnd.Format(time.RFC3339)
			lag = time.Duration(*s.LagSeconds * float64(time.Second)).Round(time.Second).String()
			if s.LagSource == "temporal" {
				last += " (from Temporal: the lake is unreadable)"
			}
		}
		if s.LagExceeded {
			lag += " (over " + c.MaxLag.String() + ")"
		}
		verify := "none"
		if v := s.LastVerify; v != nil {
			verify = fmt.Sprintf("%s %s %s", v.StartedAt.Format(time.RFC3339), v.Status, v.Detail)
		}
		oldest := "none"
		if s.OldestRow != nil {
			oldest = fmt.Sprintf("%s (%s ago)", s.OldestRow.Format(time.RFC3339), now.Sub(*s.OldestRow).Round(time.Second))
			if s.Retention != "" {
				oldest += ", retention " + s.Retention
			}
		}
		var scheds []string
		for _, sc := range s.Schedules {
			state := "active"
			if sc.Paused {
				state = "PAUSED"
			}
			if strings.HasPrefix(sc.Note, "missing") {
				state = "MISSING"
			}
			scheds = append(scheds, strings.TrimPrefix(strings.TrimSuffix(sc.ID, "-"+s.Table), "logetl-")+" "+state)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Table, last, lag, verify, oldest, strings.Join(scheds, ", "))
	}
	_ = tw.Flush()
	for _, s := range all {
		for _, f := range s.Failing {
			detail := f.Detail
			if f.Attempt > 0 {
				detail = fmt.Sprintf("attempt %d: %s", f.Attempt, detail)
			}
			fmt.Fprintf(out, "%s %s %s: %s\n  %s\n", s.Table, f.Status, f.WorkflowID, detail, f.UIURL)
		}
		for _, e := range s.Errors {
			fmt.Fprintf(out, "%s: could not read %s\n", s.Table, e)
		}
	}
}
