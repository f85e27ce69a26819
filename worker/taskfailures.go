package worker

import (
	"context"
	"log/slog"
	"strings"
	"sync"

	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"
)

// The SDK reports a workflow task that Temporal rejects (a search attribute the namespace lacks,
// a payload over the server's limit) at INFO or WARN and retries it forever, so the workflow
// hangs with no ERROR anywhere. TaskFailures watches the worker's own gRPC calls instead: a
// failed RespondWorkflowTaskCompleted, or a RespondWorkflowTaskFailed the SDK sends for a
// panic or a non-determinism, is logged at ERROR with the workflow's id, type and attempt and
// what to do. Workflow ids are learnt from the poll responses, since a task token is opaque.
type TaskFailures struct {
	log *slog.Logger

	mu    sync.Mutex
	tasks map[string]taskInfo // task token → the task's workflow
}

type taskInfo struct {
	workflowID, runID, workflowType string
	attempt                         int32
}

// maxTrackedTasks bounds the token map: a worker holds at most MaxConcurrentWorkflows tasks at
// once, and a token whose answer was never seen (a dropped connection) must not grow it forever.
const maxTrackedTasks = 4096

// NewTaskFailures logs to log.
func NewTaskFailures(log *slog.Logger) *TaskFailures {
	return &TaskFailures{log: log, tasks: map[string]taskInfo{}}
}

// Interceptor is the gRPC client interceptor that does the watching; install it on the
// worker's Temporal client.
func (f *TaskFailures) Interceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := invoker(ctx, method, req, reply, cc, opts...)
		switch r := req.(type) {
		case *workflowservice.PollWorkflowTaskQueueRequest:
			if resp, ok := reply.(*workflowservice.PollWorkflowTaskQueueResponse); ok && err == nil && len(resp.GetTaskToken()) > 0 {
				f.remember(resp)
			}
		case *workflowservice.RespondWorkflowTaskCompletedRequest:
			t := f.forget(r.GetTaskToken())
			if err != nil {
				f.log.ErrorContext(ctx, "workflow task rejected by Temporal: the workflow makes no progress until this is fixed",
					append(t.attrs(), "error", err.Error(), "fix", fixFor(err.Error()))...)
			}
		case *workflowservice.RespondWorkflowTaskFailedRequest:
			t := f.forget(r.GetTaskToken())
			f.log.ErrorContext(ctx, "workflow task failed in this worker: Temporal retries it, and it fails again until the code or its input changes",
				append(t.attrs(), "cause", r.GetCause().String(), "error", firstLine(r.GetFailure().GetMessage()),
					"fix", "read the workflow's history in the Temporal UI; a non-determinism means a worker runs code that differs from the one that started the run")...)
		}
		return err
	}
}

func (f *TaskFailures) remember(resp *workflowservice.PollWorkflowTaskQueueResponse) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.tasks) >= maxTrackedTasks {
		clear(f.tasks)
	}
	f.tasks[string(resp.GetTaskToken())] = taskInfo{
		workflowID:   resp.GetWorkflowExecution().GetWorkflowId(),
		runID:        resp.GetWorkflowExecution().GetRunId(),
		workflowType: resp.GetWorkflowType().GetName(),
		attempt:      resp.GetAttempt(),
	}
}

func (f *TaskFailures) forget(token []byte) taskInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tasks[string(token)]
	if !ok {
		return taskInfo{workflowID: "unknown (task polled before this process tracked it)"}
	}
	delete(f.tasks, string(token))
	return t
}

func (t taskInfo) attrs() []any {
	return []any{"workflow_id", t.workflowID, "run_id", t.runID, "workflow_type", t.workflowType, "task_attempt", t.attempt}
}

// fixFor names the remedy of the rejections an operator meets.
func fixFor(msg string) string {
	switch l := strings.ToLower(msg); {
	case strings.Contains(l, "search attribute"):
		return "register logetl's search attributes: logetl doctor names them and the temporal operator search-attribute create command"
	case strings.Contains(l, "size limit") || strings.Contains(l, "exceeds"):
		return "a payload exceeds the server's limit: lower the page size of the workflow (see docs/orchestration.md)"
	default:
		return "read the error and the workflow's history in the Temporal UI"
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
