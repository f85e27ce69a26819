// Package activities holds logetl's Temporal activities: the I/O steps that the workflows call
// by the names declared in package workflows. Export steps delegate to the export library
// through the small Exporter interface; bot steps make real HTTP calls to the API.
package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/logetl/logetl/internal/botclient"
	"github.com/logetl/logetl/workflows"
)

// Exporter is what the export activities need from the export library.
type Exporter interface {
	// ExportWindow writes the daily file(s) of w, calling progress with the running totals.
	ExportWindow(ctx context.Context, w workflows.Window, progress func(rows, bytes int64)) (workflows.ExportResult, error)
	// CompactWeek writes the weekly file of the ISO week starting at week, from rows before upTo.
	CompactWeek(ctx context.Context, week, upTo time.Time) (workflows.ExportResult, error)
	// Verify compares MySQL with the S3 manifests over [from, to), window by window.
	Verify(ctx context.Context, from, to time.Time) (workflows.VerifyResult, error)
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
	Exported(granularity string, w workflows.Window, rows, bytes int64)
	Verified(windows, mismatched int)
	BotActions(kind string, outcome string, actions int)
}

// Activities carries the dependencies of every activity. A nil Exporter or Bots makes the
// matching activities fail with a non-retryable configuration error.
type Activities struct {
	Exporter  Exporter
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
	r.RegisterActivityWithOptions(a.ExportWindow, activity.RegisterOptions{Name: workflows.ActivityExportWindow})
	r.RegisterActivityWithOptions(a.CompactWeek, activity.RegisterOptions{Name: workflows.ActivityCompactWeek})
	r.RegisterActivityWithOptions(a.Verify, activity.RegisterOptions{Name: workflows.ActivityVerify})
	r.RegisterActivityWithOptions(a.AwaitWorkflow, activity.RegisterOptions{Name: workflows.ActivityAwaitWorkflow})
	r.RegisterActivityWithOptions(a.SignupBot, activity.RegisterOptions{Name: workflows.ActivitySignupBot})
	r.RegisterActivityWithOptions(a.BotSession, activity.RegisterOptions{Name: workflows.ActivityBotSession})
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

func (noMetrics) Exported(string, workflows.Window, int64, int64) {}
func (noMetrics) Verified(int, int)                               {}
func (noMetrics) BotActions(string, string, int)                  {}

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
	last Progress
	stop chan struct{}
	done chan struct{}
}

func startHeartbeat(ctx context.Context) *heartbeater {
	h := &heartbeater{stop: make(chan struct{}), done: make(chan struct{})}
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

func (h *heartbeater) progress(ctx context.Context) func(rows, bytes int64) {
	return func(rows, bytes int64) {
		h.mu.Lock()
		h.last = Progress{Rows: rows, Bytes: bytes}
		p := h.last
		h.mu.Unlock()
		activity.RecordHeartbeat(ctx, p)
	}
}

func (h *heartbeater) Stop() {
	close(h.stop)
	<-h.done
}

// classify turns an export error into the error the activity returns: a non-retryable
// ApplicationError for what retrying cannot fix, the error itself otherwise.
func (a *Activities) classify(what string, err error) error {
	if typ := a.Exporter.Permanent(err); typ != "" {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %v", what, err), typ, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func notConfigured(what string) error {
	return temporal.NewNonRetryableApplicationError(what+" is not configured on this worker", workflows.ErrTypeConfig, nil)
}

// ExportWindow exports one daily window, heartbeating its progress.
func (a *Activities) ExportWindow(ctx context.Context, in workflows.ExportWindowInput) (workflows.ExportResult, error) {
	if a.Exporter == nil {
		return workflows.ExportResult{}, notConfigured("export")
	}
	if err := in.Window.Validate(); err != nil {
		return workflows.ExportResult{}, temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrTypeBadInput, nil)
	}
	hb := startHeartbeat(ctx)
	res, err := a.Exporter.ExportWindow(ctx, in.Window, hb.progress(ctx))
	hb.Stop()
	if err != nil {
		return workflows.ExportResult{}, a.classify("export window "+in.Window.String(), err)
	}
	a.recorder().Exported(workflows.GranularityDaily, in.Window, res.Rows, res.Bytes)
	a.logger().InfoContext(ctx, "window exported", "window", in.Window.String(), "rows", res.Rows, "bytes", res.Bytes, "files", len(res.Files),
		"attempt", activity.GetInfo(ctx).Attempt)
	return res, nil
}

// CompactWeek writes one ISO week's compacted file.
func (a *Activities) CompactWeek(ctx context.Context, in workflows.CompactWeekInput) (workflows.ExportResult, error) {
	if a.Exporter == nil {
		return workflows.ExportResult{}, notConfigured("export")
	}
	hb := startHeartbeat(ctx)
	res, err := a.Exporter.CompactWeek(ctx, in.Week, in.UpTo)
	hb.Stop()
	if err != nil {
		return workflows.ExportResult{}, a.classify("compact week "+workflows.WeekLabel(in.Week), err)
	}
	a.recorder().Exported(workflows.GranularityWeekly, workflows.Window{Start: in.Week, End: in.UpTo}, res.Rows, res.Bytes)
	a.logger().InfoContext(ctx, "week compacted", "week", workflows.WeekLabel(in.Week), "up_to", in.UpTo, "rows", res.Rows, "bytes", res.Bytes)
	return res, nil
}

// Verify re-counts a range and lists the windows whose files differ from MySQL.
func (a *Activities) Verify(ctx context.Context, in workflows.VerifyInput) (workflows.VerifyResult, error) {
	if a.Exporter == nil {
		return workflows.VerifyResult{}, notConfigured("export")
	}
	hb := startHeartbeat(ctx)
	res, err := a.Exporter.Verify(ctx, in.From, in.To)
	hb.Stop()
	if err != nil {
		return workflows.VerifyResult{}, a.classify(fmt.Sprintf("verify %s..%s", in.From.Format(time.RFC3339), in.To.Format(time.RFC3339)), err)
	}
	a.recorder().Verified(res.Windows, len(res.Mismatched))
	if len(res.Mismatched) > 0 {
		a.logger().WarnContext(ctx, "verify found mismatched windows", "windows", res.Windows, "mismatched", len(res.Mismatched))
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
