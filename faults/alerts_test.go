//go:build faults

package faults

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/logetl/logetl/internal/testenv"
)

// The lag alert at the stack's time scale. Prometheus runs deploy/prometheus/prometheus.yml and
// alerts.yml as shipped but for these numbers: the expression, labels and annotations of the
// rule are the shipped ones, so the shipped thresholds stay defined once, in alerts.yml.
const (
	lagAlert = "LogetlExportLagHigh"
	// Above the stack's normal lag (a one-minute window, the 10 s safety lag and a short export:
	// about 75 s before each export) and reached within two minutes of an S3 outage.
	testLagThreshold = 120 // seconds
	testLagFor       = 10 * time.Second
	// Scrape and evaluation interval, instead of prometheus.yml's 30 s.
	promInterval = 2 * time.Second
)

// lagThreshold is the last term of the lag rule's expr, the number this test replaces.
var lagThreshold = regexp.MustCompile(`>\s*[0-9][0-9.e+]*\s*$`)

// TestLagAlert runs a real Prometheus (Debian's package) with the shipped scrape config and
// rules against the stack's worker and API, stops versitygw until the lag alert fires, starts
// it again and waits until the alert resolves.
func TestLagAlert(t *testing.T) {
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("prometheus not found (scripts/services.sh prometheus installs Debian's package): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	st := startStack(ctx, t)
	prom := startPrometheus(ctx, t, st, promBin)

	prom.await(ctx, t, "both scrape jobs up", time.Minute, func(ctx context.Context) (bool, string, error) {
		res, err := prom.api.Targets(ctx)
		if err != nil {
			return false, "", err
		}
		up := map[string]bool{}
		var seen []string
		for _, tg := range res.Active {
			up[tg.ScrapePool] = up[tg.ScrapePool] || tg.Health == promv1.HealthGood
			seen = append(seen, fmt.Sprintf("%s %s: %s %s", tg.ScrapePool, tg.ScrapeURL, tg.Health, tg.LastError))
		}
		return up["logetl-worker"] && up["logetl-api"], strings.Join(seen, "; "), nil
	})
	rule := prom.await(ctx, t, "a first export (a finite lag) and a healthy lag rule", 3*time.Minute, func(ctx context.Context) (bool, string, error) {
		lag, err := prom.lag(ctx)
		if err != nil || lag == "" {
			return false, "no finite logetl_export_lag_seconds yet", err
		}
		r, err := prom.rule(ctx, lagAlert)
		if err != nil {
			return false, "", err
		}
		if want := fmt.Sprintf("> %d", testLagThreshold); !strings.HasSuffix(r.Query, want) || r.Duration != testLagFor.Seconds() {
			return false, "", fmt.Errorf("Prometheus runs %s as %q for %gs, not the test's copy (%s for %s)", lagAlert, r.Query, r.Duration, want, testLagFor)
		}
		return r.Health == promv1.RuleHealthGood, fmt.Sprintf("lag %s; rule %q for %gs, health %q %s", lag, r.Query, r.Duration, r.Health, r.LastError), nil
	})
	t.Logf("%s: %s", lagAlert, rule)
	if state, value, err := prom.alert(ctx, lagAlert); err != nil || state != "" {
		t.Fatalf("%s is %q (value %s, %v) while exports run: the test threshold (%d s) is below this machine's normal lag", lagAlert, state, value, err, testLagThreshold)
	}

	healthyLag := st.checkStatusHealthy(ctx, t)
	downAt := time.Now()
	st.s3.Stop()
	fired := prom.await(ctx, t, lagAlert+" firing while S3 is down", 5*time.Minute, func(ctx context.Context) (bool, string, error) {
		state, value, err := prom.alert(ctx, lagAlert)
		return state == string(promv1.AlertStateFiring), fmt.Sprintf("state %q, value %s", state, value), err
	})
	firedAfter := time.Since(downAt).Round(time.Second)
	t.Logf("%s fired %s after S3 stopped (%s)", lagAlert, firedAfter, fired)
	statusSeen := st.checkStatusDuringOutage(ctx, t, healthyLag)
	t.Logf("logetl status while S3 is down: %s", statusSeen)

	upAt := time.Now()
	if err := st.s3.Start(ctx); err != nil {
		t.Fatal(err)
	}
	resolved := prom.await(ctx, t, lagAlert+" resolved once S3 is back", 5*time.Minute, func(ctx context.Context) (bool, string, error) {
		state, value, err := prom.alert(ctx, lagAlert)
		if err != nil || state != "" {
			return false, fmt.Sprintf("state %q, value %s", state, value), err
		}
		r, err := prom.rule(ctx, lagAlert)
		if err != nil {
			return false, "", err
		}
		lag, err := prom.lag(ctx)
		return r.State == "inactive", fmt.Sprintf("rule %s, lag %s", r.State, lag), err
	})
	resolvedAfter := time.Since(upAt).Round(time.Second)
	t.Logf("%s resolved %s after S3 came back (%s)", lagAlert, resolvedAfter, resolved)
	if s, failed := st.status(ctx, t); failed || s.LagSource != "lake" {
		t.Fatalf("logetl status after S3 came back: exit non-zero %v, %+v", failed, s)
	}
	note("lag alert (threshold %d s for %s, Prometheus every %s): fired %s after S3 stopped, resolved %s after it came back",
		testLagThreshold, testLagFor, promInterval, firedAfter, resolvedAfter)
	note("logetl status with S3 down: %s; exit 0 again once it is back", statusSeen)
}

type prometheusServer struct {
	*proc
	url string
	api promv1.API
}

// startPrometheus runs Prometheus on a free port with its own data folder and the config that
// writePrometheusConfig derives from deploy/prometheus, and stops it when the test ends.
func startPrometheus(ctx context.Context, t *testing.T, st *stack, bin string) *prometheusServer {
	t.Helper()
	mod, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	worker, err := url.Parse(st.metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	api, err := url.Parse(st.apiURL)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(st.root, "prometheus")
	if err := writePrometheusConfig(filepath.Join(mod, "deploy", "prometheus"), dir, map[string]string{"logetl-worker": worker.Host, "logetl-api": api.Host}); err != nil {
		t.Fatal(err)
	}
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	p := &prometheusServer{
		proc: &proc{name: "prometheus", bin: bin, env: cleanEnv(), logPath: filepath.Join(st.logs, "prometheus.log"), args: []string{
			"--config.file=" + filepath.Join(dir, "prometheus.yml"),
			"--storage.tsdb.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=" + addr,
		}},
		url: "http://" + addr,
	}
	client, err := promapi.NewClient(promapi.Config{Address: p.url})
	if err != nil {
		t.Fatal(err)
	}
	p.api = promv1.NewAPI(client)
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.stop(10 * time.Second) })
	if err := waitHTTP(ctx, p.proc, p.url+"/-/ready", time.Minute); err != nil {
		t.Fatal(err)
	}
	return p
}

