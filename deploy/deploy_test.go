// Package deploy holds how logetl runs for real (compose, systemd, Kubernetes). No Docker engine
// or cluster runs where the tests do, so these tests read the files and check them against the
// one source of truth for settings: the kong `env` tags of the config structs.
package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"go/version"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/logetl/logetl/internal/config"
)

// setting is one kong-tagged field: its env var and its default.
type setting struct {
	Env, Default, File string
}

// configSettings reads every kong `env` tag of the struct fields in internal/config and in the
// command structs of cmd/logetl. It walks the source rather than a hand-kept list of types so
// that a settings group added by anyone is covered without touching this test; the tags are
// parsed with reflect.StructTag, exactly as kong reads them.
func configSettings(t *testing.T) map[string]setting {
	t.Helper()
	out := map[string]setting{}
	for _, dir := range []string{"../internal/config", "../cmd/logetl"} {
		fset := token.NewFileSet()
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatalf("parse %s: %v", file, err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				field, ok := n.(*ast.Field)
				if !ok || field.Tag == nil {
					return true
				}
				raw, err := strconv.Unquote(field.Tag.Value)
				if err != nil {
					t.Fatalf("%s: tag %s: %v", fset.Position(field.Pos()), field.Tag.Value, err)
				}
				tag := reflect.StructTag(raw)
				for _, env := range strings.Split(tag.Get("env"), ",") {
					if env = strings.TrimSpace(env); env != "" {
						out[env] = setting{Env: env, Default: tag.Get("default"), File: filepath.Base(file)}
					}
				}
				return true
			})
		}
	}
	if len(out) < 10 {
		t.Fatalf("found only %d settings in the config sources: the scan is broken", len(out))
	}
	return out
}

// TestConfigScanMatchesReflection guards the source scan: every env tag that reflection finds
// on the config groups must be found by it too.
func TestConfigScanMatchesReflection(t *testing.T) {
	scanned := configSettings(t)
	for _, group := range []any{config.DataDir{}, config.MySQL{}, config.API{}, config.APIClient{}, config.Temporal{}, config.S3{}, config.Keyring{}, config.Partitioning{}, config.Export{}, config.Log{}} {
		typ := reflect.TypeOf(group)
		for i := range typ.NumField() {
			env := typ.Field(i).Tag.Get("env")
			if env == "" {
				continue
			}
			got, ok := scanned[env]
			if !ok {
				t.Errorf("%s.%s: env %s missed by the source scan", typ.Name(), typ.Field(i).Name, env)
				continue
			}
			if want := typ.Field(i).Tag.Get("default"); got.Default != want {
				t.Errorf("%s default: scan %q, reflection %q", env, got.Default, want)
			}
		}
	}
}

var logetlEnvName = regexp.MustCompile(`\bLOGETL_[A-Z0-9_]+\b`)

// Variables that are not settings of logetl itself but of its test harness.
var notSettings = []string{"LOGETL_TEST_MYSQL_DSN", "LOGETL_BENCH_ROWS"}

func checkKnown(t *testing.T, where string, names []string, known map[string]setting) {
	t.Helper()
	for _, n := range names {
		if _, ok := known[n]; !ok && !slices.Contains(notSettings, n) {
			t.Errorf("%s uses %s, which is no setting of internal/config or cmd/logetl", where, n)
		}
	}
}

// ---- docker-compose.yml ----

// composeFile decodes strictly: an unknown (misspelt) key fails the test instead of being
// silently ignored as docker compose would not.
type composeFile struct {
	Name     string                    `yaml:"name"`
	Anchors  map[string]string         `yaml:"x-logetl-env"`
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string                       `yaml:"image"`
	Build       any                          `yaml:"build"`
	Command     any                          `yaml:"command"`
	Entrypoint  any                          `yaml:"entrypoint"`
	Environment map[string]string            `yaml:"environment"`
	Ports       []string                     `yaml:"ports"`
	Volumes     []string                     `yaml:"volumes"`
	DependsOn   map[string]composeDependency `yaml:"depends_on"`
	Healthcheck *composeHealthcheck          `yaml:"healthcheck"`
	Restart     string                       `yaml:"restart"`
}

