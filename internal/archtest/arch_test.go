package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/logetl/logetl"

// toolPackages are the module's tools: benchmarks, synthetic data, the local services of the
// dev stack and the tests, and the test-only programs. The product never imports them.
var toolPackages = []string{
	"internal/bench",
	"internal/synthetic",
	"internal/testenv",
	"internal/localsvc",
	"internal/devstack",
	"internal/archtest",
	"cmd/logetl-dev",
	"cmd/logetl-bench",
	"e2e",
	"faults",
}

// scope says which of a package's imports a rule looks at.
type scope string

const (
	direct     scope = "imports" // the package's own import lines
	transitive scope = "deps"    // everything it links, directly or not
)

// rules are the import rules (cited by docs/architecture.md). packages are module-relative
// patterns: "x" is the package x, "x/..." also the packages below it, "product" every
// package that is not a tool. forbidden are module-relative packages or standard-library
// import paths (with "/..." for their subpackages).
var rules = []struct {
	name      string
	packages  []string
	scope     scope
	forbidden []string
}{
	{
		name:      "the logetl binary holds what operators run: no tool package",
		packages:  []string{"cmd/logetl"},
		scope:     transitive,
		forbidden: []string{"internal/bench", "internal/synthetic", "internal/testenv", "internal/localsvc", "internal/devstack"},
	},
	{
		name:      "workflow code is deterministic: no I/O packages (activities do the I/O)",
		packages:  []string{"workflows/..."},
		scope:     direct,
		forbidden: []string{"internal/s3store", "internal/mysqlconn", "database/sql", "net/http", "os/exec"},
	},
	{
		name:      "local services are tooling: no product package imports them",
		packages:  []string{"product"},
		scope:     transitive,
		forbidden: []string{"internal/localsvc", "internal/testenv", "internal/devstack"},
	},
}

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// listPackages runs `go list -deps -json ./...` from the module root and keeps the module's
// own packages (non-test imports: tests may use the tools).
func listPackages(t *testing.T) map[string]pkg {
	t.Helper()
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Imports,Deps", "./...")
	cmd.Dir = strings.TrimSpace(string(root))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps -json ./...: %v\n%s", err, stderr.String())
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		if rel, ok := relative(p.ImportPath); ok {
			pkgs[rel] = p
		}
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no package of the module")
	}
	return pkgs
}

// relative is a module package's path below the module ("." for the root).
func relative(importPath string) (string, bool) {
	if importPath == module {
		return ".", true
	}
	rel, ok := strings.CutPrefix(importPath, module+"/")
	return rel, ok
}

// matches reports whether path is named by pattern ("x" or "x/...").
func matches(pattern, path string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == base || strings.HasPrefix(path, base+"/")
	}
	return path == pattern
}

func isTool(rel string) bool {
	return slices.ContainsFunc(toolPackages, func(t string) bool { return matches(t+"/...", rel) })
}

func selected(patterns []string, rel string) bool {
	for _, p := range patterns {
		if p == "product" && !isTool(rel) || p != "product" && matches(p, rel) {
			return true
		}
	}
	return false
}

// forbiddenBy is the rule's entry that names imp (a module import is matched module-relative,
// a standard-library one as is), or "".
func forbiddenBy(forbidden []string, imp string) string {
	name := imp
	if rel, ok := relative(imp); ok {
		name = rel
	}
	for _, f := range forbidden {
		if matches(f, name) {
			return f
		}
	}
	return ""
}

func TestImportRules(t *testing.T) {
	pkgs := listPackages(t)
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			checked := 0
			for rel, p := range pkgs {
				if !selected(r.packages, rel) {
					continue
				}
				checked++
				imports := p.Imports
				if r.scope == transitive {
					imports = p.Deps
				}
				for _, imp := range imports {
					if f := forbiddenBy(r.forbidden, imp); f != "" {
						t.Errorf("%s %s %s (forbidden: %s)", rel, r.scope, imp, f)
					}
				}
			}
			if checked == 0 {
				t.Errorf("no package matches %v: the rule checks nothing", r.packages)
			}
		})
	}
}

// The table's own helpers: a pattern that names nothing would make a rule silently pass.
func TestRulePatterns(t *testing.T) {
	for _, c := range []struct {
		pattern, path string
		want          bool
	}{
		{"workflows/...", "workflows", true},
		{"workflows/...", "workflows/sub", true},
		{"workflows/...", "workflowsx", false},
		{"cmd/logetl", "cmd/logetl-dev", false},
		{"net/http", "net/http", true},
		{"net/http", "net/http/httptest", false},
	} {
		if got := matches(c.pattern, c.path); got != c.want {
			t.Errorf("matches(%q, %q) = %v, want %v", c.pattern, c.path, got, c.want)
		}
	}
	if !isTool("internal/devstack") || isTool("internal/export") || !isTool("faults") {
		t.Error("isTool misclassifies packages")
	}
	if forbiddenBy([]string{"internal/s3store"}, module+"/internal/s3store") == "" || forbiddenBy([]string{"os/exec"}, "os") != "" {
		t.Error("forbiddenBy misreads import paths")
	}
}
