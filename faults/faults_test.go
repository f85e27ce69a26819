//go:build faults

package faults

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/logetl/logetl/activities"
	"github.com/logetl/logetl/internal/launcher"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/synthetic"
	"github.com/logetl/logetl/worker"
	"github.com/logetl/logetl/workflows"
)

// bigWindowRows makes one window's export last a few seconds on a small machine: several
// multipart parts to upload and a long streaming SELECT, so a fault lands in the middle.
const (
	bigWindowRows = 250_000
	// The restart must land while the extract of this window streams: more rows than the
	// export of a quiet machine gets through in the second a restart takes to begin.
	extractWindowRows = 600_000
)

// TestPipelineSurvivesFaults runs the whole stack once and injects the faults one after the
// other. Every fault ends with an audit of its windows: MySQL's rows against the rows read
// back from the Parquet objects, and the objects that duplicate rows.
func TestPipelineSurvivesFaults(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	began := time.Now()
	st := startStack(ctx, t)
	t.Logf("stack up in %s: logs in %s", time.Since(began).Round(time.Second), st.logs)

	// Two large windows three hours back, for the faults that must land mid-export.
	base := st.grid.Floor(time.Now().Add(-3 * time.Hour))
	w1 := partition.Window{Start: base, End: base.Add(window)}
	w3 := partition.Window{Start: base.Add(10 * window), End: base.Add(11 * window)}
	for i, l := range []struct {
		w    partition.Window
		rows int
	}{{w1, bigWindowRows}, {w3, extractWindowRows}} {
		if _, err := synthetic.Load(ctx, st.db.DB, synthetic.Options{Rows: l.rows, Seed: uint64(i + 1), Start: l.w.Start, End: l.w.End}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("loaded %d rows into %s and %d into %s in %s", bigWindowRows, w1, extractWindowRows, w3, time.Since(began).Round(time.Second))

	var killed *killedExport
	t.Run("1 worker killed mid-upload: part 1, kill -9 and restart", func(t *testing.T) { killed = st.killWorkerMidUpload(t, ctx, w1) })
	// The killed attempt is noticed only when its heartbeat times out (a minute): the
	// backfill fault runs meanwhile, on the restarted worker.
	t.Run("4 backfill racing the schedule over the same windows", func(t *testing.T) { st.backfillRacesSchedule(t, ctx) })
	t.Run("1 worker killed mid-upload: part 2, the run retries and completes", func(t *testing.T) {
		if killed == nil {
			t.Fatal("part 1 did not kill the worker mid-upload")
		}
		st.killedExportCompletes(t, ctx, killed)
	})
	t.Run("3+6 MariaDB restarted mid-extract and under API load", func(t *testing.T) { st.restartMariaDBUnderLoad(t, ctx, w3) })
	var s3Outage partition.Window
	t.Run("2 S3 down longer than a schedule interval", func(t *testing.T) { s3Outage = st.s3DownThenBack(t, ctx) })
	t.Run("5 late commit into exported windows", func(t *testing.T) { st.lateCommits(t, ctx, s3Outage) })
	t.Run("security: no secret or clear personal data in any log line or object", func(t *testing.T) { st.noSecretsLeak(t, ctx) })
	note("whole fault suite: %s", time.Since(began).Round(time.Second))
}

func (st *stack) startExport(ctx context.Context, w partition.Window) (client.WorkflowRun, error) {
	return st.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                    workflows.ExportWindowID(table, w),
		TaskQueue:             taskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}, workflows.WorkflowExportWindow, workflows.ExportWindowInput{Table: table, Window: w})
}

// exportProgress is what Temporal knows of a running export activity: its attempt and the
// progress it last heartbeated.
func (st *stack) exportProgress(ctx context.Context, w partition.Window) (started bool, attempt int32, p activities.Progress, err error) {
	d, err := launcher.Describe(ctx, st.tc, workflows.ExportWindowID(table, w), "")
	if err != nil {
		return false, 0, p, err
	}
	for _, pa := range d.PendingActivities {
		if pa.GetActivityType().GetName() != workflows.ActivityExportWindow {
			continue
		}
		started = pa.State == enumspb.PENDING_ACTIVITY_STATE_STARTED
		attempt = pa.Attempt
		if pa.HeartbeatDetails != nil {
			_ = converter.GetDefaultDataConverter().FromPayloads(pa.HeartbeatDetails, &p)
		}
	}
	return started, attempt, p, nil
}

