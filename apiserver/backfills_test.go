//go:build integration

package apiserver_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/logetl/logetl/apiserver"
)

// recordingStarter is a BackfillStarter that records its calls and answers what the test says:
// the real one (Temporal) belongs to the orchestration package and is tested there; here the
// API's side of the seam is under test.
type recordingStarter struct {
	mu    sync.Mutex
	calls []string
	err   error
}

func (s *recordingStarter) StartBackfill(_ context.Context, req apiserver.BackfillRequest) (apiserver.BackfillRun, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	call := fmt.Sprintf("%s %s %s", req.From.Format(time.RFC3339), req.To.Format(time.RFC3339), req.Granularity)
	if req.Table != "" {
		call = req.Table + " " + call
	}
	s.calls = append(s.calls, call)
	if s.err != nil {
		return apiserver.BackfillRun{}, s.err
	}
	return apiserver.BackfillRun{WorkflowID: "backfill/" + req.Granularity, RunID: "run-1", UIURL: "http://ui/run-1"}, nil
}

func TestBackfillsAreForAdminsAndValidatedBeforeStarting(t *testing.T) {
	starter := &recordingStarter{}
	c, _ := newServer(t, func(o *apiserver.Options) { o.Backfills = starter })
	admin := adminUser(t)
	u := newUser(t, api)
	body := map[string]string{"from": "2026-01-05T00:00:00Z", "to": "2026-01-12T00:00:00+00:00", "granularity": "weekly"}

	expectDetail(t, c.do(t, "POST", "/admin/backfills", body), http.StatusUnauthorized, "Authentication credentials were not provided.")
	expectDetail(t, c.do(t, "POST", "/admin/backfills", body, bearer(u.Access)), http.StatusForbidden, "You do not have permission to perform this action.")

	r := expect(t, c.do(t, "POST", "/admin/backfills", body, bearer(admin.Access)), http.StatusAccepted)
	var run apiserver.BackfillRun
	r.JSON(t, &run)
	if run != (apiserver.BackfillRun{WorkflowID: "backfill/weekly", RunID: "run-1", UIURL: "http://ui/run-1"}) {
		t.Fatalf("run %s", r.Body)
	}
	expect(t, c.do(t, "POST", "/admin/backfills/", map[string]string{"from": "2026-01-05T09:00:00+09:00", "to": "2026-01-06T00:00:00Z", "granularity": "daily"}, bearer(admin.Access)), http.StatusAccepted)
	expect(t, c.do(t, "POST", "/admin/backfills/", map[string]string{"table": "audit", "from": "2026-01-05T00:00:00Z", "to": "2026-01-06T00:00:00Z", "granularity": "daily"}, bearer(admin.Access)), http.StatusAccepted)

	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	for _, tc := range []struct {
		name   string
		body   any
		fields []string
	}{
		{"from after to", map[string]string{"from": "2026-01-12T00:00:00Z", "to": "2026-01-05T00:00:00Z", "granularity": "daily"}, []string{"non_field_errors"}},
		{"to in the future", map[string]string{"from": "2026-01-05T00:00:00Z", "to": future, "granularity": "daily"}, []string{"to"}},
		{"not RFC 3339", map[string]string{"from": "2026-01-05", "to": "2026-01-06T00:00:00Z", "granularity": "daily"}, []string{"from"}},
		{"unknown granularity", map[string]string{"from": "2026-01-05T00:00:00Z", "to": "2026-01-06T00:00:00Z", "granularity": "hourly"}, []string{"granularity"}},
		{"missing fields", `{}`, []string{"from", "to", "granularity"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectFieldErrors(t, c.do(t, "POST", "/admin/backfills", tc.body, bearer(admin.Access)), tc.fields...)
		})
	}
	want := []string{"2026-01-05T00:00:00Z 2026-01-12T00:00:00Z weekly", "2026-01-05T00:00:00Z 2026-01-06T00:00:00Z daily", "audit 2026-01-05T00:00:00Z 2026-01-06T00:00:00Z daily"}
	if fmt.Sprint(starter.calls) != fmt.Sprint(want) {
		t.Fatalf("starter calls %q, want %q", starter.calls, want)
	}

	// The starter's own refusal is the client's error; any other failure is the service's.
	starter.err = fmt.Errorf("%w: from is not aligned to the 15m grid", apiserver.ErrInvalidBackfill)
	m := expectFieldErrors(t, c.do(t, "POST", "/admin/backfills", body, bearer(admin.Access)), "non_field_errors")
	if m["non_field_errors"][0] != "invalid backfill: from is not aligned to the 15m grid" {
		t.Fatalf("refusal %v", m)
	}
	starter.err = errors.New("temporal: connection refused")
	expectDetail(t, c.do(t, "POST", "/admin/backfills", body, bearer(admin.Access)), http.StatusServiceUnavailable,
		"The backfill could not be started: temporal: connection refused")
}

func TestBackfillsWithoutAStarterAnswer503(t *testing.T) {
	admin := adminUser(t)
	body := map[string]string{"from": "2026-01-05T00:00:00Z", "to": "2026-01-06T00:00:00Z", "granularity": "daily"}
	expectDetail(t, api.do(t, "POST", "/admin/backfills", body, bearer(admin.Access)), http.StatusServiceUnavailable, "backfills are not configured")
}