type composeDependency struct {
	Condition string `yaml:"condition"`
}

type composeHealthcheck struct {
	Test        []string `yaml:"test"`
	Interval    string   `yaml:"interval"`
	Timeout     string   `yaml:"timeout"`
	Retries     int      `yaml:"retries"`
	StartPeriod string   `yaml:"start_period"`
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	body, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.UnmarshalWithOptions(body, &c, yaml.Strict()); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return c
}

// oneShot services run to completion (setup steps); they need no health check.
func (s composeService) oneShot() bool { return s.Restart == "no" }

func TestComposeHasTheWholeStackWithHealthChecksAndStartOrder(t *testing.T) {
	c := loadCompose(t)
	for _, name := range []string{"mysql", "temporal", "temporal-ui", "s3", "api", "worker"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("service %s missing", name)
		}
	}
	if img := c.Services["mysql"].Image; !strings.HasPrefix(img, "mysql:8") {
		t.Errorf("mysql image %q, want MySQL 8", img)
	}
	for _, name := range []string{"api", "worker"} {
		s := c.Services[name]
		if s.Build != "." {
			t.Errorf("%s: build %v, want the repository's Dockerfile (build: .)", name, s.Build)
		}
		if s.Restart != "on-failure" && s.Restart != "unless-stopped" && s.Restart != "always" {
			t.Errorf("%s: restart %q, want a restart policy", name, s.Restart)
		}
	}
	if got := c.Services["api"].Command; !reflect.DeepEqual(got, []any{"api"}) {
		t.Errorf("api command %v", got)
	}
	if got := c.Services["worker"].Command; !reflect.DeepEqual(got, []any{"worker"}) {
		t.Errorf("worker command %v", got)
	}

	for name, s := range c.Services {
		if s.Image == "" && s.Build == nil {
			t.Errorf("%s: neither image nor build", name)
		}
		if !s.oneShot() {
			if s.Healthcheck == nil || len(s.Healthcheck.Test) < 2 || (s.Healthcheck.Test[0] != "CMD" && s.Healthcheck.Test[0] != "CMD-SHELL") {
				t.Errorf("%s: long-running service without a CMD/CMD-SHELL health check", name)
			}
		}
		for dep, cond := range s.DependsOn {
			target, ok := c.Services[dep]
			if !ok {
				t.Errorf("%s depends on unknown service %s", name, dep)
				continue
			}
			switch cond.Condition {
			case "service_healthy":
				if target.Healthcheck == nil {
					t.Errorf("%s waits for %s to be healthy, but %s has no health check", name, dep, dep)
				}
			case "service_completed_successfully":
				if !target.oneShot() {
					t.Errorf("%s waits for %s to complete, but %s is not a one-shot (restart: \"no\")", name, dep, dep)
				}
			default:
				t.Errorf("%s -> %s: condition %q, want service_healthy or service_completed_successfully", name, dep, cond.Condition)
			}
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if !strings.HasPrefix(src, ".") && !strings.HasPrefix(src, "/") {
				if _, ok := c.Volumes[src]; !ok {
					t.Errorf("%s mounts undeclared volume %s", name, src)
				}
			}
		}
	}
	if cycle := dependencyCycle(c); cycle != "" {
		t.Errorf("depends_on cycle: %s", cycle)
	}
	// The start order the stack needs, directly or through other services.
	for _, edge := range [][2]string{{"api", "mysql"}, {"api", "temporal"}, {"worker", "temporal"}, {"worker", "s3"}, {"worker", "mysql"}, {"temporal", "postgresql"}, {"temporal-ui", "temporal"}} {
		if !reaches(c, edge[0], edge[1]) {
			t.Errorf("%s does not wait for %s", edge[0], edge[1])
		}
	}
}

func dependencyCycle(c composeFile) string {
	state := map[string]int{}
	var visit func(n string, path []string) string
	visit = func(n string, path []string) string {
		switch state[n] {
		case 1:
			return strings.Join(append(path, n), " -> ")
		case 2:
			return ""
		}
		state[n] = 1
		for dep := range c.Services[n].DependsOn {
			if cyc := visit(dep, append(path, n)); cyc != "" {
				return cyc
			}
		}
		state[n] = 2
		return ""
	}
	for n := range c.Services {
		if cyc := visit(n, nil); cyc != "" {
			return cyc
		}
	}
	return ""
}

