// Package activities holds logetl's Temporal activities: the I/O steps that the workflows call
// by the names declared in package workflows. Table steps delegate to the export and retention
// libraries through the small Table interface (one per configured table); bot steps make real
// HTTP calls to the API.
package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/logetl/logetl/internal/botclient"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/workflows"
)

// Table is what the activities need of one table's libraries; Library implements it.
type Table interface {
	// ExportWindow writes the daily file(s) of w, calling progress with the running totals.
	ExportWindow(ctx context.Context, w partition.Window, progress func(rows, bytes int64)) (workflows.ExportResult, error)
	// CompactWeek writes the week's weekly file, or lists the windows to repair first.
	CompactWeek(ctx context.Context, week partition.Week, upTo time.Time) (workflows.CompactResult, error)
	// ClosedWeek is the week a compaction schedule's run at nominal stands for.
	ClosedWeek(in workflows.ClosedWeekInput) (workflows.ClosedWeek, error)
	// Verify compares MySQL with the lake over a range; it records uncovered empty windows.
	Verify(ctx context.Context, in workflows.VerifyInput) (workflows.VerifyResult, error)
	// Plan returns the next page of windows (or weeks) with rows of a range.
	Plan(ctx context.Context, in workflows.PlanInput) (workflows.PlanResult, error)
	// Cover records a range as exported, except failed windows.
	Cover(ctx context.Context, in workflows.CoverInput) error
	// PurgeWindow verifies a window and deletes its exported rows from MySQL.
	PurgeWindow(ctx context.Context, w partition.Window, dryRun bool, progress func(deleted, of int64)) (workflows.PurgeResult, error)
	// RemoveDailyFiles deletes a page of the daily files that their weeks' compacted files hold
	// and the table's daily_files_retention lets go.
	RemoveDailyFiles(ctx context.Context, nominal time.Time, dryRun bool, progress func(removed int)) (workflows.RemoveDailiesResult, error)
	// Permanent returns the non-retryable error type of err (workflows.ErrTypeConfig,
	// ErrTypeKey, ErrTypeBadInput) or "" when retrying may succeed.
	Permanent(err error) string
}

// WorkflowGetter finds a workflow's current run; client.Client is one.
type WorkflowGetter interface {
	GetWorkflow(ctx context.Context, workflowID, runID string) client.WorkflowRun
}

// Recorder receives the pipeline's metrics; the worker implements it with Prometheus.
type Recorder interface {
	Exported(table string, g partition.Granularity, w partition.Window, rows, bytes int64, took time.Duration)
	ExportFailed(table string, g partition.Granularity, permanent bool)
	Repaired(table string, w partition.Window, rows int64, reason string)
	Verified(table string, windows, problems int64)
	Purged(table string, verdict, reason string, rows int64)
	DailyFilesRemoved(table string, files int, bytes int64, weeksKept int)
	BotActions(kind string, outcome string, actions int)
}

// Activities carries the dependencies of every activity. A table missing from Tables, or a nil
// Bots, makes the matching activities fail with a non-retryable configuration error.
type Activities struct {
	Tables    map[string]Table
	Workflows WorkflowGetter
	Bots      *botclient.Client
	Metrics   Recorder
	Log       *slog.Logger
	// Now is the clock of bot signups (birth_date = today); nil means time.Now.
	Now func() time.Time
}

// Registry is the part of a Temporal worker that takes activities.
type Registry interface {
	RegisterActivityWithOptions(a interface{}, options activity.RegisterOptions)
}

// Register adds every activity under the name the workflows call it by.
func (a *Activities) Register(r Registry) {
	for name, fn := range map[string]any{
		workflows.ActivityExportWindow:  a.ExportWindow,
		workflows.ActivityCompactWeek:   a.CompactWeek,
		workflows.ActivityClosedWeek:    a.ClosedWeek,
		workflows.ActivityVerify:        a.Verify,
		workflows.ActivityPlanBackfill:  a.PlanBackfill,
		workflows.ActivityPlanPurge:     a.PlanPurge,
		workflows.ActivityCoverRange:    a.CoverRange,
		workflows.ActivityPurgeWindow:   a.PurgeWindow,
		workflows.ActivityAwaitWorkflow: a.AwaitWorkflow,
		workflows.ActivityRemoveDailies: a.RemoveDailyFiles,
		workflows.ActivitySignupBot:     a.SignupBot,
		workflows.ActivityBotSession:    a.BotSession,
	} {
		r.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
}

func (a *Activities) logger() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.Default()
}