// writePrometheusConfig writes into dir what Prometheus runs with: src's prometheus.yml with
// only the global scrape and evaluation intervals shortened; its file_sd target files (where
// every deployment lists its addresses) naming targets' addresses by job, and no
// Alertmanager; its rule files with testRules applied.
func writePrometheusConfig(src, dir string, targets map[string]string) error {
	var cfg map[string]any
	if err := readYAML(filepath.Join(src, "prometheus.yml"), &cfg); err != nil {
		return err
	}
	global, _ := cfg["global"].(map[string]any)
	if global == nil {
		global = map[string]any{}
		cfg["global"] = global
	}
	global["scrape_interval"], global["evaluation_interval"] = promInterval.String(), promInterval.String()

	write := func(rel string, body []byte) error {
		path := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		return os.WriteFile(path, body, 0o600)
	}
	scrapes, _ := cfg["scrape_configs"].([]any)
	jobs := map[string]bool{}
	for _, s := range scrapes {
		sc, _ := s.(map[string]any)
		job, _ := sc["job_name"].(string)
		addr, ok := targets[job]
		if !ok {
			return fmt.Errorf("prometheus.yml scrapes job %q, which the stack does not run", job)
		}
		files := fileSDFiles(sc)
		if len(files) != 1 {
			return fmt.Errorf("prometheus.yml job %s: want one file_sd file for the test's targets, have %v", job, files)
		}
		if err := write(files[0], fmt.Appendf(nil, "- targets: [%q]\n", addr)); err != nil {
			return err
		}
		jobs[job] = true
	}
	for job := range targets {
		if !jobs[job] {
			return fmt.Errorf("prometheus.yml has no scrape job %q", job)
		}
	}
	if alerting, _ := cfg["alerting"].(map[string]any); alerting != nil {
		ams, _ := alerting["alertmanagers"].([]any)
		for _, am := range ams {
			amc, _ := am.(map[string]any)
			for _, f := range fileSDFiles(amc) {
				if err := write(f, []byte("[]\n")); err != nil {
					return err
				}
			}
		}
	}

	rewritten := 0
	ruleFiles, _ := cfg["rule_files"].([]any)
	for _, r := range ruleFiles {
		name, _ := r.(string)
		body, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return err
		}
		out, n, err := testRules(body)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		rewritten += n
		if err := write(name, out); err != nil {
			return err
		}
	}
	if rewritten != 1 {
		return fmt.Errorf("the rule files of prometheus.yml define %s %d times, want once", lagAlert, rewritten)
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	return write("prometheus.yml", out)
}

