//go:build faults

package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/synthetic"
	"github.com/logetl/logetl/internal/testenv"
	"github.com/logetl/logetl/workflows"
)

const (
	// maxWorkerRSS bounds the worker's peak resident memory through a backfill of any length.
	maxWorkerRSS = 300 << 20
	// deadlockTimeout is the Go SDK's deadlock detection timeout: a workflow task that runs
	// workflow code this long without yielding fails with TMPRL1101 ("Potential deadlock
	// detected"). The SDK fixes it at one second (internal.defaultDeadlockDetectionTimeout).
	deadlockTimeout = time.Second
	// loweredRange is the --max-range of the refusal checks.
	loweredRange = "30d"
)

// TestBoundedRanges backfills 56 years of one-minute windows (29 million windows, a few hundred
// with rows) through POST /admin/backfills and `logetl backfill --wait`: both accepted under
// the default --max-range (36500d), the backfill plans page by page and continues as new, and
// the worker's peak memory and longest workflow task stay bounded. Ranges above the limit, the
// default one and a lowered one (LOGETL_MAX_RANGE=30d), are refused with the limit named: 400
// from the API, one line and a non-zero exit from the CLI.
func TestBoundedRanges(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	began := time.Now()
	st := startStack(ctx, t)

	to := st.grid.Floor(time.Now().Add(-safetyLag))
	from := st.grid.Floor(to.AddDate(-56, 0, 0))
	windows := int64(to.Sub(from) / window)
	// 60 clusters of 5 one-minute windows spread over the 56 years, 20 rows each. A page plans
	// at most 200 windows from the next row, so the backfill runs a page per cluster and
	// continues as new after each: 61 runs, none longer than a page.
	const clusters, clusterWindows, perWindow = 60, 5, 20
	step := (to.Sub(from) / clusters).Truncate(window)
	for i := range clusters {
		start := st.grid.Floor(from.Add(time.Duration(i)*step + 17*time.Hour))
		if _, err := synthetic.Load(ctx, st.db.DB, synthetic.Options{Rows: clusterWindows * perWindow, Seed: uint64(100 + i),
			Start: start, End: start.Add(clusterWindows * window)}); err != nil {
			t.Fatal(err)
		}
	}
	token, err := st.adminToken(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// Accepted: 56 years through the API, then the same range through the CLI, which joins the
	// run the API started (one range, one workflow id) and waits for it.
	body := map[string]string{"from": rfc(from), "to": rfc(to), "granularity": "daily"}
	code, answer, err := postBackfill(ctx, st.apiURL, token, body)
	if err != nil {
		t.Fatal(err)
	}
	var run struct {
		WorkflowID string `json:"workflow_id"`
	}
	_ = json.Unmarshal([]byte(answer), &run)
	wantID := workflows.BackfillID(table, from, to, partition.Daily)
	if code != http.StatusAccepted || run.WorkflowID != wantID {
		t.Fatalf("POST /admin/backfills of %s..%s (%d windows): %d %s, want 202 with %s", rfc(from), rfc(to), windows, code, answer, wantID)
	}
	bfStart := time.Now()
	out, err := st.cli(ctx, "backfill", "--from", rfc(from), "--to", rfc(to), "--wait")
	bfTook := time.Since(bfStart)
	if err != nil || !strings.Contains(out, "workflow id: "+wantID) {
		t.Fatalf("logetl backfill --wait over the same range: %v\n%s", err, out)
	}
	withRows, err := st.windowsWithRows(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	done, pages := backfillLine(out)
	if done != withRows || pages < clusters || !strings.Contains(out, "failed 0") {
		t.Errorf("backfill of 56 years: %q, want done %d (the windows with rows), failed 0, in a page per cluster (%d) or more", strings.TrimSpace(out), withRows, clusters)
	}

	// Bounded: the worker's peak memory and its longest workflow task.
	pid, err := st.worker.pid()
	if err != nil {
		t.Fatal(err)
	}
	rss, err := peakRSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	if rss >= maxWorkerRSS {
		t.Errorf("the worker's peak RSS is %d MiB, want under %d MiB", rss>>20, maxWorkerRSS>>20)
	}
	mfs, err := st.metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	taskMax, tasks := histogramMax(mfs["temporal_workflow_task_execution_latency_seconds"])
	if tasks == 0 {
		t.Errorf("the worker's /metrics has no temporal_workflow_task_execution_latency_seconds samples")
	}
	if taskMax > deadlockTimeout.Seconds() {
		t.Errorf("a workflow task took up to %gs, longer than the deadlock timeout (%s)", taskMax, deadlockTimeout)
	}
	var deadlocks int
	for _, needle := range []string{"TMPRL1101", "eadlock"} {
		lines, err := logLines(st.worker.logPath, needle)
		if err != nil {
			t.Fatal(err)
		}
		deadlocks += len(lines)
		for _, l := range lines {
			t.Errorf("worker log: %s", l)
		}
	}
	t.Logf("56 years (%d windows, %d with rows) backfilled in %s: %d pages; worker peak RSS %d MiB; %d workflow tasks, the longest at most %gs",
		windows, withRows, bfTook.Round(time.Second), pages, rss>>20, tasks, taskMax)

	// Refused above the default limit: 126 years from the CLI (the API refuses anything before
	// 1970 already).
	out, err = st.cli(ctx, "backfill", "--from", "1900-01-01T00:00:00Z", "--to", rfc(to))
	refusedDefault := checkRefusal(t, "logetl backfill of 126 years", out, err, "36500d")

	// A lowered limit: an API and the CLI with LOGETL_MAX_RANGE=30d refuse 31 days and accept 30.
	lowered := []string{"LOGETL_MAX_RANGE=" + loweredRange}
	api30, url30 := st.startExtraAPI(ctx, t, "api-"+loweredRange, lowered)
	defer api30.stop(30 * time.Second)
	over := map[string]string{"from": rfc(to.AddDate(0, 0, -31)), "to": rfc(to), "granularity": "daily"}
	code, answer, err = postBackfill(ctx, url30, token, over)
	if err != nil {
		t.Fatal(err)
	}
	if code != http.StatusBadRequest || !strings.Contains(answer, "limit of "+loweredRange) {
		t.Errorf("POST /admin/backfills of 31 days with LOGETL_MAX_RANGE=%s: %d %s, want 400 naming the limit", loweredRange, code, answer)
	}
	out, err = st.cliWith(ctx, lowered, "backfill", "--from", over["from"], "--to", over["to"])
	refusedLowered := checkRefusal(t, "logetl backfill of 31 days with LOGETL_MAX_RANGE="+loweredRange, out, err, loweredRange)
	atLimit := map[string]string{"from": rfc(to.AddDate(0, 0, -30)), "to": rfc(to), "granularity": "daily"}
	code, answer, err = postBackfill(ctx, url30, token, atLimit)
	if err != nil || code != http.StatusAccepted {
		t.Errorf("POST /admin/backfills of 30 days with LOGETL_MAX_RANGE=%s: %d %s %v, want 202", loweredRange, code, answer, err)
	}
	if out, err := st.cliWith(ctx, lowered, "backfill", "--from", atLimit["from"], "--to", atLimit["to"], "--wait"); err != nil || !strings.Contains(out, "failed 0") {
		t.Errorf("logetl backfill --wait of 30 days with LOGETL_MAX_RANGE=%s: %v\n%s", loweredRange, err, out)
	}

	// Nothing lost or doubled over the 56 years, and the operator's check agrees.
	verifyStart := time.Now()
	st.verifyCLI(t, ctx, from, to)
	verifyTook := time.Since(verifyStart)
	a, err := st.audit(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	recordAudit(t, "9 backfill of 56 years of 1-minute windows", a, fmt.Sprintf("%d pages, continued as new", pages),
		fmt.Sprintf("API 202 and CLI joined; worker peak RSS %d MiB (limit %d); longest workflow task <= %gs of %d (deadlock timeout %s), %d deadlock lines; verify of %d windows in %s; refused above the limit: %s; %s",
			rss>>20, maxWorkerRSS>>20, taskMax, tasks, deadlockTimeout, deadlocks, windows, verifyTook.Round(time.Second), refusedDefault, refusedLowered))
	note("bounded ranges: whole test %s", time.Since(began).Round(time.Second))
}

// backfillLine reads "done N, failed F, P pages, ..." from `logetl backfill --wait`.
func backfillLine(out string) (done, pages int) {
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "done "); ok {
			f := strings.Fields(strings.NewReplacer(",", " ").Replace(rest))
			if len(f) >= 5 {
				done, _ = strconv.Atoi(f[0])
				pages, _ = strconv.Atoi(f[3])
			}
		}
	}
	return done, pages
}

// checkRefusal checks a CLI refusal: a non-zero exit and one line that names the limit. It
// returns a summary of it.
func checkRefusal(t *testing.T, what, out string, err error, limit string) string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err == nil || len(lines) != 1 || !strings.Contains(lines[0], limit) {
		t.Errorf("%s: exit %v, output %q; want a non-zero exit and one line naming %s", what, err, out, limit)
		return "FAILED"
	}
	return fmt.Sprintf("CLI %v, one line naming %s", err, limit)
}

// startExtraAPI starts another `logetl api` of the stack on a free port with env added, and
// returns it and its URL.
func (st *stack) startExtraAPI(ctx context.Context, t *testing.T, name string, env []string) (*proc, string) {
	t.Helper()
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	p := &proc{name: name, bin: st.bin, args: []string{"api"}, env: append(append([]string{}, st.env...), append(env, "LOGETL_API_ADDR="+addr)...),
		logPath: filepath.Join(st.logs, name+".log")}
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	if err := waitHTTP(ctx, p, "http://"+addr+"/readyz", time.Minute); err != nil {
		p.stop(10 * time.Second)
		t.Fatal(err)
	}
	return p, "http://" + addr
}
