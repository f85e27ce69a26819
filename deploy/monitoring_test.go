package deploy

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// metricContract is every metric name that the worker and the API export for monitoring, with
// its type: the names that deploy/prometheus/alerts.yml and deploy/grafana/logetl.json may
// use. Renaming a metric means renaming it here, and then the rules and the dashboard fail
// these tests until they follow. Every pipeline metric carries a `table` label.
var metricContract = map[string]string{
	"logetl_export_rows_total":                "counter", // {table, granularity}
	"logetl_export_bytes_total":               "counter", // {table, granularity}
	"logetl_export_windows_total":             "counter", // {table, granularity}
	"logetl_export_failures_total":            "counter", // {table, granularity, kind=retryable|permanent}
	"logetl_export_duration_seconds":          "histogram",
	"logetl_export_newest_window_end_seconds": "gauge",
	"logetl_export_lag_seconds":               "gauge", // {table}
	"logetl_verify_runs_total":                "counter",
	"logetl_verify_windows":                   "gauge",
	"logetl_verify_mismatched_windows":        "gauge",
	"logetl_windows_repaired_total":           "counter", // {table, reason}
	"logetl_columns_not_exported":             "gauge",
	"logetl_purge_rows_total":                 "counter", // retention only
	"logetl_purge_refused_windows_total":      "counter", // {table, reason}; retention only
	"logetl_oldest_row_age_seconds":           "gauge",   // retention only
	"logetl_lake_daily_files_removed_total":   "counter", // S3 lifecycle only
	"logetl_lake_daily_bytes_removed_total":   "counter", // S3 lifecycle only
	"logetl_lake_weeks_kept":                  "gauge",   // S3 lifecycle only
	"logetl_bot_actions_total":                "counter", // {kind, outcome}
	"logetl_api_requests_total":               "counter", // {route, method, status}
	"logetl_api_request_duration_seconds":     "histogram",
}

// prometheusMetrics are the series Prometheus itself makes for every target.
var prometheusMetrics = []string{"up"}

// checkContractMetric reports why name may not be used in a query, or "".
func checkContractMetric(name string) string {
	if slices.Contains(prometheusMetrics, name) {
		return ""
	}
	if kind, ok := metricContract[name]; ok {
		if kind == "histogram" {
			return "a histogram has no series of its own name: use _bucket, _sum or _count"
		}
		return ""
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && metricContract[base] == "histogram" {
			return ""
		}
	}
	return "not a metric of the contract (metricContract in deploy/monitoring_test.go)"
}

// contractBase is the contract name a query's series name belongs to.
func contractBase(name string) string {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && metricContract[base] == "histogram" {
			return base
		}
	}
	return name
}

