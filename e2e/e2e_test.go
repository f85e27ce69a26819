// Package e2e runs logetl end to end against real services: a Temporal dev server, MariaDB,
// versitygw, the API served in-process and the worker in-process. Nothing is mocked.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/logetl/logetl/activities"
	"github.com/logetl/logetl/apiserver"
	"github.com/logetl/logetl/internal/botclient"
	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/export"
	"github.com/logetl/logetl/internal/launcher"
	"github.com/logetl/logetl/internal/manifest"
	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/internal/s3store"
	"github.com/logetl/logetl/internal/synthetic"
	"github.com/logetl/logetl/internal/testenv"
	"github.com/logetl/logetl/worker"
	"github.com/logetl/logetl/workflows"
)

const (
	taskQueue = "logetl-e2e"
	window    = time.Minute
	safetyLag = 5 * time.Second
	adminMail = "admin@e2e.test"
)

// stack is everything the test runs.
type stack struct {
	db       *testenv.Database
	temporal *testenv.Temporal
	s3       *testenv.S3Server
	tc       client.Client
	exp      *export.Exporter
	store    *s3store.Store
	apiURL   string
	launcher *launcher.Launcher
	recorded map[string]client.WorkflowRun // histories to replay and, on request, record
}

func startStack(t *testing.T, ctx context.Context) *stack {
	t.Helper()
	st := &stack{recorded: map[string]client.WorkflowRun{}}
	var err error
	if st.db, err = testenv.NewDatabase(ctx, "e2e"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.db.Drop(context.WithoutCancel(ctx)) })
	if st.temporal, err = testenv.StartTemporal(ctx, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.temporal.Stop() })
	st.s3 = testenv.StartS3(ctx, t)

	s3cfg := st.s3.Config()
	if st.store, err = s3store.New(ctx, s3cfg, s3store.WithStaticCredentials(st.s3.AccessKey, st.s3.SecretKey)); err != nil {
		t.Fatal(err)
	}
	kr, err := protect.GenerateKeyring()
	if err != nil {
		t.Fatal(err)
	}
	prot, err := protect.NewProtector(kr)
	if err != nil {
		t.Fatal(err)
	}
	ecfg, err := export.ConfigFrom(s3cfg, config.Partitioning{Timezone: "UTC"},
		config.Export{Compression: "zstd", RowGroupRows: 10000, SafetyLag: safetyLag, Window: window, FieldEncryption: "per-value"})
	if err != nil {
		t.Fatal(err)
	}
	if st.exp, err = export.New(ecfg, st.db.DB, st.store, prot); err != nil {
		t.Fatal(err)
	}

	if st.tc, err = st.temporal.Dial(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.tc.Close)
	tcfg := config.Temporal{TemporalAddress: st.temporal.Address, TemporalNamespace: st.temporal.Namespace, TaskQueue: taskQueue, TemporalUIURL: "http://ui.invalid"}
	st.launcher = launcher.NewWithClient(launcher.Config{Temporal: tcfg, Window: window, SafetyLag: safetyLag, Timezone: "UTC"}, st.tc)

	api, err := apiserver.New(apiserver.Options{DB: st.db.DB, JWTSecret: []byte("e2e-secret-0123456789abcdefghijklmnop"), BcryptCost: 4,
		Backfills: st.launcher, AdminEmails: []string{adminMail}, LoginRate: apiserver.LoginRate{PerMinute: 600, Burst: 100}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	st.apiURL = srv.URL

	bots, err := botclient.New(st.apiURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := worker.NewMetrics(prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	acts := &activities.Activities{Exporter: activities.Library{E: st.exp}, Workflows: st.tc, Bots: bots, Metrics: metrics}
	w := worker.New(st.tc, taskQueue, acts, worker.Options{})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return st
}

func TestPipelineEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: end-to-end starts Temporal, versitygw and runs the pipeline for a few minutes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	st := startStack(t, ctx)

	// Schedules, dev profile. Only the export schedule keeps its cadence: the bots are
	// triggered by hand so that the traffic's time range is known.
	scheds, err := worker.Schedules(worker.ScheduleConfig{Profile: worker.ProfileDev, TaskQueue: taskQueue, Window: window,
		SafetyLag: safetyLag, Timezone: "UTC", BotSignupCount: 3, BotActivityCount: 4})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := worker.ApplySchedules(ctx, st.tc.ScheduleClient(), scheds); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{worker.ScheduleBotSignup, worker.ScheduleBotActivity, worker.ScheduleVerify, worker.ScheduleCompactWeek} {
		if err := st.tc.ScheduleClient().GetHandle(ctx, id).Pause(ctx, client.SchedulePauseOptions{Note: "e2e drives it by hand"}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("bot schedules make traffic through the API", func(t *testing.T) { st.botTraffic(t, ctx) })
	// The traffic's windows: from the first bot row to the end of the window of the last one.
	var first, last time.Time
	if err := st.db.DB.QueryRowContext(ctx, "SELECT MIN(occurred_at), MAX(occurred_at) FROM activity_log").Scan(&first, &last); err != nil {
		t.Fatal(err)
	}
	from, to := workflows.FloorGrid(first, window), workflows.FloorGrid(last, window).Add(window)

	t.Run("export schedule backfill exports the traffic's windows", func(t *testing.T) { st.scheduleBackfill(t, ctx, from, to) })
	t.Run("export runs are found by their search attributes", func(t *testing.T) { st.searchAttributes(t, ctx, from) })

	// Past data: 8 days ago, a half hour of synthetic rows, in last week's ISO week.
	oldFrom := workflows.WeekStart(time.Now(), time.UTC).AddDate(0, 0, -6).Add(10 * time.Hour)
	oldTo := oldFrom.Add(30 * time.Minute)
	loaded, err := synthetic.Load(ctx, st.db.DB, synthetic.Options{Rows: 900, Seed: 7, Start: oldFrom, End: oldTo})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("backfill over past windows exports them and is idempotent", func(t *testing.T) { st.backfillPast(t, ctx, oldFrom, oldTo) })
	t.Run("weekly backfill compacts last week", func(t *testing.T) { st.weeklyBackfill(t, ctx, oldFrom, loaded.Rows) })
	t.Run("verify workflow repairs a late commit", func(t *testing.T) { st.lateCommit(t, ctx, oldFrom, oldTo) })

	// S3 holds exactly MySQL's rows over both ranges.
	for _, r := range [][2]time.Time{{from, to}, {oldFrom, oldTo}} {
		rep, err := st.exp.Verify(ctx, r[0], r[1], export.VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() {
			t.Fatalf("verify %s..%s: problems %+v", r[0], r[1], rep.Problems())
		}
	}
	st.compareRowTotals(t, ctx)
	t.Run("recorded histories replay with the current workflow code", func(t *testing.T) { st.replay(t, ctx) })
}

// triggerAndWait triggers a schedule and waits for the run it starts.
func (st *stack) triggerAndWait(t *testing.T, ctx context.Context, id string, result any) client.WorkflowRun {
	t.Helper()
	h := st.tc.ScheduleClient().GetHandle(ctx, id)
	before, err := h.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Trigger(ctx, client.ScheduleTriggerOptions{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL}); err != nil {
		t.Fatal(err)
	}
	var runID string
	deadline := time.Now().Add(30 * time.Second)
	for runID == "" && time.Now().Before(deadline) {
		d, err := h.Describe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Info.RecentActions) > len(before.Info.RecentActions) {
			a := d.Info.RecentActions[len(d.Info.RecentActions)-1]
			runID = a.StartWorkflowResult.WorkflowID
		}
		time.Sleep(200 * time.Millisecond)
	}
	if runID == "" {
		t.Fatalf("schedule %s started no run", id)
	}
	run := st.tc.GetWorkflow(ctx, runID, "")
	if err := run.Get(ctx, result); err != nil {
		t.Fatalf("run %s of schedule %s: %v", runID, id, err)
	}
	return run
}

func (st *stack) botTraffic(t *testing.T, ctx context.Context) {
	var signup, acts workflows.BotsResult
	st.recorded["signup_bots"] = st.triggerAndWait(t, ctx, worker.ScheduleBotSignup, &signup)
	if signup.Succeeded != 3 {
		t.Fatalf("signup %+v, want 3 accounts", signup)
	}
	st.recorded["bot_activity"] = st.triggerAndWait(t, ctx, worker.ScheduleBotActivity, &acts)
	if acts.Succeeded != 4 || acts.Actions != 20 {
		t.Fatalf("bot activity %+v, want 4 sessions of 5 actions", acts)
	}
	for action, want := range map[string]int{"user.signup": 3, "user.login": 4, "post.create": 4, "post.update": 4, "post.view": 4, "post.delete": 4} {
		var n int
		if err := st.db.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM activity_log WHERE action = ?", action).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("%s rows = %d, want %d", action, n, want)
		}
	}
}

// scheduleBackfill asks the export schedule itself to run for the nominal times of [from, to):
// what an operator does with "Backfill" in the Temporal UI.
func (st *stack) scheduleBackfill(t *testing.T, ctx context.Context, from, to time.Time) {
	// Wait until the last window is closed.
	if d := time.Until(to.Add(safetyLag + time.Second)); d > 0 {
		time.Sleep(d)
	}
	h := st.tc.ScheduleClient().GetHandle(ctx, worker.ScheduleExport)
	// The run nominally at k*W + lag exports [(k-1)*W, k*W).
	if err := h.Backfill(ctx, client.ScheduleBackfillOptions{Backfill: []client.ScheduleBackfill{{
		Start: from.Add(window + safetyLag - time.Second), End: to.Add(safetyLag + time.Second),
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL,
	}}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		rep, err := st.exp.Verify(ctx, from, to, export.VerifyOptions{})
		if err == nil && rep.OK() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("windows %s..%s not exported in time: %v %+v", from, to, err, rep.Problems())
		}
		time.Sleep(time.Second)
	}
	// Record one scheduled run's history.
	resp, err := st.tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: "WorkflowType = 'ScheduledExport' AND ExecutionStatus = 'Completed'"})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Executions) == 0 {
		t.Fatal("no completed ScheduledExport run")
	}
	e := resp.Executions[0].Execution
	st.recorded["scheduled_export"] = st.tc.GetWorkflow(ctx, e.WorkflowId, e.RunId)
}

