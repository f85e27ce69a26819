package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/logetl/logetl/internal/export"
	"github.com/logetl/logetl/internal/lake"
	"github.com/logetl/logetl/internal/logtable"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/internal/s3store"
	"github.com/logetl/logetl/internal/tablespec"
	"github.com/logetl/logetl/workflows"
)

const window = time.Minute

func activityEnv() *testsuite.TestActivityEnvironment {
	var s testsuite.WorkflowTestSuite
	return s.NewTestActivityEnvironment()
}

func appType(err error) (string, bool) {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Type(), appErr.NonRetryable()
	}
	return "", false
}

// fakeTable is a Table whose export reports progress and returns what the test says.
type fakeTable struct {
	err      error
	progress []int64
}

func (f *fakeTable) ExportWindow(_ context.Context, _ partition.Window, progress func(rows, bytes int64)) (workflows.ExportResult, error) {
	for _, r := range f.progress {
		progress(r, r*10)
	}
	if f.err != nil {
		return workflows.ExportResult{}, f.err
	}
	return workflows.ExportResult{Rows: 7, Bytes: 70}, nil
}
func (f *fakeTable) CompactWeek(context.Context, partition.Week, time.Time) (workflows.CompactResult, error) {
	return workflows.CompactResult{}, f.err
}
func (f *fakeTable) ClosedWeek(workflows.ClosedWeekInput) (workflows.ClosedWeek, error) {
	return workflows.ClosedWeek{}, nil
}
func (f *fakeTable) Verify(context.Context, workflows.VerifyInput) (workflows.VerifyResult, error) {
	return workflows.VerifyResult{}, f.err
}
func (f *fakeTable) Plan(context.Context, workflows.PlanInput) (workflows.PlanResult, error) {
	return workflows.PlanResult{}, f.err
}
func (f *fakeTable) Cover(context.Context, workflows.CoverInput) error { return f.err }
func (f *fakeTable) PurgeWindow(context.Context, partition.Window, bool, func(int64, int64)) (workflows.PurgeResult, error) {
	return workflows.PurgeResult{}, f.err
}
func (f *fakeTable) RemoveDailyFiles(context.Context, time.Time, bool, func(int)) (workflows.RemoveDailiesResult, error) {
	return workflows.RemoveDailiesResult{}, f.err
}
func (f *fakeTable) Permanent(err error) string { return Library{}.Permanent(err) }

// recorder records the metrics calls.
type recorder struct {
	noMetrics
	mu       sync.Mutex
	repaired []string
	failed   []bool
}

func (r *recorder) Repaired(table string, w partition.Window, rows int64, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.repaired = append(r.repaired, fmt.Sprintf("%s %s %d %s", table, w, rows, reason))
}

func (r *recorder) ExportFailed(_ string, _ partition.Granularity, permanent bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = append(r.failed, permanent)
}

func testWindow() partition.Window {
	s := time.Date(2026, 10, 5, 12, 0, 0, 0, time.UTC)
	return partition.Window{Start: s, End: s.Add(window)}
}