func (a *Activities) recorder() Recorder {
	if a.Metrics != nil {
		return a.Metrics
	}
	return noMetrics{}
}

type noMetrics struct{}

func (noMetrics) Exported(string, partition.Granularity, partition.Window, int64, int64, time.Duration) {
}
func (noMetrics) ExportFailed(string, partition.Granularity, bool) {}
func (noMetrics) Repaired(string, partition.Window, int64, string) {}
func (noMetrics) Verified(string, int64, int64)                    {}
func (noMetrics) Purged(string, string, string, int64)             {}
func (noMetrics) DailyFilesRemoved(string, int, int64, int)        {}
func (noMetrics) BotActions(string, string, int)                   {}

// table finds a configured table, or fails for good: a workflow naming a table this worker does
// not export is a configuration problem (another worker's task queue, a table removed).
func (a *Activities) table(name string) (Table, error) {
	if name == "" {
		name = workflows.DefaultTable
	}
	if t, ok := a.Tables[name]; ok {
		return t, nil
	}
	return nil, temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("table %q is not configured on this worker (its --tables declares %d tables)", name, len(a.Tables)), workflows.ErrTypeConfig, nil)
}

// Progress is the heartbeat detail of export activities, visible in the Temporal UI.
type Progress struct {
	Rows  int64 `json:"rows"`
	Bytes int64 `json:"bytes"`
}

// heartbeater heartbeats the latest progress, and keeps heartbeating on a timer so that a long
// step that reports no progress (a slow query, a big part upload) is not taken for a dead
// worker. The SDK throttles the calls to the server.
type heartbeater struct {
	mu   sync.Mutex
	last any
	stop chan struct{}
	done chan struct{}
}

func startHeartbeat(ctx context.Context) *heartbeater {
	h := &heartbeater{stop: make(chan struct{}), done: make(chan struct{}), last: Progress{}}
	every := 10 * time.Second
	if info := activity.GetInfo(ctx); info.HeartbeatTimeout > 0 {
		every = info.HeartbeatTimeout / 3
	}
	go func() {
		defer close(h.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				h.mu.Lock()
				p := h.last
				h.mu.Unlock()
				activity.RecordHeartbeat(ctx, p)
			}
		}
	}()
	return h
}

func (h *heartbeater) report(ctx context.Context, p any) {
	h.mu.Lock()
	h.last = p
	h.mu.Unlock()
	activity.RecordHeartbeat(ctx, p)
}

func (h *heartbeater) progress(ctx context.Context) func(rows, bytes int64) {
	return func(rows, bytes int64) { h.report(ctx, Progress{Rows: rows, Bytes: bytes}) }
}

func (h *heartbeater) Stop() {
	close(h.stop)
	<-h.done
}

// classify turns a library error into the error the activity returns: a non-retryable
// ApplicationError for what retrying cannot fix, the error itself otherwise.
//
// The libraries' errors usually start with what failed already ("export window W of T: …"):
// what is then not repeated. A non-retryable error carries its text once, without the Go
// error as its cause, since Temporal would print that cause's text a second time.
func classify(t Table, what string, err error) error {
	msg := err.Error()
	if !strings.HasPrefix(msg, what) {
		msg = what + ": " + msg
	}
	if typ := t.Permanent(err); typ != "" {
		return temporal.NewNonRetryableApplicationError(msg, typ, nil)
	}
	if msg == err.Error() {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}

func notConfigured(what string) error {
	return temporal.NewNonRetryableApplicationError(what+" is not configured on this worker", workflows.ErrTypeConfig, nil)
}

func badInput(err error) error {
	return temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrTypeBadInput, nil)
}