// A small PromQL lexer rather than the parser of the Prometheus module: that module would add
// a large dependency tree to go.mod for one test, and the metric names of selectors are all
// these tests need. Strings, label matchers, ranges and grouping label lists are cut first; the
// identifiers left are keywords, functions (followed by a parenthesis) or metric names.
var (
	promqlString   = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	promqlMatchers = regexp.MustCompile(`\{[^}]*\}`)
	promqlRange    = regexp.MustCompile(`\[[^\]]*\]`)
	promqlGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlToken    = regexp.MustCompile(`\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|[0-9][0-9A-Za-z_.]*|[A-Za-z_:][A-Za-z0-9_:]*`)
	promqlKeywords = []string{"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "atan2", "inf", "nan"}
)

// promqlMetrics returns the metric names that expr selects, sorted and without repeats. It
// fails on a selector by __name__, which it cannot read.
func promqlMetrics(expr string) ([]string, error) {
	if strings.Contains(expr, "__name__") {
		return nil, fmt.Errorf("selects by __name__: name the metric instead")
	}
	s := promqlString.ReplaceAllString(expr, `""`)
	s = promqlMatchers.ReplaceAllString(s, " ")
	s = promqlRange.ReplaceAllString(s, " ")
	s = promqlGrouping.ReplaceAllString(s, " ")
	seen := map[string]bool{}
	for _, loc := range promqlToken.FindAllStringIndex(s, -1) {
		tok := s[loc[0]:loc[1]]
		switch {
		case tok[0] == '$' || tok[0] >= '0' && tok[0] <= '9':
			continue // a Grafana variable or a number (1e3, 0.95; durations went with the ranges)
		case slices.Contains(promqlKeywords, strings.ToLower(tok)):
			continue
		case strings.HasPrefix(strings.TrimLeft(s[loc[1]:], " \t\n"), "("):
			continue // a function or an aggregation
		}
		seen[tok] = true
	}
	return slices.Sorted(maps.Keys(seen)), nil
}

func TestPromQLMetricsFindsTheSelectedMetrics(t *testing.T) {
	for _, tt := range []struct {
		expr string
		want []string
	}{
		{`sum by (table, granularity) (rate(logetl_export_rows_total{table=~"$table"}[$__rate_interval]))`, []string{"logetl_export_rows_total"}},
		{`histogram_quantile(0.95, sum by (le, route) (rate(a_bucket{status=~"5.."}[5m])))`, []string{"a_bucket"}},
		{`sum(x) by (table) / on (instance) group_left (reason) y > 1e3`, []string{"x", "y"}},
		{`x unless x offset 1h`, []string{"x"}},
		{`up{job="logetl-worker"} == 0 or absent(up{job="logetl-worker"})`, []string{"up"}},
		{`count(up == 1) > 0 unless on () count(lag == lag)`, []string{"lag", "up"}},
		{`time() - max(newest{label="with } and ) inside"})`, []string{"newest"}},
		{`min_over_time(g[1h:5m]) > bool 0 and h`, []string{"g", "h"}},
	} {
		got, err := promqlMetrics(tt.expr)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("promqlMetrics(%q) = %v, %v; want %v", tt.expr, got, err, tt.want)
		}
	}
	if _, err := promqlMetrics(`{__name__=~"logetl_.*"}`); err == nil {
		t.Error("a selector by __name__ must be refused: its metrics cannot be checked")
	}
}

// ---- deploy/prometheus ----

type promConfig struct {
	Global struct {
		ScrapeInterval     string `yaml:"scrape_interval"`
		EvaluationInterval string `yaml:"evaluation_interval"`
	} `yaml:"global"`
	RuleFiles []string `yaml:"rule_files"`
	Alerting  struct {
		Alertmanagers []struct {
			FileSDConfigs []fileSD `yaml:"file_sd_configs"`
		} `yaml:"alertmanagers"`
	} `yaml:"alerting"`
	ScrapeConfigs []struct {
		JobName       string   `yaml:"job_name"`
		MetricsPath   string   `yaml:"metrics_path"`
		FileSDConfigs []fileSD `yaml:"file_sd_configs"`
	} `yaml:"scrape_configs"`
}

