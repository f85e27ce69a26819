//go:build integration

package deploy

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// promtool parses every dashboard query (with Grafana's variables replaced) as a recording
// rule: the lexer above reads names, not syntax. It needs Debian's prometheus package
// (scripts/services.sh prometheus), like `make test-rules`.
func TestDashboardQueriesAreValidPromQL(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (scripts/services.sh prometheus installs it): %v", err)
	}
	vars := strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$table", ".*", "${table}", ".*")
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []rule
	queries := dashboardQueries(t)
	for _, where := range slices.Sorted(maps.Keys(queries)) {
		expr := vars.Replace(queries[where])
		if strings.Contains(expr, "$") {
			t.Errorf("%s: unknown Grafana variable in %q", where, queries[where])
		}
		rules = append(rules, rule{Record: fmt.Sprintf("dashboard:query:%d", len(rules)), Expr: expr})
	}
	body, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dashboard-queries.yml")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules on the dashboard's queries: %v\n%s\n%s", err, out, body)
	} else if !strings.Contains(string(out), fmt.Sprintf("SUCCESS: %d rules found", len(rules))) {
		t.Errorf("promtool did not check all %d queries:\n%s", len(rules), out)
	}
}