// ExportWindow exports one daily window, heartbeating its progress. A window exported to
// repair it (verify, compaction, purge) is logged at WARN with its rows and counted, so an
// operator sees that the lake had a hole and when it closed.
func (a *Activities) ExportWindow(ctx context.Context, in workflows.ExportWindowInput) (workflows.ExportResult, error) {
	t, err := a.table(in.Table)
	if err != nil {
		return workflows.ExportResult{}, err
	}
	if err := in.Window.Validate(); err != nil {
		return workflows.ExportResult{}, badInput(err)
	}
	hb := startHeartbeat(ctx)
	start := time.Now()
	res, err := t.ExportWindow(ctx, in.Window, hb.progress(ctx))
	hb.Stop()
	if err != nil {
		err = classify(t, fmt.Sprintf("export window %s of %s", in.Window, tableName(in.Table)), err)
		a.recorder().ExportFailed(tableName(in.Table), partition.Daily, isPermanent(err))
		a.logIfFinal(ctx, err, "window export failed", "table", tableName(in.Table), "window", in.Window.String())
		return workflows.ExportResult{}, err
	}
	a.recorder().Exported(tableName(in.Table), partition.Daily, in.Window, res.Rows, res.Bytes, time.Since(start))
	switch in.Reason {
	case workflows.ReasonVerify, workflows.ReasonCompaction, workflows.ReasonPurge:
		a.recorder().Repaired(tableName(in.Table), in.Window, res.Rows, in.Reason)
		a.logger().WarnContext(ctx, "window repaired", "table", tableName(in.Table), "window", in.Window.String(), "rows", res.Rows, "found_by", in.Reason)
	default:
		a.logger().InfoContext(ctx, "window exported", "table", tableName(in.Table), "window", in.Window.String(), "rows", res.Rows, "bytes", res.Bytes,
			"files", len(res.Files), "attempt", activity.GetInfo(ctx).Attempt)
	}
	return res, nil
}

func tableName(t string) string {
	if t == "" {
		return workflows.DefaultTable
	}
	return t
}

func isPermanent(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.NonRetryable()
}

// logIfFinal logs an activity error at ERROR when it is final (non-retryable, or the attempts
// of a long outage pile up), so that a failure never hides at INFO in the SDK's retry log.
func (a *Activities) logIfFinal(ctx context.Context, err error, msg string, args ...any) {
	info := activity.GetInfo(ctx)
	args = append(args, "error", err, "attempt", info.Attempt, "workflow_id", info.WorkflowExecution.ID)
	switch {
	case isPermanent(err):
		a.logger().ErrorContext(ctx, msg+" for good; fix the cause, then retry the run (e.g. from the Temporal UI)", args...)
	case info.Attempt >= 5:
		a.logger().ErrorContext(ctx, msg+"; still retrying", args...)
	default:
		a.logger().WarnContext(ctx, msg+"; retrying", args...)
	}
}

// CompactWeek writes one ISO week's compacted file, or returns the windows to repair first.
func (a *Activities) CompactWeek(ctx context.Context, in workflows.CompactWeekInput) (workflows.CompactResult, error) {
	t, err := a.table(in.Table)
	if err != nil {
		return workflows.CompactResult{}, err
	}
	hb := startHeartbeat(ctx)
	start := time.Now()
	res, err := t.CompactWeek(ctx, in.Week, in.UpTo)
	hb.Stop()
	if err != nil {
		err = classify(t, fmt.Sprintf("compact week %s of %s", in.Week, tableName(in.Table)), err)
		a.recorder().ExportFailed(tableName(in.Table), partition.Weekly, isPermanent(err))
		a.logIfFinal(ctx, err, "compaction failed", "table", tableName(in.Table), "week", in.Week.String())
		return workflows.CompactResult{}, err
	}
	if !res.Compacted {
		a.logger().WarnContext(ctx, "week has windows to repair before its compaction", "table", tableName(in.Table), "week", in.Week.String(), "windows", res.RepairCount)
		return res, nil
	}
	a.recorder().Exported(tableName(in.Table), partition.Weekly, partition.Window{End: in.UpTo}, res.Rows, res.Bytes, time.Since(start))
	a.logger().InfoContext(ctx, "week compacted", "table", tableName(in.Table), "week", in.Week.String(), "up_to", in.UpTo, "rows", res.Rows, "bytes", res.Bytes)
	return res, nil
}

