//go:build faults

package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// statusMaxLag is the health threshold `logetl status` is asked about: three windows past the
// stack's normal lag (the window, the safety lag, a short export).
const statusMaxLag = 3*window + 90*time.Second

// tableStatus is the part of `logetl status --json` these checks read.
type tableStatus struct {
	Table       string   `json:"table"`
	LagSeconds  *float64 `json:"lag_seconds"`
	LagExceeded bool     `json:"lag_exceeded"`
	LagSource   string   `json:"lag_source"`
	Failing     []struct {
		WorkflowID string `json:"workflow_id"`
		Status     string `json:"status"`
		Detail     string `json:"detail"`
		UIURL      string `json:"ui_url"`
	} `json:"failing"`
	Errors []string `json:"errors"`
}

// status runs `logetl status --json --max-lag statusMaxLag` and returns the table's row and
// whether the command exited non-zero.
func (st *stack) status(ctx context.Context, t *testing.T) (tableStatus, bool) {
	t.Helper()
	out, err := st.cli(ctx, "status", "--json", "--max-lag", statusMaxLag.String())
	// The JSON is the first line that opens an array; log lines may come before it.
	i := strings.Index(out, "[\n")
	if i < 0 {
		t.Fatalf("logetl status printed no JSON (%v):\n%s", err, out)
	}
	var all []tableStatus
	if jerr := json.NewDecoder(strings.NewReader(out[i:])).Decode(&all); jerr != nil {
		t.Fatalf("logetl status JSON: %v\n%s", jerr, out)
	}
	for _, s := range all {
		if s.Table == table {
			return s, err != nil
		}
	}
	t.Fatalf("logetl status lists no %s:\n%s", table, out)
	return tableStatus{}, false
}

// checkStatusHealthy: with S3 up, the lag is read from the lake, under the threshold, and the
// command exits 0.
func (st *stack) checkStatusHealthy(ctx context.Context, t *testing.T) float64 {
	t.Helper()
	s, failed := st.status(ctx, t)
	if failed || s.LagSeconds == nil || s.LagExceeded || s.LagSource != "lake" {
		t.Fatalf("logetl status with S3 up: exit non-zero %v, %+v", failed, s)
	}
	return *s.LagSeconds
}

// checkStatusDuringOutage polls `logetl status` while S3 is down: the lag (now read from
// Temporal, since the lake is unreadable) grows, the windows retrying are listed with their
// Temporal UI links, and the exit status flips once the lag passes the threshold.
func (st *stack) checkStatusDuringOutage(ctx context.Context, t *testing.T, before float64) string {
	t.Helper()
	deadline := time.Now().Add(statusMaxLag + 4*time.Minute)
	var lags []string
	last := before
	for {
		s, failed := st.status(ctx, t)
		if s.LagSeconds != nil {
			if *s.LagSeconds+1 < last {
				t.Fatalf("the lag went down from %.0fs to %.0fs while S3 is down: %+v", last, *s.LagSeconds, s)
			}
			last = *s.LagSeconds
			lags = append(lags, fmt.Sprintf("%.0fs", last))
		}
		links := 0
		for _, f := range s.Failing {
			if strings.Contains(f.UIURL, "/namespaces/default/workflows/"+url.PathEscape("export/"+table+"/daily/")) {
				links++
			}
		}
		if failed != s.LagExceeded {
			t.Fatalf("exit non-zero %v but lag_exceeded %v: %+v", failed, s.LagExceeded, s)
		}
		if failed && links > 0 && s.LagSource == "temporal" {
			// Compared in float seconds: a lag of 270.4 s truncated to 270 s is not under 4m30s.
			if last <= statusMaxLag.Seconds() {
				t.Fatalf("status exits non-zero at a lag of %.3fs, not over --max-lag %s", last, statusMaxLag)
			}
			return fmt.Sprintf("lag %s (from Temporal: the lake is unreadable), exit 1 over %s, %d retrying windows listed with UI links, e.g. %s (%s)",
				strings.Join(lags, " → "), statusMaxLag, links, s.Failing[0].WorkflowID, s.Failing[0].Detail)
		}
		if time.Now().After(deadline) {
			t.Fatalf("logetl status during the outage: lags %v, last %+v", lags, s)
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(15 * time.Second):
		}
	}
}