func reaches(c composeFile, from, to string) bool {
	seen := map[string]bool{}
	var walk func(string) bool
	walk = func(n string) bool {
		if seen[n] {
			return false
		}
		seen[n] = true
		for dep := range c.Services[n].DependsOn {
			if dep == to || walk(dep) {
				return true
			}
		}
		return false
	}
	return walk(from)
}

func TestComposeEnvNamesAndAddressesMatchTheConfig(t *testing.T) {
	c := loadCompose(t)
	known := configSettings(t)
	for name, s := range c.Services {
		var names []string
		for k := range s.Environment {
			if strings.HasPrefix(k, "LOGETL_") {
				names = append(names, k)
			}
		}
		checkKnown(t, "compose service "+name, names, known)
	}
	for _, name := range []string{"api", "worker"} {
		env := c.Services[name].Environment
		for _, k := range []string{"LOGETL_MYSQL_DSN", "LOGETL_TEMPORAL_ADDRESS", "LOGETL_TEMPORAL_NAMESPACE", "LOGETL_S3_BUCKET", "LOGETL_KEYRING"} {
			if env[k] == "" {
				t.Errorf("%s: %s not set", name, k)
			}
		}
		// Addresses point at the services of this file, on the ports they listen on.
		for k, svc := range map[string]string{"LOGETL_TEMPORAL_ADDRESS": "temporal:7233", "LOGETL_S3_ENDPOINT": "s3:7070"} {
			if !strings.Contains(env[k], svc) {
				t.Errorf("%s: %s = %q, want it to reach %s", name, k, env[k], svc)
			}
		}
		if !strings.Contains(env["LOGETL_MYSQL_DSN"], "tcp(mysql:3306)") || !strings.Contains(env["LOGETL_MYSQL_DSN"], "parseTime=true") {
			t.Errorf("%s: LOGETL_MYSQL_DSN %q must reach mysql:3306 with parseTime=true", name, env["LOGETL_MYSQL_DSN"])
		}
	}
	worker, s3svc := c.Services["worker"].Environment, c.Services["s3"].Environment
	if worker["AWS_ACCESS_KEY_ID"] == "" || worker["AWS_ACCESS_KEY_ID"] != s3svc["ROOT_ACCESS_KEY_ID"] || worker["AWS_SECRET_ACCESS_KEY"] != s3svc["ROOT_SECRET_ACCESS_KEY"] {
		t.Error("worker's AWS credentials are not the S3 store's root credentials")
	}
	if !strings.Contains(worker["LOGETL_API_URL"], "api:") {
		t.Errorf("worker LOGETL_API_URL %q: the bots must reach the api service", worker["LOGETL_API_URL"])
	}

	// Published ports are the defaults of internal/config, so `make run` users find the same URLs.
	defaultPort := func(env string) string {
		d := known[env].Default
		if u, err := url.Parse(d); err == nil && u.Port() != "" {
			return u.Port()
		}
		_, p, err := net.SplitHostPort(d)
		if err != nil {
			t.Fatalf("default of %s (%q) has no port", env, d)
		}
		return p
	}
	for svc, env := range map[string]string{"api": "LOGETL_API_ADDR", "temporal": "LOGETL_TEMPORAL_ADDRESS", "temporal-ui": "LOGETL_TEMPORAL_UI_URL", "s3": "LOGETL_S3_ENDPOINT"} {
		want := defaultPort(env)
		if !slices.ContainsFunc(c.Services[svc].Ports, func(p string) bool {
			parts := strings.Split(p, ":")
			return len(parts) >= 2 && parts[len(parts)-2] == want
		}) {
			t.Errorf("%s publishes %v, want host port %s (default of %s)", svc, c.Services[svc].Ports, want, env)
		}
	}
	// Health checks of api and worker probe the ports they are told to listen on.
	for svc, env := range map[string]string{"api": "LOGETL_API_ADDR", "worker": "LOGETL_WORKER_METRICS_ADDR"} {
		_, port, err := net.SplitHostPort(c.Services[svc].Environment[env])
		if err != nil {
			t.Errorf("%s: %s = %q is not host:port", svc, env, c.Services[svc].Environment[env])
			continue
		}
		if hc := c.Services[svc].Healthcheck; hc == nil || !strings.Contains(strings.Join(hc.Test, " "), ":"+port+"/") {
			t.Errorf("%s: health check does not probe port %s of %s", svc, port, env)
		}
	}
}