// ClosedWeek says which week a compaction schedule's run stands for, in the table's zone.
func (a *Activities) ClosedWeek(_ context.Context, in workflows.ClosedWeekInput) (workflows.ClosedWeek, error) {
	t, err := a.table(in.Table)
	if err != nil {
		return workflows.ClosedWeek{}, err
	}
	wk, err := t.ClosedWeek(in)
	if err != nil {
		return wk, classify(t, "find the closed week of "+tableName(in.Table), err)
	}
	return wk, nil
}

// Verify re-counts a range and lists the windows whose files differ from MySQL.
func (a *Activities) Verify(ctx context.Context, in workflows.VerifyInput) (workflows.VerifyResult, error) {
	t, err := a.table(in.Table)
	if err != nil {
		return workflows.VerifyResult{}, err
	}
	hb := startHeartbeat(ctx)
	res, err := t.Verify(ctx, in)
	hb.Stop()
	if err != nil {
		err = classify(t, fmt.Sprintf("verify %s %s..%s", tableName(in.Table), in.From.Format(time.RFC3339), in.To.Format(time.RFC3339)), err)
		a.logIfFinal(ctx, err, "verify failed", "table", tableName(in.Table))
		return workflows.VerifyResult{}, err
	}
	a.recorder().Verified(tableName(in.Table), res.Windows, res.ProblemCount)
	if res.ProblemCount > 0 || len(res.Strays) > 0 {
		a.logger().WarnContext(ctx, "verify found problems", "table", tableName(in.Table), "from", res.From, "to", res.To, "windows", res.Windows,
			"problems", res.ProblemCount, "strays", len(res.Strays))
	}
	return res, nil
}

// PlanBackfill returns the next page of a backfill.
func (a *Activities) PlanBackfill(ctx context.Context, in workflows.PlanInput) (workflows.PlanResult, error) {
	t, err := a.table(in.Table)
	if err != nil {
		return workflows.PlanResult{}, err
	}
	res, err := t.Plan(ctx, in)
	if err != nil {
		return res, classify(t, "plan "+tableName(in.Table), err)
	}
	return res, nil
}

// PlanPurge returns the next page of windows with rows older than a purge's cutoff.
func (a *Activities) PlanPurge(ctx context.Context, in workflows.PlanInput) (workflows.PlanResult, error) {
	in.Granularity = partition.Daily
	return a.PlanBackfill(ctx, in)
}

// CoverRange records a range as exported.
func (a *Activities) CoverRange(ctx context.Context, in workflows.CoverInput) error {
	t, err := a.table(in.Table)
	if err != nil {
		return err
	}
	if err := t.Cover(ctx, in); err != nil {
		return classify(t, "record the coverage of "+tableName(in.Table), err)
	}
	return nil
}

// PurgeProgress is the purge's heartbeat detail.
type PurgeProgress struct {
	Window  string `json:"window"`
	Deleted int64  `json:"deleted"`
	Of      int64  `json:"of"`
}

// PurgeWindow purges one window, heartbeating after every chunk.
func (a *Activities) PurgeWindow(ctx context.Context, in workflows.PurgeWindowInput) (workflows.PurgeResult, error) {
	t, err := a.table(in.Table)
	if err != nil {
		return workflows.PurgeResult{}, err
	}
	hb := startHeartbeat(ctx)
	res, err := t.PurgeWindow(ctx, in.Window, in.DryRun, func(deleted, of int64) {
		hb.report(ctx, PurgeProgress{Window: in.Window.String(), Deleted: deleted, Of: of})
	})
	hb.Stop()
	if err != nil {
		err = classify(t, fmt.Sprintf("purge window %s of %s", in.Window, tableName(in.Table)), err)
		a.logIfFinal(ctx, err, "purge failed", "table", tableName(in.Table), "window", in.Window.String())
		return res, err
	}
	a.recorder().Purged(tableName(in.Table), res.Verdict, res.Reason, res.Deleted)
	if res.Verdict == "refused" {
		a.logger().ErrorContext(ctx, "window refused by the purge: kept in MySQL", "table", tableName(in.Table), "window", in.Window.String(),
			"reason", res.Reason, "fix", "run `logetl verify --repair` over the window, then the next purge deletes it")
	}
	return res, nil
}