func (st *stack) searchAttributes(t *testing.T, ctx context.Context, windowStart time.Time) {
	// A range rather than '=': the dev server's SQLite visibility compares datetimes as stored
	// strings, which an equality on a second-precision literal does not match.
	q := fmt.Sprintf("LogetlWindowStart >= '%s' AND LogetlWindowStart < '%s' AND LogetlGranularity = 'daily'",
		windowStart.UTC().Format(time.RFC3339), windowStart.Add(time.Second).UTC().Format(time.RFC3339))
	want := workflows.ExportWindowID(workflows.Window{Start: windowStart, End: windowStart.Add(window)})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := st.tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: q})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range resp.Executions {
			if e.Execution.WorkflowId == want {
				st.recorded["export_window"] = st.tc.GetWorkflow(ctx, e.Execution.WorkflowId, e.Execution.RunId)
				return
			}
		}
		if time.Now().After(deadline) {
			all, _ := st.tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: "LogetlGranularity = 'daily'"})
			if all != nil && len(all.Executions) > 0 {
				for k, v := range all.Executions[0].SearchAttributes.GetIndexedFields() {
					t.Logf("%s %s = %s %v", all.Executions[0].Execution.WorkflowId, k, v.Data, v.Metadata)
				}
			}
			t.Fatalf("query %q found no run %s", q, want)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// objectState is the bucket's listing plus every manifest's row count.
