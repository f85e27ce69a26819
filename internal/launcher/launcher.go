// Package launcher is the client side of logetl's Temporal orchestration: it dials Temporal
// lazily, starts Backfill runs (for `logetl backfill` and the API's POST /admin/backfills) and
// builds links to runs in the Temporal UI.
package launcher

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/logetl/logetl/apiserver"
	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/temporalconn"
	"github.com/logetl/logetl/workflows"
)

// Config is what the launcher needs from logetl's configuration.
type Config struct {
	Temporal  config.Temporal
	SafetyLag time.Duration
	// MaxRange refuses longer backfills (0: no limit).
	MaxRange time.Duration
	// Tables are the tables a backfill may name, by lake name, with their window grid step
	// when the configuration fixes it (0: the worker's, which the lake records).
	Tables map[string]time.Duration
	// Now is the clock that decides which windows are closed; nil means time.Now.
	Now func() time.Time
	// StuckCheck is how often WaitBackfill checks that the run progresses (default 10s).
	StuckCheck time.Duration
}

// Launcher starts workflows on Temporal. The zero value is not usable; use New.
type Launcher struct {
	cfg Config
	mu  sync.Mutex
	c   client.Client
}

// New returns a launcher that dials Temporal on first use, so a process (the API) starts even
// while Temporal is down, and answers 503 to a backfill until it is back.
func New(cfg Config) *Launcher { return &Launcher{cfg: cfg} }

// NewWithClient returns a launcher over an existing client (tests, the worker's own client).
func NewWithClient(cfg Config, c client.Client) *Launcher { return &Launcher{cfg: cfg, c: c} }

// Client returns the Temporal client, dialing it the first time.
func (l *Launcher) Client(ctx context.Context) (client.Client, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.c != nil {
		return l.c, nil
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := temporalconn.Dial(dctx, l.cfg.Temporal, temporalconn.DialOptions{Logger: sdkLogger()})
	if err != nil {
		return nil, err
	}
	l.c = c
	return c, nil
}

// Close closes the client if one was dialed.
func (l *Launcher) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.c != nil {
		l.c.Close()
		l.c = nil
	}
}

func (l *Launcher) now() time.Time {
	if l.cfg.Now != nil {
		return l.cfg.Now()
	}
	return time.Now()
}

// BackfillInput validates a backfill request and returns the workflow's input. Errors wrap
// apiserver.ErrInvalidBackfill: they are the caller's to fix.
func (l *Launcher) BackfillInput(req apiserver.BackfillRequest) (workflows.BackfillInput, error) {
	invalid := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", apiserver.ErrInvalidBackfill, fmt.Sprintf(format, a...))
	}
	from, to := req.From.UTC(), req.To.UTC()
	table := req.Table
	if table == "" {
		if len(l.cfg.Tables) != 1 {
			return workflows.BackfillInput{}, invalid("name the table: the specs declare %d tables", len(l.cfg.Tables))
		}
		for name := range l.cfg.Tables {
			table = name
		}
	}
	w, ok := l.cfg.Tables[table]
	if !ok {
		return workflows.BackfillInput{}, invalid("no table %q in the specs", table)
	}
	g := partition.Daily
	if req.Granularity != "" {
		var err error
		if g, err = partition.ParseGranularity(req.Granularity); err != nil {
			return workflows.BackfillInput{}, invalid("granularity %q is not daily or weekly", req.Granularity)
		}
	}
	if !to.After(from) {
		return workflows.BackfillInput{}, invalid("to (%s) must be after from (%s)", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	if l.cfg.MaxRange > 0 && to.Sub(from) > l.cfg.MaxRange {
		return workflows.BackfillInput{}, invalid("the range %s..%s is longer than the limit of %s (--max-range, LOGETL_MAX_RANGE)",
			from.Format(time.RFC3339), to.Format(time.RFC3339), days(l.cfg.MaxRange))
	}
	closed := l.now().Add(-l.cfg.SafetyLag)
	if w > 0 {
		if g == partition.Daily && (!partition.Floor(from, w).Equal(from) || !partition.Floor(to, w).Equal(to)) {
			return workflows.BackfillInput{}, invalid("from and to must be aligned to the %s export window", w)
		}
		closed = partition.Floor(closed, w)
	}
	if to.After(closed) {
		return workflows.BackfillInput{}, invalid("to (%s) is after the last closed window (%s): only past windows can be backfilled",
			to.Format(time.RFC3339), closed.Format(time.RFC3339))
	}
	return workflows.BackfillInput{Table: table, From: from, To: to, Granularity: g}, nil
}

func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// StartBackfill starts Backfill over [from, to), or joins the run of the same range that is
// already open (same workflow id). A completed range may be started again: it rewrites the same
// objects. It implements apiserver.BackfillStarter.
func (l *Launcher) StartBackfill(ctx context.Context, req apiserver.BackfillRequest) (apiserver.BackfillRun, error) {
	in, err := l.BackfillInput(req)
	if err != nil {
		return apiserver.BackfillRun{}, err
	}
	c, err := l.Client(ctx)
	if err != nil {
		return apiserver.BackfillRun{}, err
	}
	id := workflows.BackfillID(in.Table, in.From, in.To, in.Granularity)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                l.cfg.Temporal.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}, workflows.WorkflowBackfill, in)
	if err != nil {
		return apiserver.BackfillRun{}, fmt.Errorf("start backfill %s: %w", id, err)
	}
	return apiserver.BackfillRun{WorkflowID: id, RunID: run.GetRunID(), UIURL: l.UIURL(id)}, nil
}