func TestDockerfileIsMultiStageStaticAndNonRoot(t *testing.T) {
	body, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var froms []string
	var lastUser string
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			froms = append(froms, f[1])
			lastUser = ""
		case "USER":
			lastUser = f[1]
		}
	}
	if len(froms) < 2 {
		t.Fatalf("want a multi-stage build, got FROM %v", froms)
	}
	if final := froms[len(froms)-1]; !strings.Contains(final, "distroless") || !strings.Contains(final, "nonroot") {
		t.Errorf("runtime image %q, want distroless nonroot", final)
	}
	if lastUser == "" || lastUser == "root" || strings.HasPrefix(lastUser, "0") {
		t.Errorf("runtime USER %q, want a non-root user", lastUser)
	}
	for _, want := range []string{"CGO_ENABLED=0", "./cmd/logetl", "./deploy/httpcheck", `ENTRYPOINT ["/usr/local/bin/logetl"]`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	// The compose health checks call the helper the image ships, and build targets exist.
	c := loadCompose(t)
	for name, svc := range c.Services {
		if b, ok := svc.Build.(map[string]any); ok {
			if target, _ := b["target"].(string); target != "" && !regexp.MustCompile(`(?mi)^FROM\s+\S+\s+AS\s+`+regexp.QuoteMeta(target)+`\s*$`).Match(body) {
				t.Errorf("%s builds target %q, which the Dockerfile does not define", name, target)
			}
		}
	}
	for _, svc := range []string{"api", "worker"} {
		if hc := c.Services[svc].Healthcheck; hc == nil || hc.Test[1] != "/usr/local/bin/httpcheck" {
			t.Errorf("%s: health check should run /usr/local/bin/httpcheck (the image has no shell)", svc)
		}
	}
}

// The image must build with at least the Go that go.mod requires: go.mod names the first Go
// release without the standard-library vulnerabilities govulncheck reports in older ones, and a
// floating tag such as "1.27" could not be checked against it.
func TestDockerfileBuildsWithTheGoThatGoModRequires(t *testing.T) {
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	required := "go" + string(m[1])
	docker, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	d := regexp.MustCompile(`(?mi)^FROM\s+golang:(\d+\.\d+\.\d+)-\S*\s+AS\s+build\s*$`).FindSubmatch(docker)
	if d == nil {
		t.Fatal("Dockerfile: want a build stage FROM golang:<major.minor.patch>-<os> AS build")
	}
	if image := "go" + string(d[1]); version.Compare(image, required) < 0 {
		t.Errorf("Dockerfile builds with %s, older than go.mod's %s", image, required)
	}
}

