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
	"go.temporal.io/sdk/client"

	"github.com/logetl/logetl/apiserver"
	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/temporalconn"
	"github.com/logetl/logetl/workflows"
)

// Config is what the launcher needs from logetl's configuration.
type Config struct {
	Temporal  config.Temporal
	Window    time.Duration // export grid step
	SafetyLag time.Duration
	Timezone  string
	// Now is the clock that decides which windows are closed; nil means time.Now.
	Now func() time.Time
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
func (l *Launcher) BackfillInput(from, to time.Time, granularity string) (workflows.BackfillInput, error) {
	invalid := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", apiserver.ErrInvalidBackfill, fmt.Sprintf(format, a...))
	}
	from, to = from.UTC(), to.UTC()
	if granularity == "" {
		granularity = workflows.GranularityDaily
	}
	if granularity != workflows.GranularityDaily && granularity != workflows.GranularityWeekly {
		return workflows.BackfillInput{}, invalid("granularity %q is not daily or weekly", granularity)
	}
	if !to.After(from) {
		return workflows.BackfillInput{}, invalid("to (%s) must be after from (%s)", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	w := l.cfg.Window
	if w <= 0 {
		return workflows.BackfillInput{}, fmt.Errorf("backfill: export window %s is not configured", w)
	}
	if granularity == workflows.GranularityDaily && (!workflows.FloorGrid(from, w).Equal(from) || !workflows.FloorGrid(to, w).Equal(to)) {
		return workflows.BackfillInput{}, invalid("from and to must be aligned to the %s export window", w)
	}
	closed := workflows.FloorGrid(l.now().Add(-l.cfg.SafetyLag), w)
	if to.After(closed) {
		return workflows.BackfillInput{}, invalid("to (%s) is after the last closed window (%s): only past windows can be backfilled",
			to.Format(time.RFC3339), closed.Format(time.RFC3339))
	}
	return workflows.BackfillInput{From: from, To: to, Granularity: granularity, Window: w, Timezone: l.cfg.Timezone}, nil
}

// StartBackfill starts Backfill over [from, to), or joins the run of the same range that is
// already open (same workflow id). A completed range may be started again: it rewrites the same
// objects. It implements apiserver.BackfillStarter.
func (l *Launcher) StartBackfill(ctx context.Context, from, to time.Time, granularity string) (apiserver.BackfillRun, error) {
	in, err := l.BackfillInput(from, to, granularity)
	if err != nil {
		return apiserver.BackfillRun{}, err
	}
	c, err := l.Client(ctx)
	if err != nil {
		return apiserver.BackfillRun{}, err
	}
	id := workflows.BackfillID(in.From, in.To, in.Granularity)
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

// WaitBackfill waits for a backfill (following continue-as-new) and returns its final progress.
func (l *Launcher) WaitBackfill(ctx context.Context, workflowID string) (workflows.BackfillProgress, error) {
	c, err := l.Client(ctx)
	if err != nil {
		return workflows.BackfillProgress{}, err
	}
	var p workflows.BackfillProgress
	if err := c.GetWorkflow(ctx, workflowID, "").Get(ctx, &p); err != nil {
		return p, fmt.Errorf("backfill %s: %w", workflowID, err)
	}
	return p, nil
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
