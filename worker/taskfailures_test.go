package worker

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

func TestTaskFailuresLogsRejectedAndFailedTasksAtErrorWithTheWorkflowID(t *testing.T) {
	poll := func(token, id string) *workflowservice.PollWorkflowTaskQueueResponse {
		return &workflowservice.PollWorkflowTaskQueueResponse{TaskToken: []byte(token), Attempt: 3,
			WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: "run-" + id},
			WorkflowType:      &commonpb.WorkflowType{Name: "ExportWindow"}}
	}
	tests := []struct {
		name    string
		req     any
		err     error
		want    []string // substrings of the one ERROR line; none: no line
		pollTok string
	}{
		{name: "a completion Temporal rejects", pollTok: "t1",
			req:  &workflowservice.RespondWorkflowTaskCompletedRequest{TaskToken: []byte("t1")},
			err:  errors.New("BadSearchAttributes: Namespace default has no mapping defined for search attribute LogetlTable"),
			want: []string{"level=ERROR", "workflow_id=wf-t1", "run_id=run-wf-t1", "workflow_type=ExportWindow", "task_attempt=3", "LogetlTable", "logetl doctor"}},
		{name: "a completion Temporal accepts", pollTok: "t2",
			req: &workflowservice.RespondWorkflowTaskCompletedRequest{TaskToken: []byte("t2")}},
		{name: "a task the SDK fails (non-determinism)", pollTok: "t3",
			req: &workflowservice.RespondWorkflowTaskFailedRequest{TaskToken: []byte("t3"),
				Cause:   enumspb.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR,
				Failure: &failurepb.Failure{Message: "nondeterministic workflow\nstack..."}},
			want: []string{"level=ERROR", "workflow_id=wf-t3", "NonDeterministicError", `error="nondeterministic workflow"`}},
		{name: "a token polled before this process started",
			req:  &workflowservice.RespondWorkflowTaskCompletedRequest{TaskToken: []byte("unknown")},
			err:  errors.New("request too large: exceeds size limit"),
			want: []string{"level=ERROR", "workflow_id=\"unknown", "size limit", "page size"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			f := NewTaskFailures(slog.New(slog.NewTextHandler(&logs, nil)))
			icpt := f.Interceptor()
			if tt.pollTok != "" {
				want := poll(tt.pollTok, "wf-"+tt.pollTok)
				invoke := func(_ context.Context, _ string, _, reply any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
					proto.Merge(reply.(proto.Message), want)
					return nil
				}
				if err := icpt(context.Background(), "Poll", &workflowservice.PollWorkflowTaskQueueRequest{}, &workflowservice.PollWorkflowTaskQueueResponse{}, nil, invoke); err != nil {
					t.Fatal(err)
				}
			}
			invoke := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return tt.err }
			if err := icpt(context.Background(), "Respond", tt.req, nil, nil, invoke); !errors.Is(err, tt.err) {
				t.Fatalf("the interceptor changed the call's error: %v", err)
			}
			got := strings.TrimSpace(logs.String())
			if len(tt.want) == 0 {
				if got != "" {
					t.Fatalf("logged %q for a healthy task", got)
				}
				return
			}
			if strings.Count(got, "\n") != 0 {
				t.Fatalf("want one line, got %q", got)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("log line lacks %q: %s", w, got)
				}
			}
			if len(f.tasks) != 0 {
				t.Errorf("answered tokens still tracked: %v", f.tasks)
			}
		})
	}
}