// Go's own go.env says GOTOOLCHAIN=local, so a script that runs the go command on a machine with
// an older Go than go.mod requires stops; every script that runs it must opt into fetching the
// required toolchain (it still honours a GOTOOLCHAIN the caller set).
func TestScriptsThatRunGoLetItFetchTheRequiredToolchain(t *testing.T) {
	files, err := filepath.Glob("../scripts/*.sh")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../.ci/run")
	runsGo := regexp.MustCompile(`(?m)(^|[\s(;&|$])go (build|install|run|test|list|env|mod|vet)\b`)
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !runsGo.Match(body) && !bytes.Contains(body, []byte("make ")) {
			continue
		}
		if !bytes.Contains(body, []byte("export GOTOOLCHAIN=${GOTOOLCHAIN:-auto}")) {
			t.Errorf("%s runs go but does not export GOTOOLCHAIN=${GOTOOLCHAIN:-auto}", f)
		}
	}
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^GOTOOLCHAIN \?= auto\n(.*\n)*export GOTOOLCHAIN$`).Match(mk) {
		t.Error("Makefile: want GOTOOLCHAIN ?= auto and export GOTOOLCHAIN")
	}
}

// ---- systemd and the EC2 bootstrap ----

func parseUnit(t *testing.T, path string) map[string][]string {
	t.Helper()
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Errorf("%s: malformed line %q", path, line)
				continue
			}
			out[section+"."+k] = append(out[section+"."+k], v)
		}
	}
	return out
}

func TestSystemdUnitsRunLogetlHardenedWithTheEnvFile(t *testing.T) {
	known := configSettings(t)
	for _, tt := range []struct{ unit, command string }{
		{"../deploy/systemd/logetl-api.service", "/usr/local/bin/logetl api"},
		{"../deploy/systemd/logetl-worker.service", "/usr/local/bin/logetl worker"},
	} {
		t.Run(filepath.Base(tt.unit), func(t *testing.T) {
			u := parseUnit(t, tt.unit)
			want := map[string]string{
				"Service.ExecStart":       tt.command,
				"Service.EnvironmentFile": "/etc/logetl/logetl.env",
				"Service.Restart":         "on-failure",
				"Service.User":            "logetl",
				"Service.NoNewPrivileges": "yes",
				"Service.ProtectSystem":   "strict",
				"Service.PrivateTmp":      "yes",
				"Service.ProtectHome":     "yes",
				"Service.PrivateDevices":  "yes",
				"Install.WantedBy":        "multi-user.target",
			}
			for k, v := range want {
				if got := u[k]; len(got) != 1 || got[0] != v {
					t.Errorf("%s = %v, want %q", k, got, v)
				}
			}
			if got := u["Service.CapabilityBoundingSet"]; len(got) != 1 || got[0] != "" {
				t.Errorf("CapabilityBoundingSet = %v, want empty (no capabilities)", got)
			}
			var names []string
			for _, e := range u["Service.Environment"] {
				names = append(names, logetlEnvName.FindAllString(e, -1)...)
			}
			checkKnown(t, tt.unit, names, known)
		})
	}
}

func TestEnvFileExampleAndBootstrapAgree(t *testing.T) {
	known := configSettings(t)
	example, err := os.ReadFile("../deploy/ec2/logetl.env.example")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(example))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, _, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(k, "export ") {
			t.Errorf("env file line %q: systemd wants KEY=value", line)
			continue
		}
		names = append(names, k)
	}
	checkKnown(t, "logetl.env.example", names, known)
	for _, must := range []string{"LOGETL_PRODUCTION", "LOGETL_MYSQL_DSN", "LOGETL_JWT_SECRET", "LOGETL_S3_SSE", "LOGETL_KEYRING"} {
		if !slices.Contains(names, must) {
			t.Errorf("env file example lacks %s", must)
		}
	}
	boot, err := os.ReadFile("../deploy/ec2/bootstrap.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ENV_FILE=$ETC/logetl.env", "ETC=/etc/logetl", `chmod 0600 "$ENV_FILE"`, "useradd --system", "logetl-api.service", "logetl-worker.service", "set -euo pipefail"} {
		if !bytes.Contains(boot, []byte(want)) {
			t.Errorf("bootstrap.sh lacks %q", want)
		}
	}
	st, err := os.Stat("../deploy/ec2/bootstrap.sh")
	if err != nil || st.Mode()&0o111 == 0 {
		t.Errorf("bootstrap.sh is not executable")
	}
}

// ---- Kubernetes ----

type k8sObject struct {
	APIVersion string                           `yaml:"apiVersion"`
	Kind       string                           `yaml:"kind"`
	Metadata   struct{ Name, Namespace string } `yaml:"metadata"`
	Data       map[string]string                `yaml:"data"`
	StringData map[string]string                `yaml:"stringData"`
	Spec       struct {
		Template struct {
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
	Resources []string `yaml:"resources"`
}

type podSpec struct {
	Containers []container `yaml:"containers"`
	Volumes    []struct {
		Name   string `yaml:"name"`
		Secret *struct {
			SecretName string                       `yaml:"secretName"`
			Items      []struct{ Key, Path string } `yaml:"items"`
		} `yaml:"secret"`
	} `yaml:"volumes"`
	SecurityContext struct {
		RunAsNonRoot bool `yaml:"runAsNonRoot"`
	} `yaml:"securityContext"`
}

type container struct {
	Name  string   `yaml:"name"`
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef    *struct{ Name, Key string } `yaml:"secretKeyRef"`
			ConfigMapKeyRef *struct{ Name, Key string } `yaml:"configMapKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	EnvFrom []struct {
		ConfigMapRef *struct{ Name string } `yaml:"configMapRef"`
		SecretRef    *struct{ Name string } `yaml:"secretRef"`
	} `yaml:"envFrom"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	VolumeMounts   []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
	SecurityContext struct {
		ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
	} `yaml:"securityContext"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