func (st *stack) objectState(t *testing.T, ctx context.Context, prefix string) map[string]int64 {
	t.Helper()
	objs, err := st.store.List(ctx, prefix)
	if err != nil {
		t.Fatal(err)
	}
	state := map[string]int64{}
	for _, o := range objs {
		state[o.Key] = -1
		if strings.HasSuffix(o.Key, ".manifest.json") {
			b, err := st.store.Get(ctx, o.Key)
			if err != nil {
				t.Fatal(err)
			}
			var m manifest.Manifest
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			state[o.Key] = m.Rows
		}
	}
	return state
}

func (st *stack) backfillPast(t *testing.T, ctx context.Context, from, to time.Time) {
	run, err := st.launcher.StartBackfill(ctx, from, to, workflows.GranularityDaily)
	if err != nil {
		t.Fatal(err)
	}
	if run.WorkflowID != workflows.BackfillID(from, to, workflows.GranularityDaily) || !strings.HasPrefix(run.UIURL, "http://ui.invalid/namespaces/default/workflows/backfill%2Fdaily%2F") {
		t.Fatalf("run %+v", run)
	}
	p, err := st.launcher.WaitBackfill(ctx, run.WorkflowID)
	if err != nil {
		t.Fatal(err)
	}
	if p.Total != 30 || p.Done != 30 || p.Failed != 0 {
		t.Fatalf("backfill %+v, want 30/30", p)
	}
	st.recorded["backfill"] = st.tc.GetWorkflow(ctx, run.WorkflowID, run.RunID)
	day := "logs/activity_log/daily/dt=" + from.Format(time.DateOnly) + "/"
	before := st.objectState(t, ctx, day)
	if len(before) != 60 {
		t.Fatalf("%d objects under %s, want 30 files + 30 manifests", len(before), day)
	}

	// Again, through the admin API this time: same objects, same row counts.
	token := st.adminToken(t, ctx)
	body, _ := json.Marshal(map[string]string{"from": from.Format(time.RFC3339), "to": to.Format(time.RFC3339), "granularity": "daily"})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, st.apiURL+"/admin/backfills", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var started apiserver.BackfillRun
	_ = json.NewDecoder(resp.Body).Decode(&started)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || started.WorkflowID != run.WorkflowID || started.RunID == run.RunID {
		t.Fatalf("POST /admin/backfills: %d %+v, want 202 with a new run of %s", resp.StatusCode, started, run.WorkflowID)
	}
	if p, err = st.launcher.WaitBackfill(ctx, started.WorkflowID); err != nil || p.Done != 30 {
		t.Fatalf("second backfill %+v, %v", p, err)
	}
	after := st.objectState(t, ctx, day)
	if !mapsEqual(before, after) {
		t.Fatalf("objects changed by a repeated backfill:\nbefore %v\nafter  %v", before, after)
	}
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func (st *stack) adminToken(t *testing.T, ctx context.Context) string {
	t.Helper()
	bc, _ := botclient.New(st.apiURL, nil)
	if _, err := bc.Signup(ctx, botclient.SignupRequest{Email: adminMail, Nickname: "admin", Gender: "F", Password: "admin-password-1",
		Password2: "admin-password-1", Name: "관리자", BirthDate: "1990-01-01"}); err != nil {
		t.Fatal(err)
	}
	tok, err := bc.Login(ctx, adminMail, "admin-password-1")
	if err != nil {
		t.Fatal(err)
	}
	return tok.Access
}

func (st *stack) weeklyBackfill(t *testing.T, ctx context.Context, inWeek time.Time, rows int64) {
	weekStart := workflows.WeekStart(inWeek, time.UTC)
	run, err := st.launcher.StartBackfill(ctx, weekStart, weekStart.AddDate(0, 0, 7), workflows.GranularityWeekly)
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.launcher.WaitBackfill(ctx, run.WorkflowID)
	if err != nil || p.Done != 1 {
		t.Fatalf("weekly backfill %+v, %v", p, err)
	}
	key := "logs/activity_log/weekly/week=" + workflows.WeekLabel(weekStart) + "/part-" + workflows.WeekLabel(weekStart) + ".manifest.json"
	b, err := st.store.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	var m manifest.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.Rows != rows {
		t.Fatalf("weekly manifest rows = %d, want %d", m.Rows, rows)
	}
	resp, err := st.tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: "WorkflowId = '" + workflows.CompactWeekID(weekStart) + "'"})
	if err == nil && len(resp.Executions) > 0 {
		st.recorded["compact_week"] = st.tc.GetWorkflow(ctx, resp.Executions[0].Execution.WorkflowId, resp.Executions[0].Execution.RunId)
	}
}

