//go:build faults

package faults

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"

	"github.com/logetl/logetl/internal/tablespec"
)

// metrics scrapes the worker's /metrics and returns its families by name.
func (st *stack) metrics(ctx context.Context) (map[string]*dto.MetricFamily, error) {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, st.metricsURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", st.metricsURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", st.metricsURL, resp.Status)
	}
	out := map[string]*dto.MetricFamily{}
	dec := expfmt.NewDecoder(resp.Body, expfmt.ResponseFormat(resp.Header))
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("decode %s: %w", st.metricsURL, err)
		}
		out[mf.GetName()] = &mf
	}
}

// counterValue sums the series of a counter family whose labels include want.
func counterValue(mf *dto.MetricFamily, want map[string]string) float64 {
	var sum float64
	for _, m := range mf.GetMetric() {
		if hasLabels(m, want) {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	got := map[string]string{}
	for _, l := range m.GetLabel() {
		got[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// histogramMax is an upper bound of the largest observation of a histogram family: the
// smallest bucket bound that holds every sample of every series (+Inf if some sample lies
// above the last bound), and the number of samples.
func histogramMax(mf *dto.MetricFamily) (bound float64, samples uint64) {
	for _, m := range mf.GetMetric() {
		h := m.GetHistogram()
		samples += h.GetSampleCount()
		if h.GetSampleCount() == 0 {
			continue
		}
		series := math.Inf(1)
		for _, b := range h.GetBucket() {
			if b.GetCumulativeCount() == h.GetSampleCount() && b.GetUpperBound() < series {
				series = b.GetUpperBound()
			}
		}
		bound = max(bound, series)
	}
	return bound, samples
}

// peakRSS is the highest resident set size of a process so far (VmHWM of /proc/<pid>/status).
func peakRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmHWM %q: %w", v, err)
			}
			return kb << 10, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmHWM", pid)
}

// pid is the process id of a running child.
func (p *proc) pid() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0, fmt.Errorf("%s is not running", p.name)
	}
	return p.cmd.Process.Pid, nil
}

// logLines returns the lines of a process's log (every start) that contain all of parts.
func logLines(path string, parts ...string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out, nil
}

// adminToken signs up the stack's admin (LOGETL_ADMIN_EMAILS) through the API and logs in.
func (st *stack) adminToken(ctx context.Context) (string, error) {
	hc := &http.Client{Timeout: 15 * time.Second}
	code, err := st.call(ctx, hc, http.MethodPost, "/user/signup/", "", "", map[string]string{
		"email": adminEmail, "nickname": "faultadmin", "gender": "M", "password": adminPassword, "password2": adminPassword,
		"name": "관리자", "birth_date": "1985-03-02",
	}, nil)
	if err != nil || (code != http.StatusCreated && code != http.StatusBadRequest) { // 400: signed up before
		return "", fmt.Errorf("admin signup: %d %v", code, err)
	}
	var login struct {
		Token struct {
			Access string `json:"access"`
		} `json:"token"`
	}
	code, err = st.call(ctx, hc, http.MethodPost, "/user/login/", "", "", map[string]string{"email": adminEmail, "password": adminPassword}, &login)
	if err != nil || code != http.StatusOK || login.Token.Access == "" {
		return "", fmt.Errorf("admin login: %d %v", code, err)
	}
	return login.Token.Access, nil
}

// postBackfill sends POST /admin/backfills to the API at base and returns the status and body.
func postBackfill(ctx context.Context, base, token string, body map[string]string) (int, string, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/admin/backfills", bytes.NewReader(b))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(answer), nil
}

// history returns the events of one run of a workflow.
func (st *stack) history(ctx context.Context, id, runID string) ([]*historypb.HistoryEvent, error) {
	it := st.tc.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var out []*historypb.HistoryEvent
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return out, fmt.Errorf("history of %s: %w", id, err)
		}
		out = append(out, ev)
	}
	return out, nil
}

// idColumn is the spec of the table's id column.
func (st *stack) idColumn() tablespec.Column {
	c, _ := st.spec.Column(st.spec.IDColumn)
	return c
}