func loadK8s(t *testing.T) (objects []k8sObject, files []string) {
	t.Helper()
	files, err := filepath.Glob("../deploy/k8s/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/k8s: %v", err)
	}
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(body))
		for {
			var o k8sObject
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if o.Kind == "" {
				t.Errorf("%s: document without kind", f)
			}
			objects = append(objects, o)
		}
	}
	return objects, files
}

func TestKubernetesManifestsAreConsistent(t *testing.T) {
	objects, files := loadK8s(t)
	known := configSettings(t)
	byKind := map[string]map[string]k8sObject{}
	for _, o := range objects {
		if byKind[o.Kind] == nil {
			byKind[o.Kind] = map[string]k8sObject{}
		}
		byKind[o.Kind][o.Metadata.Name] = o
	}
	for _, kind := range []string{"Deployment", "Secret", "ConfigMap", "Service"} {
		if len(byKind[kind]) == 0 {
			t.Errorf("no %s in deploy/k8s", kind)
		}
	}
	for name, cm := range byKind["ConfigMap"] {
		var names []string
		for k := range cm.Data {
			names = append(names, k)
		}
		checkKnown(t, "ConfigMap "+name, names, known)
	}
	secret := byKind["Secret"]["logetl-secrets"]
	for _, must := range []string{"LOGETL_JWT_SECRET", "keyring.json"} {
		if _, ok := secret.StringData[must]; !ok {
			t.Errorf("Secret logetl-secrets lacks %s", must)
		}
	}
	roles := map[string]bool{}
	for name, d := range byKind["Deployment"] {
		pod := d.Spec.Template.Spec
		if !pod.SecurityContext.RunAsNonRoot {
			t.Errorf("%s: pod not runAsNonRoot", name)
		}
		mounts := map[string]string{} // mount path -> volume
		for _, c := range pod.Containers {
			where := name + "/" + c.Name
			roles[strings.Join(c.Args, " ")] = true
			ports := map[string]bool{}
			for _, p := range c.Ports {
				ports[p.Name] = true
				ports[strconv.Itoa(p.ContainerPort)] = true
			}
			for kind, p := range map[string]*probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
				if p == nil || p.HTTPGet == nil || p.HTTPGet.Path == "" {
					t.Errorf("%s: no HTTP %s probe", where, kind)
					continue
				}
				if port := fmtPort(p.HTTPGet.Port); !ports[port] {
					t.Errorf("%s: %s probe port %q is not a declared container port", where, kind, port)
				}
			}
			var names []string
			for _, e := range c.Env {
				names = append(names, e.Name)
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					ref := e.ValueFrom.SecretKeyRef
					if _, ok := byKind["Secret"][ref.Name].StringData[ref.Key]; !ok {
						t.Errorf("%s: env %s refers to missing secret key %s/%s", where, e.Name, ref.Name, ref.Key)
					}
				}
			}
			checkKnown(t, where, names, known)
			for _, ef := range c.EnvFrom {
				if ef.ConfigMapRef != nil {
					if _, ok := byKind["ConfigMap"][ef.ConfigMapRef.Name]; !ok {
						t.Errorf("%s: envFrom missing ConfigMap %s", where, ef.ConfigMapRef.Name)
					}
				}
			}
			if !c.SecurityContext.ReadOnlyRootFilesystem || c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation {
				t.Errorf("%s: want readOnlyRootFilesystem and allowPrivilegeEscalation: false", where)
			}
			for _, m := range c.VolumeMounts {
				mounts[m.MountPath] = m.Name
			}
		}
		for _, v := range pod.Volumes {
			if v.Secret == nil {
				continue
			}
			for _, it := range v.Secret.Items {
				if _, ok := byKind["Secret"][v.Secret.SecretName].StringData[it.Key]; !ok {
					t.Errorf("%s: volume %s uses missing secret key %s", name, v.Name, it.Key)
				}
			}
		}
		if slices.Contains(pod.Containers[0].Args, "worker") {
			// The keyring path of the ConfigMap must be a file of the mounted secret.
			keyring := byKind["ConfigMap"]["logetl-config"].Data["LOGETL_KEYRING"]
			dir, file := filepath.Split(keyring)
			vol, ok := mounts[filepath.Clean(dir)]
			if !ok {
				t.Errorf("worker: LOGETL_KEYRING %q is not in a mounted volume", keyring)
			}
			found := false
			for _, v := range pod.Volumes {
				if v.Name == vol && v.Secret != nil {
					for _, it := range v.Secret.Items {
						found = found || it.Path == file
					}
				}
			}
			if !found {
				t.Errorf("worker: LOGETL_KEYRING %q is not a file of the keyring secret volume", keyring)
			}
		}
	}
	for _, role := range []string{"api", "worker"} {
		if !roles[role] {
			t.Errorf("no Deployment runs `logetl %s`", role)
		}
	}
	// kustomization.yaml lists every manifest.
	var kust k8sObject
	for _, o := range objects {
		if o.Kind == "Kustomization" {
			kust = o
		}
	}
	for _, f := range files {
		if base := filepath.Base(f); base != "kustomization.yaml" && !slices.Contains(kust.Resources, base) {
			t.Errorf("kustomization.yaml does not list %s", base)
		}
	}
}