type fileSD struct {
	Files []string `yaml:"files"`
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func decodeYAMLFile(t *testing.T, path string, v any) {
	t.Helper()
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalWithOptions(body, v, yaml.Strict()); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func loadPromConfig(t *testing.T) (promConfig, ruleFile) {
	t.Helper()
	var cfg promConfig
	decodeYAMLFile(t, "prometheus/prometheus.yml", &cfg)
	if len(cfg.RuleFiles) != 1 || cfg.RuleFiles[0] != "alerts.yml" {
		t.Fatalf("prometheus.yml rule_files = %v, want [alerts.yml]", cfg.RuleFiles)
	}
	var rules ruleFile
	decodeYAMLFile(t, filepath.Join("prometheus", cfg.RuleFiles[0]), &rules)
	return cfg, rules
}

var jobSelector = regexp.MustCompile(`\bjob\s*(=~?)\s*"([^"]*)"`)

// jobsOf returns the job names an expression selects by an exact job matcher, and those a
// regex matcher lists as plain alternatives (a|b).
func jobsOf(expr string) []string {
	var jobs []string
	for _, m := range jobSelector.FindAllStringSubmatch(expr, -1) {
		if m[1] == "=" {
			jobs = append(jobs, m[2])
		} else {
			jobs = append(jobs, strings.Split(m[2], "|")...)
		}
	}
	return jobs
}

func TestPrometheusConfigScrapesWorkerAndAPIFromTargetFiles(t *testing.T) {
	cfg, _ := loadPromConfig(t)
	known := configSettings(t)
	// The target files list the hosts' default addresses, as internal/config declares them.
	wantAddr := map[string]string{"logetl-worker": known["LOGETL_WORKER_METRICS_ADDR"].Default, "logetl-api": known["LOGETL_API_ADDR"].Default}
	jobs := map[string]bool{}
	for _, sc := range cfg.ScrapeConfigs {
		jobs[sc.JobName] = true
		if sc.MetricsPath != "/metrics" {
			t.Errorf("job %s: metrics_path %q, want /metrics", sc.JobName, sc.MetricsPath)
		}
		if len(sc.FileSDConfigs) != 1 || len(sc.FileSDConfigs[0].Files) != 1 {
			t.Errorf("job %s: want one file_sd file (faults/alerts_test.go writes its own targets there)", sc.JobName)
			continue
		}
		var groups []struct {
			Targets []string          `yaml:"targets"`
			Labels  map[string]string `yaml:"labels"`
		}
		decodeYAMLFile(t, filepath.Join("prometheus", sc.FileSDConfigs[0].Files[0]), &groups)
		if len(groups) != 1 || len(groups[0].Targets) != 1 || groups[0].Targets[0] != wantAddr[sc.JobName] {
			t.Errorf("job %s: targets %v, want [%s] (the default address in internal/config)", sc.JobName, groups, wantAddr[sc.JobName])
		}
		if _, _, err := net.SplitHostPort(wantAddr[sc.JobName]); err != nil {
			t.Errorf("job %s: default address %q: %v", sc.JobName, wantAddr[sc.JobName], err)
		}
	}
	for job := range wantAddr {
		if !jobs[job] {
			t.Errorf("prometheus.yml has no scrape job %s", job)
		}
	}
	if am := cfg.Alerting.Alertmanagers; len(am) != 1 || len(am[0].FileSDConfigs) != 1 {
		t.Error("prometheus.yml: want one Alertmanager set from a file_sd file")
	} else {
		for _, f := range am[0].FileSDConfigs[0].Files {
			if _, err := os.Stat(filepath.Join("prometheus", f)); err != nil {
				t.Errorf("Alertmanager target file: %v", err)
			}
		}
	}
}

func TestAlertRulesUseContractMetricsAndScrapedJobs(t *testing.T) {
	cfg, rules := loadPromConfig(t)
	jobs := map[string]bool{}
	for _, sc := range cfg.ScrapeConfigs {
		jobs[sc.JobName] = true
	}
	want := []string{"LogetlExportLagHigh", "LogetlExportFailing", "LogetlVerifyMismatch", "LogetlPurgeRefused", "LogetlWorkerDown"}
	var alerts []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			if r.Alert == "" {
				t.Errorf("group %s: a rule without alert name (recording rules belong elsewhere)", g.Name)
			}
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q, want critical or warning", r.Alert, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: want summary and description annotations", r.Alert)
			}
			names, err := promqlMetrics(r.Expr)
			if err != nil {
				t.Errorf("%s: %v", r.Alert, err)
			}
			for _, n := range names {
				if why := checkContractMetric(n); why != "" {
					t.Errorf("%s uses %s: %s", r.Alert, n, why)
				}
			}
			for _, j := range jobsOf(r.Expr) {
				if !jobs[j] {
					t.Errorf("%s selects job %q, which prometheus.yml does not scrape", r.Alert, j)
				}
			}
		}
	}
	for _, a := range want {
		if !slices.Contains(alerts, a) {
			t.Errorf("alerts.yml has no %s", a)
		}
	}
}

// ---- deploy/grafana ----

type grafanaDatasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type grafanaPanel struct {
	ID          int                      `json:"id"`
	Type        string                   `json:"type"`
	Title       string                   `json:"title"`
	Description string                   `json:"description"`
	Datasource  *grafanaDatasource       `json:"datasource"`
	GridPos     struct{ H, W, X, Y int } `json:"gridPos"`
	Targets     []struct {
		Datasource *grafanaDatasource `json:"datasource"`
		RefID      string             `json:"refId"`
		Expr       string             `json:"expr"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"` // a collapsed row's
}

type grafanaDashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name       string             `json:"name"`
			Type       string             `json:"type"`
			Query      any                `json:"query"`
			Datasource *grafanaDatasource `json:"datasource"`
			Definition string             `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
	Panels []grafanaPanel `json:"panels"`
}

func loadDashboard(t *testing.T) (grafanaDashboard, []grafanaPanel) {
	t.Helper()
	body, err := os.ReadFile("grafana/logetl.json")
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatalf("grafana/logetl.json: %v", err)
	}
	var all []grafanaPanel
	for _, p := range d.Panels {
		all = append(all, p)
		all = append(all, p.Panels...)
	}
	return d, all
}

// dashboardQueries returns every PromQL query of the dashboard, by where it is.
func dashboardQueries(t *testing.T) map[string]string {
	t.Helper()
	d, panels := loadDashboard(t)
	out := map[string]string{}
	labelValues := regexp.MustCompile(`^label_values\(\s*([^,)]+)\s*,\s*\w+\s*\)$`)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.Definition)
		if m == nil {
			t.Errorf("variable %s: definition %q, want label_values(<selector>, <label>)", v.Name, v.Definition)
			continue
		}
		out["variable "+v.Name] = m[1]
	}
	for _, p := range panels {
		for _, tg := range p.Targets {
			out[fmt.Sprintf("panel %q %s", p.Title, tg.RefID)] = tg.Expr
		}
	}
	return out
}

func TestDashboardIsGrafanaJSONOnAPrometheusDatasourceVariable(t *testing.T) {
	d, panels := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Error("dashboard needs a uid and a title")
	}
	// 36 is the first schema with datasources as {type, uid} objects, which this file uses.
	if d.SchemaVersion < 36 {
		t.Errorf("schemaVersion %d, want >= 36", d.SchemaVersion)
	}
	dsVar := ""
	for _, v := range d.Templating.List {
		if v.Type == "datasource" {
			if v.Query != "prometheus" {
				t.Errorf("datasource variable %s: query %v, want prometheus", v.Name, v.Query)
			}
			dsVar = "${" + v.Name + "}"
		}
	}
	if dsVar == "" {
		t.Fatal("no datasource variable: the dashboard must not name a datasource of one Grafana")
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" && (v.Datasource == nil || v.Datasource.UID != dsVar) {
			t.Errorf("variable %s does not query %s", v.Name, dsVar)
		}
	}
	ids := map[int]string{}
	type cell struct{ x, y int }
	cells := map[cell]string{}
	for _, p := range panels {
		if other, dup := ids[p.ID]; dup || p.ID == 0 {
			t.Errorf("panel %q: id %d missing or also used by %q", p.Title, p.ID, other)
		}
		ids[p.ID] = p.Title
		g := p.GridPos
		if g.W < 1 || g.H < 1 || g.X < 0 || g.X+g.W > 24 || g.Y < 0 {
			t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, g)
		}
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if other, taken := cells[cell{x, y}]; taken {
					t.Errorf("panel %q overlaps %q at %d,%d", p.Title, other, x, y)
				}
				cells[cell{x, y}] = p.Title
			}
		}
		if p.Type == "row" {
			continue
		}
		if !slices.Contains([]string{"timeseries", "stat", "gauge", "bargauge", "table"}, p.Type) {
			t.Errorf("panel %q: type %q", p.Title, p.Type)
		}
		if p.Title == "" || p.Description == "" {
			t.Errorf("panel %d: want a title and a description", p.ID)
		}
		if p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != dsVar {
			t.Errorf("panel %q: datasource %+v, want {prometheus %s}", p.Title, p.Datasource, dsVar)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if tg.Expr == "" || tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("panel %q: query %q with empty or repeated refId %q", p.Title, tg.Expr, tg.RefID)
			}
			refs[tg.RefID] = true
			if tg.Datasource != nil && tg.Datasource.UID != dsVar {
				t.Errorf("panel %q %s: datasource %+v, want %s", p.Title, tg.RefID, tg.Datasource, dsVar)
			}
		}
	}
}

func TestDashboardShowsEveryContractMetricAndNoOther(t *testing.T) {
	cfg, _ := loadPromConfig(t)
	jobs := map[string]bool{}
	for _, sc := range cfg.ScrapeConfigs {
		jobs[sc.JobName] = true
	}
	used := map[string]bool{}
	for where, expr := range dashboardQueries(t) {
		names, err := promqlMetrics(expr)
		if err != nil {
			t.Errorf("%s: %v", where, err)
		}
		for _, n := range names {
			if why := checkContractMetric(n); why != "" {
				t.Errorf("%s uses %s: %s", where, n, why)
			}
			used[contractBase(n)] = true
		}
		for _, j := range jobsOf(expr) {
			if !jobs[j] {
				t.Errorf("%s selects job %q, which prometheus.yml does not scrape", where, j)
			}
		}
	}
	for name := range metricContract {
		if !used[name] {
			t.Errorf("no panel shows %s", name)
		}
	}
}