func readYAML(path string, v any) error {
	body, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func fileSDFiles(section map[string]any) []string {
	var files []string
	sds, _ := section["file_sd_configs"].([]any)
	for _, sd := range sds {
		sdm, _ := sd.(map[string]any)
		fs, _ := sdm["files"].([]any)
		for _, f := range fs {
			if s, ok := f.(string); ok {
				files = append(files, s)
			}
		}
	}
	return files
}

// testRules returns a rule file with the lag alert's threshold and `for` set to the test's, and
// how many lag alerts it changed.
func testRules(body []byte) ([]byte, int, error) {
	var file map[string]any
	if err := yaml.Unmarshal(body, &file); err != nil {
		return nil, 0, err
	}
	n := 0
	groups, _ := file["groups"].([]any)
	for _, g := range groups {
		group, _ := g.(map[string]any)
		rules, _ := group["rules"].([]any)
		for _, r := range rules {
			rule, _ := r.(map[string]any)
			if rule["alert"] != lagAlert {
				continue
			}
			expr, _ := rule["expr"].(string)
			if !lagThreshold.MatchString(expr) {
				return nil, 0, fmt.Errorf("%s: expr %q does not end in `> <threshold>`, the part this test replaces", lagAlert, expr)
			}
			rule["expr"] = lagThreshold.ReplaceAllString(strings.TrimSpace(expr), fmt.Sprintf("> %d", testLagThreshold))
			rule["for"] = testLagFor.String()
			n++
		}
	}
	out, err := yaml.Marshal(file)
	return out, n, err
}

// await polls check every second until it reports done, and fails the test with what it last
// saw and the tail of Prometheus's log after timeout. It returns the last detail.
func (p *prometheusServer) await(ctx context.Context, t *testing.T, what string, timeout time.Duration, check func(context.Context) (bool, string, error)) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var detail string
	var lastErr error
	for {
		if !p.alive() {
			t.Fatalf("prometheus exited while waiting for %s: %s", what, tailFile(p.logPath, 3000))
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		done, d, err := check(cctx)
		cancel()
		if d != "" {
			detail = d
		}
		lastErr = err
		if done && err == nil {
			return detail
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("no %s within %s: last seen %s (error %v)\nprometheus log:\n%s", what, timeout, detail, lastErr, tailFile(p.logPath, 3000))
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// alert returns the named alert's state as /api/v1/alerts lists it: "firing" when one of its
// series fires, else "pending", else "" (inactive or resolved, which it does not list).
func (p *prometheusServer) alert(ctx context.Context, name string) (state, value string, err error) {
	res, err := p.api.Alerts(ctx)
	if err != nil {
		return "", "", fmt.Errorf("GET /api/v1/alerts: %w", err)
	}
	for _, a := range res.Alerts {
		if string(a.Labels[model.AlertNameLabel]) != name {
			continue
		}
		if a.State == promv1.AlertStateFiring || state == "" {
			state, value = string(a.State), a.Value
		}
	}
	return state, value, nil
}

// rule returns the named alerting rule as Prometheus loaded it.
func (p *prometheusServer) rule(ctx context.Context, name string) (promv1.AlertingRule, error) {
	res, err := p.api.Rules(ctx, nil)
	if err != nil {
		return promv1.AlertingRule{}, fmt.Errorf("GET /api/v1/rules: %w", err)
	}
	for _, g := range res.Groups {
		for _, r := range g.Rules {
			if ar, ok := r.(promv1.AlertingRule); ok && ar.Name == name {
				return ar, nil
			}
		}
	}
	return promv1.AlertingRule{}, errors.New("Prometheus has not loaded " + name)
}

// lag returns the lake's lag as the rule sees it ("" while no worker has a finite one).
func (p *prometheusServer) lag(ctx context.Context) (string, error) {
	v, _, _, err := p.api.Query(ctx, "min by (table) (logetl_export_lag_seconds) >= 0", time.Now())
	if err != nil {
		return "", fmt.Errorf("query the lag: %w", err)
	}
	vec, _ := v.(model.Vector)
	var out []string
	for _, s := range vec {
		out = append(out, fmt.Sprintf("%s=%.0fs", s.Metric, float64(s.Value)))
	}
	return strings.Join(out, " "), nil
}
