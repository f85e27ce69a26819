package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestStatusPrintsLagVerifyFailuresAndSchedulesPerTable checks what an operator reads: the lag
// and where it came from, the threshold it crossed, paused or missing schedules, and each
// failing window with its UI link; lagging names exactly the tables over the threshold.
func TestStatusPrintsLagVerifyFailuresAndSchedulesPerTable(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { v := now.Add(-d); return &v }
	secs := func(d time.Duration) *float64 { v := d.Seconds(); return &v }
	tests := []struct {
		name        string
		st          TableStatus
		want        []string
		wantLagging bool
	}{
		{"healthy, from the lake",
			TableStatus{Table: "activity_log", LastWindowEnd: at(20 * time.Minute), LagSeconds: secs(20 * time.Minute), LagSource: "lake",
				LastVerify: &RunStatus{StartedAt: now.Add(-time.Hour), Status: "completed", Detail: "96 windows match"},
				Schedules:  []ScheduleInfo{{ID: "logetl-export-activity_log"}, {ID: "logetl-verify-activity_log", Paused: true}},
				OldestRow:  at(48 * time.Hour), Retention: "30d"},
			[]string{"20m0s", "completed 96 windows match", "export active", "verify PAUSED", "(48h0m0s ago), retention 30d"}, false},
		{"S3 down: lag from Temporal, over the threshold, failing windows with links",
			TableStatus{Table: "audit", LastWindowEnd: at(3 * time.Hour), LagSeconds: secs(3 * time.Hour), LagSource: "temporal", LagExceeded: true,
				Failing:   []RunStatus{{WorkflowID: "export-audit-2026-12-02T08:45", Status: "running", Attempt: 4, Detail: "s3: connection refused", UIURL: "http://ui/namespaces/default/workflows/export-audit-2026-12-02T08:45"}},
				Schedules: []ScheduleInfo{{ID: "logetl-compact-audit", Note: "missing: run logetl schedules"}}},
			[]string{"(from Temporal: the lake is unreadable)", "3h0m0s (over 45m0s)", "compact MISSING",
				"audit running export-audit-2026-12-02T08:45: attempt 4: s3: connection refused", "  http://ui/namespaces/default/workflows/export-audit-2026-12-02T08:45"}, true},
		{"never exported: lag unknown counts as exceeded",
			TableStatus{Table: "fresh", LagExceeded: true, Errors: []string{"the lake: access denied"}},
			[]string{"none", "unknown (over 45m0s)", "fresh: could not read the lake: access denied"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &statusCmd{MaxLag: 45 * time.Minute}
			var out bytes.Buffer
			c.print(&out, []TableStatus{tt.st}, now)
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if got := len(lagging([]TableStatus{tt.st})) == 1; got != tt.wantLagging {
				t.Errorf("lagging = %v, want %v", got, tt.wantLagging)
			}
		})
	}
}