// lateCommit inserts a row into an already exported window, as a transaction slower than the
// safety lag would, and runs the Verify workflow with repair.
func (st *stack) lateCommit(t *testing.T, ctx context.Context, from, to time.Time) {
	late := from.Add(7*time.Minute + 30*time.Second)
	if _, err := st.db.DB.ExecContext(ctx, `INSERT INTO activity_log (occurred_at, request_id, user_id, action, method, route, path, status,
		post_id, client_ip, user_agent, email, message) VALUES (?, 'late-1', 1, 'post.view', 'GET', '/blog/:id/', '/blog/1/', 200, 1, '10.0.0.1', 'late-agent', NULL, 'late commit')`, late); err != nil {
		t.Fatal(err)
	}
	run, err := st.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: taskQueue, ID: "e2e-verify"}, workflows.WorkflowVerify,
		workflows.VerifyWorkflowInput{From: from, To: to, Window: window, SafetyLag: safetyLag, Repair: true})
	if err != nil {
		t.Fatal(err)
	}
	var rep workflows.VerifyReport
	if err := run.Get(ctx, &rep); err != nil {
		t.Fatal(err)
	}
	lateWindow := workflows.FloorGrid(late, window)
	if rep.Windows != 30 || len(rep.Mismatched) != 1 || !rep.Mismatched[0].Start.Equal(lateWindow) || rep.Repaired != 1 {
		t.Fatalf("verify report %+v, want window %s repaired", rep, lateWindow)
	}
	st.recorded["verify_repair"] = run
}