func TestExportWindowHeartbeatsItsProgressAndCountsRepairs(t *testing.T) {
	env := activityEnv()
	var mu sync.Mutex
	var beats []Progress
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, details converter.EncodedValues) {
		var p Progress
		if err := details.Get(&p); err == nil {
			mu.Lock()
			beats = append(beats, p)
			mu.Unlock()
		}
	})
	rec := &recorder{}
	a := &Activities{Tables: map[string]Table{"audit": &fakeTable{progress: []int64{7}}}, Metrics: rec}
	env.RegisterActivity(a.ExportWindow)
	w := testWindow()
	v, err := env.ExecuteActivity(a.ExportWindow, workflows.ExportWindowInput{Table: "audit", Window: w, Reason: workflows.ReasonCompaction})
	if err != nil {
		t.Fatal(err)
	}
	var res workflows.ExportResult
	if err := v.Get(&res); err != nil || res.Rows != 7 {
		t.Fatalf("result %+v %v", res, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(beats) == 0 || beats[len(beats)-1].Rows != 7 || beats[len(beats)-1].Bytes != 70 {
		t.Fatalf("heartbeats %+v, want the last to report 7 rows", beats)
	}
	if len(rec.repaired) != 1 || rec.repaired[0] != "audit "+w.String()+" 7 compaction" {
		t.Fatalf("repairs recorded %v", rec.repaired)
	}
}

func TestActivitiesClassifyFailures(t *testing.T) {
	tests := []struct {
		name          string
		table         string
		err           error
		wantType      string
		wantRetryable bool
	}{
		{"a table this worker does not have", "other", nil, workflows.ErrTypeConfig, false},
		{"a missing key", "audit", fmt.Errorf("load: %w", protect.ErrKeyring), workflows.ErrTypeKey, false},
		{"a table changed under its spec", "audit", fmt.Errorf("open: %w", logtable.ErrSchema), workflows.ErrTypeConfig, false},
		{"a lake of another layout", "audit", fmt.Errorf("write: %w", lake.ErrLayout), workflows.ErrTypeConfig, false},
		{"a range over the limit", "audit", fmt.Errorf("plan: %w", export.ErrRange), workflows.ErrTypeBadInput, false},
		{"S3 down", "audit", fmt.Errorf("upload: %w", &s3store.Error{Op: "put", Err: errors.New("connection refused")}), "", true},
		{"a replaced object", "audit", fmt.Errorf("read: %w", s3store.ErrChanged), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := activityEnv()
			rec := &recorder{}
			a := &Activities{Tables: map[string]Table{"audit": &fakeTable{err: tt.err}}, Metrics: rec}
			env.RegisterActivity(a.ExportWindow)
			_, err := env.ExecuteActivity(a.ExportWindow, workflows.ExportWindowInput{Table: tt.table, Window: testWindow()})
			if err == nil {
				t.Fatal("activity succeeded")
			}
			typ, nonRetryable := appType(err)
			if tt.wantRetryable {
				if nonRetryable {
					t.Fatalf("error %v is non-retryable; want retryable", err)
				}
				if len(rec.failed) != 1 || rec.failed[0] {
					t.Fatalf("failures recorded %v, want one retryable", rec.failed)
				}
				return
			}
			if typ != tt.wantType || !nonRetryable {
				t.Fatalf("error %v: type %q non-retryable %v, want %s non-retryable", err, typ, nonRetryable, tt.wantType)
			}
		})
	}
}

func TestClosedWeekIsTheWeekThatJustClosedInTheTablesZone(t *testing.T) {
	seoul, _ := time.LoadLocation("Asia/Seoul")
	tests := []struct {
		name     string
		zone     *time.Location
		nominal  string
		toDate   bool
		wantWeek string
		wantUpTo string
	}{
		{"monday run compacts the week that just closed", time.UTC, "2026-11-30T00:10:00Z", false, "2026-W48", "2026-11-30T00:00:00Z"},
		{"run inside the safety lag still sees the previous week as current", time.UTC, "2026-11-30T00:00:30Z", false, "2026-W47", "2026-11-23T00:00:00Z"},
		{"week in Seoul starts at Monday 00:00 KST", seoul, "2026-11-29T15:10:00Z", false, "2026-W48", "2026-11-29T15:00:00Z"},
		{"to-date compacts the current week up to the last closed window", time.UTC, "2026-11-26T12:34:30Z", true, "2026-W48", "2026-11-26T12:33:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			grid, _ := partition.NewGrid(time.Minute, tt.zone)
			nominal, _ := time.Parse(time.RFC3339, tt.nominal)
			got, err := ClosedWeekOf(grid, workflows.ClosedWeekInput{Nominal: nominal, SafetyLag: time.Minute, ToDate: tt.toDate})
			if err != nil || got.Week.String() != tt.wantWeek || got.UpTo.Format(time.RFC3339) != tt.wantUpTo {
				t.Fatalf("closed week %s up to %s (%v), want %s up to %s", got.Week, got.UpTo.Format(time.RFC3339), err, tt.wantWeek, tt.wantUpTo)
			}
		})
	}
}

func TestPermanentMapsErrorKinds(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("load: %w", protect.ErrKeyring), workflows.ErrTypeKey},
		{fmt.Errorf("window: %w", partition.ErrInvalid), workflows.ErrTypeBadInput},
		{fmt.Errorf("exporter: %w", export.ErrInvalidConfig), workflows.ErrTypeConfig},
		{fmt.Errorf("value: %w", tablespec.ErrValue), workflows.ErrTypeConfig},
		{errors.New("dial tcp 127.0.0.1:3306: connection refused"), ""},
		{fmt.Errorf("get: %w", s3store.ErrNotFound), ""},
	}
	for _, tt := range tests {
		if got := (Library{}).Permanent(tt.err); got != tt.want {
			t.Errorf("Permanent(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
	if !strings.Contains(fmt.Sprint(export.ErrRange), "range") {
		t.Fatal("ErrRange text")
	}
}