func (st *stack) dailyKey(w partition.Window) string {
	return st.layout.DailyKey(st.grid.Pieces(w)[0])
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// verifyCLI runs `logetl verify` over [from, to): the operator's proof, exit status 0. It
// reports whether it passed.
func (st *stack) verifyCLI(t *testing.T, ctx context.Context, from, to time.Time) bool {
	t.Helper()
	if out, err := st.cli(ctx, "verify", "--from", rfc(from), "--to", rfc(to)); err != nil {
		t.Errorf("logetl verify --from %s --to %s: %v\n%s", rfc(from), rfc(to), err, out)
		return false
	}
	return true
}

type killedExport struct {
	w        partition.Window
	run      client.WorkflowRun
	progress activities.Progress
	killedAt time.Time
}

// killWorkerMidUpload starts the export of w, waits until its multipart upload is in flight and
// kills the worker with SIGKILL, then starts a new worker.
func (st *stack) killWorkerMidUpload(t *testing.T, ctx context.Context, w partition.Window) *killedExport {
	run, err := st.startExport(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	key := st.dailyKey(w)
	deadline := time.Now().Add(3 * time.Minute)
	for {
		pending, err := st.store.PendingUploads(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if len(pending) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no multipart upload of %s started within 3 minutes", key)
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, attempt, p, err := st.exportProgress(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	st.worker.kill9()
	k := &killedExport{w: w, run: run, progress: p, killedAt: time.Now()}
	t.Logf("worker killed with SIGKILL during attempt %d of %s: multipart upload of %s in flight, last heartbeat %d rows, %d bytes",
		attempt, w, key, p.Rows, p.Bytes)
	if _, err := st.store.Stat(ctx, key); err == nil {
		t.Errorf("a partial object is visible at %s right after the kill", key)
	}
	if err := st.startWorker(ctx); err != nil {
		t.Fatal(err)
	}
	return k
}

func (st *stack) killedExportCompletes(t *testing.T, ctx context.Context, k *killedExport) {
	wctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	var res workflows.ExportResult
	if err := k.run.Get(wctx, &res); err != nil {
		t.Fatalf("export of %s after the kill: %v", k.w, err)
	}
	t.Logf("%s exported %d rows %s after the kill", k.w, res.Rows, time.Since(k.killedAt).Round(time.Second))
	r, err := st.windowRuns(ctx, k.w)
	if err != nil {
		t.Fatal(err)
	}
	if r.MaxAttempt < 2 {
		t.Errorf("the export of %s completed at attempt %d: the killed attempt was not retried", k.w, r.MaxAttempt)
	}
	st.verifyCLI(t, ctx, k.w.Start, k.w.End)
	a, err := st.audit(ctx, k.w.Start, k.w.End)
	if err != nil {
		t.Fatal(err)
	}
	recordAudit(t, "1 kill -9 worker mid-upload", a, fmt.Sprintf("1 window, attempt %d", r.MaxAttempt),
		fmt.Sprintf("killed at %d rows heartbeated; %d abandoned multipart upload(s), never visible as objects", k.progress.Rows, a.Pending))
}

// backfillRacesSchedule loads rows into the window that is about to close, and at the very
// moment the export schedule fires for it, starts a Backfill (logetl backfill) and a schedule
// backfill (the Temporal UI's "backfill") over it and the three windows before it.
func (st *stack) backfillRacesSchedule(t *testing.T, ctx context.Context) {
	end := st.grid.Floor(time.Now()).Add(window)
	if time.Until(end) < 20*time.Second {
		end = end.Add(window)
	}
	from := end.Add(-4 * window)
	if _, err := synthetic.Load(ctx, st.db.DB, synthetic.Options{Rows: 40_000, Seed: 4, Start: end.Add(-window), End: end}); err != nil {
		t.Fatal(err)
	}
	tick := end.Add(safetyLag) // the export schedule's run for [end-W, end)
	time.Sleep(time.Until(tick))

	var wg sync.WaitGroup
	var cliOut string
	var cliErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		cliOut, cliErr = st.cli(ctx, "backfill", "--from", rfc(from), "--to", rfc(end), "--wait")
	}()
	h := st.tc.ScheduleClient().GetHandle(ctx, worker.ScheduleID(worker.ScheduleExport, table))
	// The run nominally at k*W + lag exports [(k-1)*W, k*W).
	if err := h.Backfill(ctx, client.ScheduleBackfillOptions{Backfill: []client.ScheduleBackfill{{
		Start: from.Add(window + safetyLag - time.Second), End: end.Add(safetyLag + time.Second),
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL,
	}}}); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	// The loaded window has rows; the three before it have the bots' rows, if any. A backfill
	// exports the windows with rows and records the others in the coverage.
	withRows, err := st.windowsWithRows(ctx, from, end)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("done %d, failed 0, 1 pages", withRows); cliErr != nil || !strings.Contains(cliOut, want) {
		t.Fatalf("logetl backfill --wait: %v, want %q\n%s", cliErr, want, cliOut)
	}
	if err := st.waitExported(ctx, from, end, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := st.waitNoOpenExports(ctx, from, end, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	_, totalRuns, err := st.retried(ctx, from, end)
	if err != nil {
		t.Fatal(err)
	}
	scheduled, deferred, err := st.scheduledRunsSince(ctx, tick.Add(-2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d ScheduledExport runs (tick + schedule backfill) and %d Backfill children raced for 4 windows: %d export runs, %d starters found the window's run open",
		scheduled, withRows, totalRuns, deferred)
	st.verifyCLI(t, ctx, from, end)
	a, err := st.audit(ctx, from, end)
	if err != nil {
		t.Fatal(err)
	}
	if a.Objects != withRows {
		t.Errorf("%d Parquet objects for the %d windows with rows, want one each", a.Objects, withRows)
	}
	recordAudit(t, "4 backfill racing the schedule", a, fmt.Sprintf("%d export runs for 4 windows", totalRuns),
		fmt.Sprintf("%d starters at once (schedule tick and backfill: %d, logetl backfill: %d); %d scheduled runs left their window to its open run",
			scheduled+withRows, scheduled, withRows, deferred))
}

// scheduledRunsSince counts the ScheduledExport runs started since t and how many of them found
// their window's run already open (and left the work to it).
func (st *stack) scheduledRunsSince(ctx context.Context, t time.Time) (runs, alreadyRunning int, err error) {
	resp, err := st.tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf("WorkflowType = '%s' AND StartTime >= '%s'", workflows.WorkflowScheduledExport, t.UTC().Format(time.RFC3339)),
	})
	if err != nil {
		return 0, 0, err
	}
	for _, e := range resp.Executions {
		var res workflows.ExportResult
		if err := st.tc.GetWorkflow(ctx, e.Execution.WorkflowId, e.Execution.RunId).Get(ctx, &res); err != nil {
			return runs, alreadyRunning, fmt.Errorf("run %s: %w", e.Execution.WorkflowId, err)
		}
		runs++
		if res.AlreadyRunning {
			alreadyRunning++
		}
	}
	return runs, alreadyRunning, nil
}

// waitNoOpenExports waits until no ExportWindow run of [from, to) is open, so that a late
// starter of a race has finished rewriting its window before the audit reads it.
func (st *stack) waitNoOpenExports(ctx context.Context, from, to time.Time, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		open := 0
		windows, err := st.grid.Windows(from, to)
		if err != nil {
			return err
		}
		for _, w := range windows {
			resp, err := st.tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
				Query: fmt.Sprintf("WorkflowId = '%s' AND ExecutionStatus = 'Running'", workflows.ExportWindowID(table, w)),
			})
			if err != nil {
				return err
			}
			open += len(resp.Executions)
		}
		if open == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d export runs of %s..%s still open after %s", open, rfc(from), rfc(to), timeout)
		}
		time.Sleep(time.Second)
	}
}

// restartMariaDBUnderLoad exports the large window w while the API takes a steady create load,
// and restarts MariaDB once the export is streaming rows: the export's attempt fails, is
// retried and succeeds; the API answers 503 during the outage, never commits a post without
// its log row, and serves again by itself.
func (st *stack) restartMariaDBUnderLoad(t *testing.T, ctx context.Context, w partition.Window) {
	hc := probeClient()
	userID, token, err := st.probeUser(ctx, hc)
	if err != nil {
		t.Fatal(err)
	}
	loadStart := time.Now()
	var answers []answer
	loadDone := make(chan struct{})
	lctx, lcancel := context.WithTimeout(ctx, 2*time.Minute) // bounded time, whatever happens
	defer lcancel()
	go func() {
		defer close(loadDone)
		answers = st.apiLoad(lctx, hc, token, 4, 150, 150*time.Millisecond)
	}()
	time.Sleep(1500 * time.Millisecond) // the load is under way before the outage

	run, err := st.startExport(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	// Restart as soon as the export has streamed its first rows: the SELECT is then open.
	deadline := time.Now().Add(2 * time.Minute)
	var p activities.Progress
	for {
		started, _, prog, err := st.exportProgress(ctx, w)
		if err != nil {
			t.Fatal(err)
		}
		if started && prog.Rows > 0 {
			p = prog
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the export of %s showed no progress within 2 minutes", w)
		}
		if d, err := launcher.Describe(ctx, st.tc, workflows.ExportWindowID(table, w), ""); err == nil &&
			d.WorkflowExecutionInfo.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			t.Fatalf("the export of %s finished before the restart could interrupt it: load more rows (extractWindowRows)", w)
		}
		time.Sleep(20 * time.Millisecond)
	}
	downAt := time.Now()
	outage, err := restartMariaDB(ctx, 3*time.Second)
	upAt := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("MariaDB restarted while %s was at %d rows: unavailable for %s", w, p.Rows, outage.Round(100*time.Millisecond))
	<-loadDone

	// 3: the interrupted extract was retried and the window holds exactly MySQL's rows.
	wctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	if err := run.Get(wctx, nil); err != nil {
		t.Fatalf("export of %s after the MariaDB restart: %v", w, err)
	}
	r, err := st.windowRuns(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	if r.MaxAttempt < 2 {
		t.Errorf("the export of %s completed at attempt %d: the restart did not interrupt it", w, r.MaxAttempt)
	}
	st.verifyCLI(t, ctx, w.Start, w.End)
	a, err := st.audit(ctx, w.Start, w.End)
	if err != nil {
		t.Fatal(err)
	}
	recordAudit(t, "3 MariaDB restart mid-extract", a, fmt.Sprintf("1 window, attempt %d", r.MaxAttempt),
		fmt.Sprintf("restart at %d rows heartbeated, outage %s", p.Rows, outage.Round(100*time.Millisecond)))

	// 6: the API under load.
	st.checkLoad(t, ctx, userID, answers, loadStart, downAt, upAt)
	from, to := st.grid.Floor(loadStart), st.grid.Floor(time.Now()).Add(window)
	if err := st.waitExported(ctx, from, to, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	retriedWindows, _, err := st.retried(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	st.verifyCLI(t, ctx, from, to)
	a6, err := st.audit(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[int]int{}
	for _, an := range answers {
		counts[an.Status]++
	}
	recordAudit(t, "6 API load during MariaDB restart", a6, fmt.Sprintf("%d windows retried", retriedWindows),
		fmt.Sprintf("%d requests: %d x 201, %d x 503, %d other; every 201 has its post and log row", len(answers), counts[201], counts[503], len(answers)-counts[201]-counts[503]))
}

// checkLoad checks the answers of the load: only 201 or 503; 503s during the outage; every
// 201 committed with its log row; posts and post.create rows of the probe user agree one to
// one; and requests sent well after the restart all succeed.
func (st *stack) checkLoad(t *testing.T, ctx context.Context, userID uint64, answers []answer, loadStart, downAt, upAt time.Time) {
	t.Helper()
	// The probe user's posts and post.create rows, each read once (the log table is large and
	// has no index on post ids; occurred_at bounds the scan).
	posts := map[uint64]bool{}
	rows, err := st.db.DB.QueryContext(ctx, "SELECT id FROM posts WHERE user_id = ?", userID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id uint64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		posts[id] = true
	}
	rows.Close()
	type logRow struct {
		requestID string
		status    int
		n         int
	}
	logs := map[uint64]*logRow{}
	// Only the load creates the probe user's posts, with its own request ids (synthetic rows
	// of other faults carry random user ids, the probe's among them).
	rows, err = st.db.DB.QueryContext(ctx, `SELECT post_id, request_id, status FROM activity_log
		WHERE occurred_at >= ? AND action = 'post.create' AND user_id = ? AND request_id LIKE 'faults-load-%'`, loadStart.Add(-time.Minute), userID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id uint64
		var r logRow
		if err := rows.Scan(&id, &r.requestID, &r.status); err != nil {
			t.Fatal(err)
		}
		if prev, ok := logs[id]; ok {
			prev.n++
			continue
		}
		r.n = 1
		logs[id] = &r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}

	var created, unavailable, other, afterUp, afterUpOK int
	for _, a := range answers {
		switch a.Status {
		case http.StatusCreated:
			created++
			l := logs[a.PostID]
			if !posts[a.PostID] || l == nil || l.n != 1 || l.requestID != a.RequestID || l.status != http.StatusCreated {
				t.Errorf("%s answered 201 for post %d: post stored %v, log row %+v; want the post and exactly one post.create row of this request",
					a.RequestID, a.PostID, posts[a.PostID], l)
			}
		case http.StatusServiceUnavailable:
			unavailable++
		default:
			other++
			t.Errorf("%s sent at %s got %d %s: want 201, or 503 while the database is down", a.RequestID, a.Sent.Format("15:04:05.000"), a.Status, a.Err)
		}
		// Well after the restart (the pool notices dead connections on first use), the API
		// must serve again without being restarted.
		if a.Sent.After(upAt.Add(2 * time.Second)) {
			afterUp++
			if a.Status == http.StatusCreated {
				afterUpOK++
			}
		}
	}
	if unavailable == 0 {
		t.Errorf("no request got 503 during the %s outage", upAt.Sub(downAt).Round(100*time.Millisecond))
	}
	if afterUp < 10 || afterUpOK != afterUp {
		t.Errorf("after MariaDB was back: %d of %d requests succeeded, want all of at least 10", afterUpOK, afterUp)
	}
	// A 503 may hide a commit whose answer was lost with the connection; the transaction still
	// carries its log row. So posts and post.create rows of the user match one to one.
	for id := range posts {
		if l := logs[id]; l == nil || l.n != 1 {
			t.Errorf("post %d of the probe user has %v post.create log rows, want exactly 1", id, l)
		}
	}
	for id, l := range logs {
		if l.status == http.StatusCreated && !posts[id] {
			t.Errorf("post.create row of %s names post %d, which does not exist", l.requestID, id)
		}
	}
	resp, err := probeClient().Get(st.apiURL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz = %d after the restart", resp.StatusCode)
	}
	t.Logf("API load: %d requests, %d created, %d unavailable, %d other; %d/%d succeeded after the restart; %d posts, %d post.create rows",
		len(answers), created, unavailable, other, afterUpOK, afterUp, len(posts), len(logs))
}

// s3DownThenBack stops versitygw for longer than one schedule interval and starts it again. The
// windows whose scheduled runs fell in the outage fail their uploads and are retried with
// backoff until S3 answers: every one gets exported, none is skipped. It returns one window of
// the outage, for the late-commit fault.
func (st *stack) s3DownThenBack(t *testing.T, ctx context.Context) partition.Window {
	const outage = 70 * time.Second
	downAt := time.Now()
	st.s3.Stop()
	select {
	case <-time.After(outage):
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	if err := st.s3.Start(ctx); err != nil {
		t.Fatal(err)
	}
	upAt := time.Now()
	// The windows whose scheduled run fell in the outage (their end + lag in [downAt, upAt]),
	// and the one before, whose run may have been cut short.
	first := st.grid.Floor(downAt.Add(-safetyLag)).Add(window) // end of the first missed window
	last := st.grid.Floor(upAt.Add(-safetyLag))                // end of the last one
	from, to := first.Add(-2*window), last
	missed := int(last.Sub(first)/window) + 1
	if missed < 1 {
		t.Fatalf("no scheduled run fell in the %s outage (%s..%s)", outage, downAt, upAt)
	}
	t.Logf("S3 down %s..%s: %d scheduled window(s) missed", downAt.Format("15:04:05"), upAt.Format("15:04:05"), missed)
	if err := st.waitExported(ctx, from, to, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := st.waitNoOpenExports(ctx, from, to, time.Minute); err != nil {
		t.Fatal(err)
	}
	retriedWindows, _, err := st.retried(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if retriedWindows < missed {
		t.Errorf("%d windows were retried, want at least the %d whose runs fell in the outage", retriedWindows, missed)
	}
	st.verifyCLI(t, ctx, from, to)
	a, err := st.audit(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	recordAudit(t, "2 S3 down for "+outage.String(), a, fmt.Sprintf("%d windows retried", retriedWindows),
		fmt.Sprintf("%d scheduled window(s) fell in the outage, none skipped; verify schedule paused", missed))
	return partition.Window{Start: first.Add(-window), End: first}
}
