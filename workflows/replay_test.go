package workflows

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// The histories in testdata were recorded from real runs on a Temporal dev server by the
// end-to-end test (LOGETL_RECORD_HISTORIES=1 go test ./e2e). Replaying them with the current
// code proves that a change keeps the workflows deterministic for runs already in flight.
func TestRecordedHistoriesReplay(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	// One history of each workflow a deployment runs, the compaction's with a repair (child
	// ExportWindow runs) and the backfill's with its lazy plan and coverage record.
	for _, name := range []string{"backfill", "bot_activity", "compact_week", "export_window", "purge", "scheduled_export", "signup_bots", "verify_repair"} {
		if !slices.Contains(files, filepath.Join("testdata", name+".json")) {
			t.Errorf("testdata lacks the recorded history %s.json (found %v)", name, files)
		}
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			Register(r)
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
				t.Fatalf("replay %s: %v", f, err)
			}
		})
	}
}

// changedExportWindow is ExportWindow as a careless edit might leave it: a timer before the
// activity. Replaying an old history with it must fail, or the replay test above proves nothing.
func changedExportWindow(ctx workflow.Context, in ExportWindowInput) (ExportResult, error) {
	if err := workflow.Sleep(ctx, time.Second); err != nil {
		return ExportResult{}, err
	}
	return ExportWindow(ctx, in)
}

func TestReplayDetectsANonDeterministicChange(t *testing.T) {
	path := filepath.Join("testdata", "export_window.json")
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(changedExportWindow, workflow.RegisterOptions{Name: WorkflowExportWindow})
	if err := r.ReplayWorkflowHistoryFromJSONFile(nil, path); err == nil {
		t.Fatal("replay of a changed workflow succeeded; want a nondeterminism error")
	}
}
