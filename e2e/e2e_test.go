//go:build integration

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
	"github.com/logetl/logetl/internal/lake"
	"github.com/logetl/logetl/internal/launcher"
	"github.com/logetl/logetl/internal/manifest"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/internal/retention"
	"github.com/logetl/logetl/internal/s3store"
	"github.com/logetl/logetl/internal/synthetic"
	"github.com/logetl/logetl/internal/tablespec"
	"github.com/logetl/logetl/internal/testenv"
	"github.com/logetl/logetl/worker"
	"github.com/logetl/logetl/workflows"
)

const (
	taskQueue = "logetl-e2e"
	window    = time.Minute
	safetyLag = 5 * time.Second
	adminMail = "admin@e2e.test"
	table     = "activity_log"
	prefix    = "logs"
)

// stack is everything the test runs.
type stack struct {
	db       *testenv.Database
	temporal *testenv.Temporal
	s3       *testenv.S3Server
	tc       client.Client
	exp      *export.Exporter
	grid     partition.Grid
	layout   lake.Layout
	store    *s3store.Store
	apiURL   string
	launcher *launcher.Launcher
	recorded map[string]client.WorkflowRun // histories to replay and, on request, record
}

func startStack(t *testing.T, ctx context.Context) *stack {
	t.Helper()
	st := &stack{recorded: map[string]client.WorkflowRun{}, layout: lake.Layout{Prefix: prefix, Table: table}}
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
	s3cfg.S3Prefix = prefix
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
	if st.grid, err = partition.NewGrid(window, time.UTC); err != nil {
		t.Fatal(err)
	}
	spec := tablespec.Builtin().Tables[0]
	if spec.Name != table {
		t.Fatalf("built-in spec is %q, want %q", spec.Name, table)
	}
	if st.exp, err = export.New(export.Config{Spec: spec, Layout: st.layout, Grid: st.grid, Compression: "zstd", RowGroupRows: 10000,
		FieldEncryption: protect.PerValue, Component: "e2e"}, st.db.DB, st.store, prot); err != nil {
		t.Fatal(err)
	}

	if st.tc, err = st.temporal.Dial(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.tc.Close)
	tcfg := config.Temporal{TemporalAddress: st.temporal.Address, TemporalNamespace: st.temporal.Namespace, TaskQueue: taskQueue, TemporalUIURL: "http://ui.invalid"}
	st.launcher = launcher.NewWithClient(launcher.Config{Temporal: tcfg, SafetyLag: safetyLag, MaxRange: 36500 * 24 * time.Hour,
		Tables: map[string]time.Duration{table: window}}, st.tc)

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
	metrics, err := worker.NewMetrics(prometheus.NewRegistry(), []string{table}, nil)
	if err != nil {
		t.Fatal(err)
	}
	lib := activities.Library{E: st.exp, P: retention.New(st.exp, retention.Config{ChunkRows: 100, Pause: -1}), Partitions: st.store.ListPrefixes}
	acts := &activities.Activities{Tables: map[string]activities.Table{table: lib}, Workflows: st.tc, Bots: bots, Metrics: metrics}
	w := worker.New(st.tc, taskQueue, acts, worker.Options{})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return st
}

func TestPipelineEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	st := startStack(t, ctx)

	// Schedules, dev profile. Only the export schedule keeps its cadence: the bots are
	// triggered by hand so that the traffic's time range is known. No retention: the purge
	// runs by hand at the end, over the past data only.
	scheds, err := worker.Schedules(worker.ScheduleConfig{Profile: worker.ProfileDev, TaskQueue: taskQueue, SafetyLag: safetyLag,
		Tables: []worker.TableSchedule{{Name: table, Window: window, Timezone: "UTC"}}, BotSignupCount: 3, BotActivityCount: 4})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := worker.ApplySchedules(ctx, st.tc.ScheduleClient(), scheds); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{worker.ScheduleBotSignup, worker.ScheduleBotActivity,
		worker.ScheduleID(worker.ScheduleVerify, table), worker.ScheduleID(worker.ScheduleCompactWeek, table)} {
		if err := st.tc.ScheduleClient().GetHandle(ctx, id).Pause(ctx, client.SchedulePauseOptions{Note: "e2e drives it by hand"}); err != nil {
			t.Fatalf("pause %s: %v", id, err)
		}
	}

	t.Run("bot schedules make traffic through the API", func(t *testing.T) { st.botTraffic(t, ctx) })
	// The traffic's windows: from the first bot row to the end of the window of the last one.
	var first, last time.Time
	if err := st.db.DB.QueryRowContext(ctx, "SELECT MIN(occurred_at), MAX(occurred_at) FROM activity_log").Scan(&first, &last); err != nil {
		t.Fatal(err)
	}
	from, to := st.grid.Floor(first), st.grid.Floor(last).Add(window)

	t.Run("export schedule backfill exports the traffic's windows", func(t *testing.T) { st.scheduleBackfill(t, ctx, from, to) })
	t.Run("export runs are found by their search attributes", func(t *testing.T) { st.searchAttributes(t, ctx, from) })

	// Past data: 8 days ago, a half hour of synthetic rows, in last week's ISO week.
	thisWeek, _, err := st.grid.WeekRange(st.grid.WeekOf(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	oldFrom := thisWeek.AddDate(0, 0, -6).Add(10 * time.Hour)
	oldTo := oldFrom.Add(30 * time.Minute)
	loaded, err := synthetic.Load(ctx, st.db.DB, synthetic.Options{Rows: 900, Seed: 7, Start: oldFrom, End: oldTo})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("backfill over past windows exports them and is idempotent", func(t *testing.T) { st.backfillPast(t, ctx, oldFrom, oldTo) })
	t.Run("weekly backfill repairs a window, then compacts last week", func(t *testing.T) { st.weeklyBackfill(t, ctx, oldFrom, loaded.Rows) })
	t.Run("verify workflow repairs a late commit", func(t *testing.T) { st.lateCommit(t, ctx, oldFrom, oldTo) })

	// S3 holds exactly MySQL's rows over both ranges.
	for _, r := range [][2]time.Time{{from, to}, {oldFrom, oldTo}} {
		rep, err := st.exp.Verify(ctx, r[0], r[1], export.VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() {
			t.Fatalf("verify %s..%s: %s; problems %+v", r[0], r[1], rep.Summary(), rep.Problems)
		}
	}
	st.compareRowTotals(t, ctx)
	t.Run("purge deletes the past windows from MySQL once verified", func(t *testing.T) { st.purgePast(t, ctx, oldFrom, oldTo) })
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

// scheduleBackfill asks the table's export schedule itself to run for the nominal times of
// [from, to): what an operator does with "Backfill" in the Temporal UI.
func (st *stack) scheduleBackfill(t *testing.T, ctx context.Context, from, to time.Time) {
	// Wait until the last window is closed.
	if d := time.Until(to.Add(safetyLag + time.Second)); d > 0 {
		time.Sleep(d)
	}
	h := st.tc.ScheduleClient().GetHandle(ctx, worker.ScheduleID(worker.ScheduleExport, table))
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
			t.Fatalf("windows %s..%s not exported in time: %v %s %+v", from, to, err, rep.Summary(), rep.Problems)
		}
		time.Sleep(time.Second)
	}
	// Record one scheduled run's history: one that exported rows (its child wrote a file).
	resp, err := st.tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: "WorkflowType = 'ScheduledExport' AND ExecutionStatus = 'Completed'"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range resp.Executions {
		var res workflows.ExportResult
		run := st.tc.GetWorkflow(ctx, e.Execution.WorkflowId, e.Execution.RunId)
		if err := run.Get(ctx, &res); err == nil && res.Rows > 0 {
			st.recorded["scheduled_export"] = run
			return
		}
	}
	t.Fatalf("no completed ScheduledExport run exported rows (%d completed)", len(resp.Executions))
}

func (st *stack) searchAttributes(t *testing.T, ctx context.Context, windowStart time.Time) {
	// A range rather than '=': the dev server's SQLite visibility compares datetimes as stored
	// strings, which an equality on a second-precision literal does not match.
	q := fmt.Sprintf("LogetlTable = '%s' AND LogetlWindowStart >= '%s' AND LogetlWindowStart < '%s' AND LogetlGranularity = 'daily'",
		table, windowStart.UTC().Format(time.RFC3339), windowStart.Add(time.Second).UTC().Format(time.RFC3339))
	want := workflows.ExportWindowID(table, partition.Window{Start: windowStart, End: windowStart.Add(window)})
	if !strings.HasPrefix(want, "export/"+table+"/daily/") {
		t.Fatalf("window id %s does not name its table", want)
	}
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

// objectState is the listing under prefix with every manifest's row count (-1 for objects),
// after checking that each manifest records the ETag of the object beside it.
func (st *stack) objectState(t *testing.T, ctx context.Context, prefix string) map[string]int64 {
	t.Helper()
	objs, err := st.store.List(ctx, prefix)
	if err != nil {
		t.Fatal(err)
	}
	etags := map[string]string{}
	for _, o := range objs {
		etags[o.Key] = o.ETag
	}
	state := map[string]int64{}
	for _, o := range objs {
		state[o.Key] = -1
		if !strings.HasSuffix(o.Key, ".manifest.json") {
			continue
		}
		b, err := st.store.Get(ctx, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		m, err := manifest.Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", o.Key, err)
		}
		if m.ObjectRemoved == nil && (m.ETag == "" || m.ETag != etags[m.Object]) {
			t.Errorf("manifest %s records ETag %q, its object %s has %q", o.Key, m.ETag, m.Object, etags[m.Object])
		}
		state[o.Key] = m.Rows
	}
	return state
}

// windowsWithRows counts the grid windows of [from, to) that hold rows in MySQL.
func (st *stack) windowsWithRows(t *testing.T, ctx context.Context, from, to time.Time) int {
	t.Helper()
	var n int
	if err := st.db.DB.QueryRowContext(ctx, "SELECT COUNT(DISTINCT FLOOR(UNIX_TIMESTAMP(occurred_at) / ?)) FROM activity_log WHERE occurred_at >= ? AND occurred_at < ?",
		int64(window/time.Second), from, to).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// backfillPast backfills [from - 2 windows, to): the two windows before the data have no rows,
// so they get no object, only the coverage record that says they were exported.
func (st *stack) backfillPast(t *testing.T, ctx context.Context, from, to time.Time) {
	bfFrom := from.Add(-2 * window)
	withRows := st.windowsWithRows(t, ctx, bfFrom, to)
	if withRows != 30 {
		t.Fatalf("%d windows with rows in %s..%s, want the 30 loaded", withRows, bfFrom, to)
	}
	run, err := st.launcher.StartBackfill(ctx, apiserver.BackfillRequest{Table: table, From: bfFrom, To: to, Granularity: string(partition.Daily)})
	if err != nil {
		t.Fatal(err)
	}
	if run.WorkflowID != workflows.BackfillID(table, bfFrom, to, partition.Daily) ||
		!strings.HasPrefix(run.UIURL, "http://ui.invalid/namespaces/default/workflows/backfill%2F"+table+"%2Fdaily%2F") {
		t.Fatalf("run %+v", run)
	}
	p, err := st.launcher.WaitBackfill(ctx, run.WorkflowID)
	if err != nil {
		t.Fatal(err)
	}
	if p.Done != withRows || p.Failed != 0 || p.Pages != 1 || !p.Cursor.Equal(to) {
		t.Fatalf("backfill %+v, want %d windows done in 1 page up to %s", p, withRows, to)
	}
	st.recorded["backfill"] = st.tc.GetWorkflow(ctx, run.WorkflowID, run.RunID)
	day := st.layout.DayPrefix(st.grid.Day(from))
	before := st.objectState(t, ctx, day)
	if len(before) != 2*withRows {
		t.Fatalf("%d objects under %s, want %d files + %d manifests", len(before), day, withRows, withRows)
	}
	for _, w := range []time.Time{bfFrom, bfFrom.Add(window)} {
		key := st.layout.DailyKey(st.grid.Pieces(st.grid.WindowAt(w))[0])
		if _, ok := before[key]; ok {
			t.Errorf("window %s has no rows but an object %s", w, key)
		}
	}
	rep, err := st.exp.Verify(ctx, bfFrom, to, export.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Counts[export.StatusEmpty] != 2 || rep.Counts[export.StatusOK] != int64(withRows) {
		t.Fatalf("verify after the backfill: %s, want %d ok and the 2 empty windows covered", rep.Summary(), withRows)
	}

	// Again, through the admin API this time: same objects, same row counts.
	token := st.adminToken(t, ctx)
	body, _ := json.Marshal(map[string]string{"table": table, "from": bfFrom.Format(time.RFC3339), "to": to.Format(time.RFC3339), "granularity": "daily"})
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
	if p, err = st.launcher.WaitBackfill(ctx, started.WorkflowID); err != nil || p.Done != withRows {
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

// insertLate commits a row at time at, long after its window was exported, as a transaction
// slower than the safety lag would.
func (st *stack) insertLate(t *testing.T, ctx context.Context, at time.Time, requestID string) {
	t.Helper()
	if _, err := st.db.DB.ExecContext(ctx, `INSERT INTO activity_log (occurred_at, request_id, user_id, action, method, route, path, status,
		post_id, client_ip, user_agent, email, message) VALUES (?, ?, 1, 'post.view', 'GET', '/blog/:id/', '/blog/1/', 200, 1, '10.0.0.1', 'late-agent', NULL, 'late commit')`,
		at, requestID); err != nil {
		t.Fatal(err)
	}
}

// weeklyBackfill commits a late row into one of last week's exported windows, then backfills
// the week at weekly granularity: its compaction finds the window's daily file short of MySQL,
// re-exports the window through its ExportWindow run, and compacts.
func (st *stack) weeklyBackfill(t *testing.T, ctx context.Context, inWeek time.Time, rows int64) {
	week := st.grid.WeekOf(inWeek)
	weekStart, weekEnd, err := st.grid.WeekRange(week)
	if err != nil {
		t.Fatal(err)
	}
	late := inWeek.Add(12*time.Minute + 30*time.Second)
	st.insertLate(t, ctx, late, "late-compaction")
	run, err := st.launcher.StartBackfill(ctx, apiserver.BackfillRequest{Table: table, From: weekStart, To: weekEnd, Granularity: string(partition.Weekly)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.launcher.WaitBackfill(ctx, run.WorkflowID)
	if err != nil || p.Done != 1 {
		t.Fatalf("weekly backfill %+v, %v", p, err)
	}
	b, err := st.store.Get(ctx, lake.ManifestKey(st.layout.WeeklyKey(week)))
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Rows != rows+1 {
		t.Fatalf("weekly manifest rows = %d, want the %d loaded and the late one", m.Rows, rows+1)
	}
	id := workflows.CompactWeekID(table, week)
	resp, err := st.tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: "WorkflowId = '" + id + "'"})
	if err != nil || len(resp.Executions) != 1 {
		t.Fatalf("runs of %s: %v %v", id, resp, err)
	}
	crun := st.tc.GetWorkflow(ctx, id, resp.Executions[0].Execution.RunId)
	var res workflows.CompactResult
	if err := crun.Get(ctx, &res); err != nil || !res.Compacted {
		t.Fatalf("compaction %s: %+v %v", id, res, err)
	}
	// The repair is in the compaction's history: one ExportWindow child for the late window.
	h, err := fetchHistory(ctx, st.tc, id, crun.GetRunID())
	if err != nil {
		t.Fatal(err)
	}
	var children []string
	for _, e := range h.Events {
		if a := e.GetStartChildWorkflowExecutionInitiatedEventAttributes(); a != nil {
			children = append(children, a.WorkflowId)
		}
	}
	want := workflows.ExportWindowID(table, st.grid.WindowAt(late))
	if len(children) != 1 || children[0] != want {
		t.Fatalf("compaction %s started children %v, want the repair %s", id, children, want)
	}
	st.recorded["compact_week"] = crun
}

// lateCommit inserts a row into an already exported window, as a transaction slower than the
// safety lag would, and runs the Verify workflow with repair.
func (st *stack) lateCommit(t *testing.T, ctx context.Context, from, to time.Time) {
	late := from.Add(7*time.Minute + 30*time.Second)
	st.insertLate(t, ctx, late, "late-1")
	run, err := st.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: taskQueue, ID: "e2e-verify"}, workflows.WorkflowVerify,
		workflows.VerifyWorkflowInput{Table: table, From: from, To: to, Window: window, SafetyLag: safetyLag, Repair: true})
	if err != nil {
		t.Fatal(err)
	}
	var rep workflows.VerifyReport
	if err := run.Get(ctx, &rep); err != nil {
		t.Fatal(err)
	}
	lateWindow := st.grid.Floor(late)
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
	for k, rows := range st.objectState(t, ctx, st.layout.PartitionsPrefix(partition.Daily)) {
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

// purgePast runs the Purge workflow over everything before to (the past half hour): every
// window is verified against its file, then its rows leave MySQL; the lake still holds them.
func (st *stack) purgePast(t *testing.T, ctx context.Context, from, to time.Time) {
	var inMySQL int64
	if err := st.db.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM activity_log WHERE occurred_at < ?", to).Scan(&inMySQL); err != nil {
		t.Fatal(err)
	}
	run, err := st.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: taskQueue, ID: workflows.PurgeID(table)}, workflows.WorkflowPurge,
		workflows.PurgeInput{Table: table, Window: window, Before: to})
	if err != nil {
		t.Fatal(err)
	}
	var p workflows.PurgeProgress
	if err := run.Get(ctx, &p); err != nil {
		t.Fatalf("purge: %v", err)
	}
	if p.Windows != 30 || p.Purged != 30 || p.Refused != 0 || p.Deleted != inMySQL {
		t.Fatalf("purge %+v, want 30 windows purged, %d rows deleted", p, inMySQL)
	}
	var left int64
	if err := st.db.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM activity_log WHERE occurred_at < ?", to).Scan(&left); err != nil {
		t.Fatal(err)
	}
	rep, err := st.exp.Verify(ctx, from, to, export.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if left != 0 || !rep.OK() || rep.Counts[export.StatusPurged] != 30 {
		t.Fatalf("after the purge: %d rows left in MySQL, verify %s; want 0 and 30 purged windows", left, rep.Summary())
	}
	var fileRows int64
	for k, rows := range st.objectState(t, ctx, st.layout.DayPrefix(st.grid.Day(from))) {
		if strings.HasSuffix(k, ".manifest.json") {
			fileRows += rows
		}
	}
	if fileRows != inMySQL {
		t.Fatalf("the purged windows' files hold %d rows, MySQL held %d", fileRows, inMySQL)
	}
	st.recorded["purge"] = run
}

// replay replays every recorded history with the current workflow code, and writes them to
// workflows/testdata when LOGETL_RECORD_HISTORIES=1 (how the committed histories were made).
func (st *stack) replay(t *testing.T, ctx context.Context) {
	record := os.Getenv("LOGETL_RECORD_HISTORIES") == "1"
	dir := filepath.Join("..", "workflows", "testdata")
	if record {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
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
			if err := os.WriteFile(filepath.Join(dir, name+".json"), append(b, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := []string{"backfill", "bot_activity", "compact_week", "export_window", "purge", "scheduled_export", "signup_bots", "verify_repair"}
	if !slices.Equal(names, want) {
		t.Errorf("recorded %v, want %v", names, want)
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