func (st *stack) compareRowTotals(t *testing.T, ctx context.Context) {
	var mysqlRows int64
	if err := st.db.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM activity_log").Scan(&mysqlRows); err != nil {
		t.Fatal(err)
	}
	var s3Rows int64
	for k, rows := range st.objectState(t, ctx, "logs/activity_log/daily/") {
		if strings.HasSuffix(k, ".manifest.json") {
			s3Rows += rows
		}
	}
	// The schedule keeps exporting fresh windows while the test runs; rows logged after the
	// last exported window (the admin's signup and logins) may not be in S3 yet, so compare
	// up to the newest manifest.
	if s3Rows > mysqlRows || s3Rows < mysqlRows-10 {
		t.Fatalf("rows: MySQL %d, S3 daily manifests %d", mysqlRows, s3Rows)
	}
	t.Logf("rows: MySQL %d, S3 daily manifests %d", mysqlRows, s3Rows)
}

// replay replays every recorded history with the current workflow code, and writes them to
// workflows/testdata when LOGETL_RECORD_HISTORIES=1 (how the committed histories were made).
func (st *stack) replay(t *testing.T, ctx context.Context) {
	record := os.Getenv("LOGETL_RECORD_HISTORIES") == "1"
	names := make([]string, 0, len(st.recorded))
	for n := range st.recorded {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		run := st.recorded[name]
		h, err := fetchHistory(ctx, st.tc, run.GetID(), run.GetRunID())
		if err != nil {
			t.Fatal(err)
		}
		r := sdkworker.NewWorkflowReplayer()
		workflows.Register(r)
		if err := r.ReplayWorkflowHistory(nil, h); err != nil {
			t.Errorf("replay %s (%s): %v", name, run.GetID(), err)
		}
		if record {
			b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(h)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join("..", "workflows", "testdata", name+".json"), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(names) < 6 {
		t.Errorf("recorded only %v", names)
	}
}

func fetchHistory(ctx context.Context, c client.Client, id, runID string) (*historypb.History, error) {
	it := c.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("history of %s: %w", id, err)
		}
		h.Events = append(h.Events, e)
	}
	return h, nil
}