func fmtPort(p any) string {
	switch v := p.(type) {
	case string:
		return v
	case uint64:
		return strconv.FormatUint(v, 10)
	case int64:
		return strconv.FormatInt(v, 10)
	case int:
		return strconv.Itoa(v)
	}
	return ""
}

// ---- documentation ----

// The generated reference (cmd/logetl's TestConfigurationReference keeps it in step with kong's
// model) names every variable this scan of the sources finds: a second reading of the same
// definitions, so a setting declared outside the CLI's structs is caught too.
func TestTheConfigurationReferenceListsEverySetting(t *testing.T) {
	body, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for env, s := range configSettings(t) {
		if !bytes.Contains(body, []byte("`"+env+"`")) {
			t.Errorf("docs/configuration.md lacks `%s` (declared in %s)", env, s.File)
		}
	}
}

func TestDeployREADMEPolicyIsValidLeastPrivilegeJSON(t *testing.T) {
	body, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```json\n(.*?)```").FindAllSubmatch(body, -1)
	if len(blocks) == 0 {
		t.Fatal("deploy/README.md has no JSON policy")
	}
	var actions []string
	for _, b := range blocks {
		var policy struct {
			Version   string
			Statement []struct {
				Effect   string
				Action   any
				Resource any
			}
		}
		if err := json.Unmarshal(b[1], &policy); err != nil {
			t.Fatalf("policy JSON: %v\n%s", err, b[1])
		}
		for _, st := range policy.Statement {
			acts, _ := st.Action.([]any)
			if s, ok := st.Action.(string); ok {
				acts = []any{s}
			}
			for _, a := range acts {
				actions = append(actions, a.(string))
				if strings.Contains(a.(string), "*") {
					t.Errorf("policy grants wildcard action %s", a)
				}
			}
			if r, ok := st.Resource.(string); ok && r == "*" {
				t.Errorf("policy statement on every resource (*)")
			}
		}
	}
	for _, want := range []string{"s3:PutObject", "s3:GetObject", "s3:ListBucket", "kms:GenerateDataKey", "kms:Decrypt"} {
		if !slices.Contains(actions, want) {
			t.Errorf("policy lacks %s", want)
		}
	}
}