// WaitBackfill waits for a backfill (following continue-as-new) and returns its final
// progress. A run that cannot progress is reported instead of waited for forever: when the
// backfill's or one of its children's workflow tasks keep failing (a server that refuses the
// search attributes, a worker without the workflow) WaitBackfill returns an error naming the
// workflow and Temporal's reason.
func (l *Launcher) WaitBackfill(ctx context.Context, workflowID string) (workflows.BackfillProgress, error) {
	c, err := l.Client(ctx)
	if err != nil {
		return workflows.BackfillProgress{}, err
	}
	type result struct {
		p   workflows.BackfillProgress
		err error
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan result, 1)
	go func() {
		var p workflows.BackfillProgress
		err := c.GetWorkflow(wctx, workflowID, "").Get(wctx, &p)
		done <- result{p, err}
	}()
	every := l.cfg.StuckCheck
	if every <= 0 {
		every = 10 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case r := <-done:
			if r.err != nil {
				return r.p, fmt.Errorf("backfill %s: %w", workflowID, r.err)
			}
			return r.p, nil
		case <-t.C:
			if reason := Stuck(ctx, c, workflowID); reason != "" {
				return workflows.BackfillProgress{}, fmt.Errorf("backfill %s is stuck: %s (%s)", workflowID, reason, l.UIURL(workflowID))
			}
		case <-ctx.Done():
			return workflows.BackfillProgress{}, ctx.Err()
		}
	}
}

// stuckAttempts is how many failed attempts of one workflow task make a run stuck: a task
// retried this often fails for a reason a retry does not fix.
const stuckAttempts = 3

// Describe returns the server's description of a run: pending activities, children and
// workflow task, which the SDK's typed description leaves in its raw response.
func Describe(ctx context.Context, c client.Client, workflowID, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	d, err := c.DescribeWorkflow(ctx, workflowID, runID)
	if err != nil {
		return nil, err
	}
	return d.RawResponse, nil
}

// Stuck tells why a running workflow, or one of its open children, cannot progress: its
// workflow task has failed stuckAttempts times, with the failure Temporal recorded. "" means
// nothing is stuck (or it could not be told).
func Stuck(ctx context.Context, c client.Client, workflowID string) string {
	d, err := Describe(ctx, c, workflowID, "")
	if err != nil {
		return ""
	}
	ids := []string{workflowID}
	for i, ch := range d.GetPendingChildren() {
		if i == 10 {
			break
		}
		ids = append(ids, ch.GetWorkflowId())
	}
	for i, id := range ids {
		desc := d
		if i > 0 {
			if desc, err = Describe(ctx, c, id, ""); err != nil {
				continue
			}
		}
		if desc.GetPendingWorkflowTask().GetAttempt() < stuckAttempts {
			continue
		}
		return fmt.Sprintf("the workflow task of %s has failed %d times: %s", id, desc.GetPendingWorkflowTask().GetAttempt(), lastTaskFailure(ctx, c, id))
	}
	return ""
}

// lastTaskFailure is the cause and message of a workflow's last failed workflow task.
func lastTaskFailure(ctx context.Context, c client.Client, id string) string {
	it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	reason := "no failure recorded (the worker may be down or lack the workflow)"
	for n := 0; it.HasNext() && n < 10000; n++ {
		ev, err := it.Next()
		if err != nil {
			break
		}
		if a := ev.GetWorkflowTaskFailedEventAttributes(); a != nil {
			reason = fmt.Sprintf("%s: %s", a.GetCause(), a.GetFailure().GetMessage())
		}
		if a := ev.GetWorkflowTaskTimedOutEventAttributes(); a != nil {
			reason = "workflow task timed out (Temporal refused the worker's answer, or the worker died): see the worker's ERROR log for the workflow"
		}
	}
	return reason
}

// Progress queries a running backfill's progress.
func (l *Launcher) Progress(ctx context.Context, workflowID string) (workflows.BackfillProgress, error) {
	c, err := l.Client(ctx)
	if err != nil {
		return workflows.BackfillProgress{}, err
	}
	v, err := c.QueryWorkflow(ctx, workflowID, "", workflows.ProgressQuery)
	if err != nil {
		return workflows.BackfillProgress{}, fmt.Errorf("query progress of %s: %w", workflowID, err)
	}
	var p workflows.BackfillProgress
	if err := v.Get(&p); err != nil {
		return p, fmt.Errorf("decode progress of %s: %w", workflowID, err)
	}
	return p, nil
}

// UIURL links to a workflow in the Temporal UI.
func (l *Launcher) UIURL(workflowID string) string {
	return UIURL(l.cfg.Temporal.TemporalUIURL, l.cfg.Temporal.TemporalNamespace, workflowID)
}

// UIURL builds <base>/namespaces/<ns>/workflows/<id>, with the id escaped (ids hold slashes).
func UIURL(base, namespace, workflowID string) string {
	return strings.TrimRight(base, "/") + "/namespaces/" + url.PathEscape(namespace) + "/workflows/" + url.PathEscape(workflowID)
}