// RemoveDailyFiles runs a page of a table's S3 lifecycle, heartbeating after every removal.
func (a *Activities) RemoveDailyFiles(ctx context.Context, in workflows.RemoveDailiesInput) (workflows.RemoveDailiesResult, error) {
	t, err := a.table(in.Table)
	if err != nil {
		return workflows.RemoveDailiesResult{}, err
	}
	hb := startHeartbeat(ctx)
	res, err := t.RemoveDailyFiles(ctx, in.Nominal, in.DryRun, func(removed int) { hb.report(ctx, map[string]int{"removed": removed}) })
	hb.Stop()
	if err != nil {
		err = classify(t, "remove the daily files of compacted weeks of "+tableName(in.Table), err)
		a.logIfFinal(ctx, err, "lifecycle failed", "table", tableName(in.Table))
		return res, err
	}
	if !res.Off && !in.DryRun {
		a.recorder().DailyFilesRemoved(tableName(in.Table), res.Removed, res.Bytes, len(res.Skipped))
	}
	return res, nil
}

// AwaitWorkflow waits until the current run of a workflow (a window another run is exporting)
// completes, heartbeating meanwhile. A run that failed fails this activity for good: waiting
// again cannot change its outcome.
func (a *Activities) AwaitWorkflow(ctx context.Context, in workflows.AwaitWorkflowInput) error {
	if a.Workflows == nil {
		return notConfigured("temporal client")
	}
	hb := startHeartbeat(ctx)
	defer hb.Stop()
	err := a.Workflows.GetWorkflow(ctx, in.WorkflowID, "").Get(ctx, nil)
	var notFound *serviceerror.NotFound
	switch {
	case err == nil:
		return nil
	case errors.As(err, &notFound):
		// Closed and already gone from retention: it ran long ago.
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("await %s: %w", in.WorkflowID, err)
	default:
		var appErr *temporal.ApplicationError
		var wfErr *temporal.WorkflowExecutionError
		if errors.As(err, &wfErr) || errors.As(err, &appErr) {
			return temporal.NewNonRetryableApplicationError(fmt.Sprintf("await %s: %v", in.WorkflowID, err), "AwaitedRunFailed", err)
		}
		return fmt.Errorf("await %s: %w", in.WorkflowID, err)
	}
}

func (a *Activities) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// botError makes an API answer that retrying cannot change (4xx other than 408/429)
// non-retryable.
func botError(err error) error {
	switch s := botclient.StatusOf(err); {
	case s >= 400 && s < 500 && s != http.StatusRequestTimeout && s != http.StatusTooManyRequests:
		return temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrTypeBadInput, err)
	default:
		return err
	}
}

// SignupBot creates the next bot account through the API. The result names the bot by number:
// its email stays here, out of Temporal history.
func (a *Activities) SignupBot(ctx context.Context) (workflows.SignupBotResult, error) {
	if a.Bots == nil {
		return workflows.SignupBotResult{}, notConfigured("bot API client")
	}
	bot, err := a.Bots.SignupBot(ctx, a.now())
	if err != nil {
		a.recorder().BotActions("signup", "failed", 0)
		return workflows.SignupBotResult{}, botError(err)
	}
	a.recorder().BotActions("signup", "ok", 1)
	return workflows.SignupBotResult{Bot: bot}, nil
}

// BotSession runs one bot's login, create, update, view and delete. Its tokens and the bot's
// email stay inside the call; the result carries the bot's number and counts only.
func (a *Activities) BotSession(ctx context.Context) (workflows.BotSessionResult, error) {
	if a.Bots == nil {
		return workflows.BotSessionResult{}, notConfigured("bot API client")
	}
	rnd := rand.New(rand.NewPCG(rand.Uint64(), uint64(a.now().UnixNano())))
	s, err := a.Bots.RunSession(ctx, rnd)
	res := workflows.BotSessionResult{Bot: s.Bot, Skipped: s.Skipped, Actions: s.Actions}
	switch {
	case err != nil:
		a.recorder().BotActions("session", "failed", s.Actions)
		return res, botError(err)
	case s.Skipped:
		a.recorder().BotActions("session", "skipped", 0)
	default:
		a.recorder().BotActions("session", "ok", s.Actions)
	}
	return res, nil
}
