// Package devstack runs the whole logetl stack on one machine for development: it checks or
// starts MariaDB, starts the Temporal dev server and a versitygw S3 store, generates local
// secrets once, applies migrations, and supervises `logetl api` and `logetl worker` as child
// processes. Children log to <data>/logs/<name>.log; the terminal gets one status line per event.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/logetl/logetl/internal/localsvc"
	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/internal/schema"
)

// Config is everything the supervisor needs; cmd/logetl-dev fills it from internal/config.
type Config struct {
	// DataDir holds all local state; it is made absolute before use.
	DataDir string

	MySQLDSN string
	// ServicesScript is scripts/services.sh, run to install and start MariaDB when it is down.
	// Empty: a MariaDB that is down is an error.
	ServicesScript string

	APIAddr string

	TemporalAddress   string
	TemporalNamespace string
	TemporalUIURL     string
	TaskQueue         string
	// TemporalBin is the Temporal CLI that runs the dev server.
	TemporalBin string

	// S3Endpoint of a loopback URL gets a local versitygw; "" or "aws" means AWS S3 itself,
	// with credentials from the standard SDK chain.
	S3Endpoint   string
	S3Bucket     string
	S3Prefix     string
	S3Region     string
	VersityGWBin string

	// KeyringPath empty means <DataDir>/keyring.json.
	KeyringPath string
	// JWTSecret empty means a secret generated once into <DataDir>/jwt-secret.
	JWTSecret string

	// Self is the logetl executable that runs `api`, `worker` and `keys generate`.
	Self string
	// Env is the base environment of every child (usually os.Environ()).
	Env []string
	// DevDefaults are set for api and worker unless Env already sets them (the dev cadence).
	DevDefaults map[string]string

	// Grace is how long a child may take to stop after SIGTERM before SIGKILL.
	Grace time.Duration
	// InfraTimeout bounds the start of Temporal and the S3 store; AppTimeout that of api and
	// worker, which are reported but keep being supervised when late.
	InfraTimeout time.Duration
	AppTimeout   time.Duration
	Backoff      Backoff

	// Hints shapes the commands printed in the summary.
	Hints Hints
}

// Hints are how the summary spells commands for the user who started the stack.
type Hints struct {
	// Binary is how to run logetl from the user's shell, e.g. "bin/logetl".
	Binary string
	// WorkDir makes printed paths relative to it when they are below it.
	WorkDir string
}

// Paths are the files and folders the stack keeps in its data folder.
type Paths struct {
	Data, Logs, S3Root, Credentials, JWTSecret, Keyring, TemporalDB, Lock, Env string
}

// PathsFor lays out the data folder.
func PathsFor(dataDir, keyring string) Paths {
	if keyring == "" {
		keyring = filepath.Join(dataDir, "keyring.json")
	}
	return Paths{
		Data:        dataDir,
		Logs:        filepath.Join(dataDir, "logs"),
		S3Root:      filepath.Join(dataDir, "s3"),
		Credentials: filepath.Join(dataDir, "s3-credentials"),
		JWTSecret:   filepath.Join(dataDir, "jwt-secret"),
		Keyring:     keyring,
		TemporalDB:  filepath.Join(dataDir, "temporal.db"),
		Lock:        filepath.Join(dataDir, "dev.lock"),
		Env:         filepath.Join(dataDir, "dev.env"),
	}
}

// Run starts the stack, prints where everything is, and supervises it until ctx ends; then it
// stops the children in reverse order and returns. A start failure stops what was started.
func Run(ctx context.Context, cfg Config, status *Status) (err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return err
	}
	paths := PathsFor(cfg.DataDir, cfg.KeyringPath)
	for _, d := range []string{paths.Data, paths.Logs} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	unlock, err := lockDataDir(paths.Lock)
	if err != nil {
		return err
	}
	defer unlock()

	s := &stack{cfg: cfg, paths: paths, status: status, began: time.Now()}
	defer func() {
		s.stopAll()
		if s.temporal != nil {
			s.temporal.Close()
		}
	}()
	status.Report("dev", "data in %s", paths.Data)
	if err := s.start(ctx); err != nil {
		if ctx.Err() != nil {
			return nil // interrupted while starting: a normal stop
		}
		return err
	}
	status.Print(s.summary())
	<-ctx.Done()
	status.Report("dev", "stopping")
	return nil
}

type stack struct {
	cfg    Config
	paths  Paths
	status *Status

	procs    []*Process // in start order
	temporal client.Client
	s3creds  *Credentials
	jwt      string
	notes    []string // extra summary lines
	began    time.Time
}

func (c Config) withDefaults() (Config, error) {
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return c, fmt.Errorf("data dir %s: %w", c.DataDir, err)
	}
	c.DataDir = abs
	if c.KeyringPath != "" {
		if c.KeyringPath, err = filepath.Abs(c.KeyringPath); err != nil {
			return c, fmt.Errorf("keyring %s: %w", c.KeyringPath, err)
		}
	}
	if c.Grace == 0 {
		c.Grace = 10 * time.Second
	}
	if c.InfraTimeout == 0 {
		c.InfraTimeout = 2 * time.Minute
	}
	if c.AppTimeout == 0 {
		c.AppTimeout = time.Minute
	}
	if c.Backoff == (Backoff{}) {
		c.Backoff = DefaultBackoff
	}
	if c.Self == "" {
		return c, errors.New("devstack: Config.Self (the logetl executable) is required")
	}
	return c, nil
}

func (s *stack) start(ctx context.Context) error {
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"mariadb", s.startMariaDB},
		{"temporal", s.startTemporal},
		{"s3", s.startS3},
		{"secrets", s.ensureSecrets},
		{"env", s.writeEnvFile},
		{"api", s.startAPI},
		{"worker", s.startWorker},
	}
	for _, st := range steps {
		if err := st.fn(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.status.Report(st.name, "FAILED: %v", err)
			return fmt.Errorf("%s: %w", st.name, err)
		}
	}
	return nil
}

func (s *stack) startMariaDB(ctx context.Context) error {
	addr, db := mysqlAddr(s.cfg.MySQLDSN)
	if err := ensureMariaDB(ctx, s.cfg.MySQLDSN, s.cfg.ServicesScript, filepath.Join(s.paths.Logs, "mariadb.log"), s.status); err != nil {
		return err
	}
	if err := schema.Apply(ctx, s.cfg.MySQLDSN); err != nil {
		return err
	}
	s.status.Report("mariadb", "ready at %s, database %s migrated", addr, db)
	return nil
}

func (s *stack) startTemporal(ctx context.Context) error {
	addr := s.cfg.TemporalAddress
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("temporal address %q: %w", addr, err)
	}
	ready := func(ctx context.Context, _ time.Time) error {
		return localsvc.TemporalReady(ctx, addr, s.cfg.TemporalNamespace)
	}
	if !localsvc.IsLoopback(addr) || localsvc.PortOpen(ctx, addr) == nil {
		// Someone else's server (remote, or already running here): use it, do not manage it.
		if err := localsvc.WaitReady(ctx, 30*time.Second, 500*time.Millisecond, nil, func(ctx context.Context) error { return ready(ctx, time.Time{}) }); err != nil {
			return fmt.Errorf("temporal at %s is in use but not healthy: %w", addr, err)
		}
		s.status.Report("temporal", "already running at %s (not started by logetl-dev)", addr)
	} else {
		uiPort, err := urlPort(s.cfg.TemporalUIURL)
		if err != nil {
			return fmt.Errorf("temporal UI URL: %w", err)
		}
		ip := host
		if ip == "" || ip == "localhost" {
			ip = "127.0.0.1"
		}
		portN, _ := strconv.Atoi(port)
		uiPortN, _ := strconv.Atoi(uiPort)
		spec, err := localsvc.TemporalDev{
			Bin: s.cfg.TemporalBin, IP: ip, Port: portN, UIPort: uiPortN,
			DBFile: s.paths.TemporalDB, Namespace: s.cfg.TemporalNamespace,
		}.Spec(s.cfg.Env)
		if err != nil {
			return err
		}
		p := s.launch(ctx, Spec{
			Name: "temporal", Path: spec.Path, Args: spec.Args, Env: spec.Env,
			Ready:    ready,
			ReadyURL: fmt.Sprintf("%s (UI %s)", addr, s.cfg.TemporalUIURL),
		})
		if err := p.WaitReady(ctx, s.cfg.InfraTimeout); err != nil {
			return err
		}
	}
	c, err := localsvc.DialTemporal(ctx, addr, s.cfg.TemporalNamespace)
	if err != nil {
		return err
	}
	s.temporal = c
	return nil
}

func (s *stack) startS3(ctx context.Context) error {
	if s.cfg.S3Endpoint == "" || s.cfg.S3Endpoint == "aws" {
		s.status.Report("s3", "using AWS S3 bucket %s (credentials from the AWS SDK chain; not created here)", s.cfg.S3Bucket)
		return nil
	}
	u, err := url.Parse(s.cfg.S3Endpoint)
	if err != nil || u.Host == "" {
		return fmt.Errorf("S3 endpoint %q is not a URL", s.cfg.S3Endpoint)
	}
	hostPort := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		hostPort = net.JoinHostPort(u.Hostname(), port)
	}
	if !localsvc.IsLoopback(hostPort) {
		s.status.Report("s3", "using %s bucket %s (credentials from the AWS SDK chain; not created here)", s.cfg.S3Endpoint, s.cfg.S3Bucket)
		return nil
	}
	creds, created, err := LoadOrCreateCredentials(s.paths.Credentials)
	if err != nil {
		return err
	}
	if created {
		s.status.Report("s3", "generated local credentials in %s", s.paths.Credentials)
	}
	s.s3creds = &creds
	cl := localsvc.S3Client(s.cfg.S3Endpoint, s.cfg.S3Region, creds.AccessKeyID, creds.SecretAccessKey)
	ready := func(ctx context.Context, _ time.Time) error { return localsvc.S3Ready(ctx, cl) }
	if localsvc.PortOpen(ctx, hostPort) == nil {
		if err := ready(ctx, time.Time{}); err != nil {
			return fmt.Errorf("%s is in use by something that rejects this stack's credentials (%v): stop it or set LOGETL_S3_ENDPOINT to another port", hostPort, err)
		}
		s.status.Report("s3", "already running at %s (not started by logetl-dev)", s.cfg.S3Endpoint)
	} else {
		if err := os.MkdirAll(s.paths.S3Root, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", s.paths.S3Root, err)
		}
		spec, err := localsvc.VersityGW{
			Bin: s.cfg.VersityGWBin, Addr: hostPort, Region: s.cfg.S3Region, Root: s.paths.S3Root,
			AccessKey: creds.AccessKeyID, SecretKey: creds.SecretAccessKey,
		}.Spec(s.cfg.Env)
		if err != nil {
			return err
		}
		p := s.launch(ctx, Spec{
			Name: "s3", Path: spec.Path, Args: spec.Args, Env: spec.Env,
			Ready:    ready,
			ReadyURL: s.cfg.S3Endpoint + " (versitygw, objects in " + s.paths.S3Root + ")",
		})
		if err := p.WaitReady(ctx, s.cfg.InfraTimeout); err != nil {
			return err
		}
	}
	created, err = localsvc.EnsureBucket(ctx, cl, s.cfg.S3Bucket)
	if err != nil {
		return err
	}
	if created {
		s.status.Report("s3", "created bucket %s", s.cfg.S3Bucket)
	}
	return nil
}

func (s *stack) ensureSecrets(ctx context.Context) error {
	if s.cfg.JWTSecret == "" {
		secret, created, err := LoadOrCreateSecret(s.paths.JWTSecret)
		if err != nil {
			return err
		}
		s.jwt = secret
		if created {
			s.status.Report("secrets", "generated the JWT secret in %s", s.paths.JWTSecret)
		}
	}
	if _, err := os.Stat(s.paths.Keyring); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("keyring %s: %w", s.paths.Keyring, err)
	}
	// Same library and file format as `logetl keys generate`.
	kr, err := protect.GenerateKeyring()
	if err != nil {
		return fmt.Errorf("generate keyring: %w", err)
	}
	if err := kr.Save(s.paths.Keyring); err != nil {
		return err
	}
	s.status.Report("secrets", "generated the keyring in %s", s.paths.Keyring)
	return nil
}

// writeEnvFile records the settings the children get, so another shell can share them with
// `set -a; . <data>/dev.env; set +a`: logetl verify, decrypt s3://... and backfill then use
// the same export window, ports, bucket and local S3 credentials as the running stack. The
// JWT secret stays out: no check command needs it.
func (s *stack) writeEnvFile(context.Context) error {
	env := s.appEnv(true)
	var keys []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if (strings.HasPrefix(k, "LOGETL_") || strings.HasPrefix(k, "AWS_")) && k != "LOGETL_JWT_SECRET" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "# Settings of the running logetl dev stack, written by `logetl-dev` at each start.\n")
	fmt.Fprintf(&b, "# Share them with another shell: set -a; . %s; set +a\n", s.paths.Env)
	for _, k := range slices.Compact(keys) {
		v, _ := localsvc.LookupEnv(env, k)
		fmt.Fprintf(&b, "%s=%s\n", k, shellQuote(v))
	}
	return writeSecretFile(s.paths.Env, []byte(b.String()))
}

// shellQuote single-quotes v for sh unless it is plainly safe.
func shellQuote(v string) string {
	safe := v != ""
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@,+=", r)) {
			safe = false
			break
		}
	}
	if safe {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'"'"'`) + "'"
}

func (s *stack) startAPI(ctx context.Context) error {
	readyURL := "http://" + dialable(s.cfg.APIAddr) + "/readyz"
	p := s.launch(ctx, Spec{
		Name: "api", Path: s.cfg.Self, Args: []string{"api"}, Env: s.appEnv(false),
		Ready:    func(ctx context.Context, _ time.Time) error { return localsvc.HTTPReady(ctx, readyURL) },
		ReadyURL: s.apiURL(),
	})
	if err := p.WaitReady(ctx, s.cfg.AppTimeout); err != nil && ctx.Err() == nil {
		s.status.Report("api", "not ready yet (%v); still supervising it", err)
	}
	return ctx.Err()
}

// WorkerDefaults are set for the worker unless the environment sets them: the dev stack
// backfills the rows of MySQL its lake has never exported (a fresh data folder over a database
// that already has rows), and the worker's WARN lines about them show on the terminal.
var WorkerDefaults = map[string]string{"LOGETL_BACKFILL_GAPS": "true"}

func (s *stack) startWorker(ctx context.Context) error {
	env := s.appEnv(true)
	for k, v := range WorkerDefaults {
		if _, ok := localsvc.LookupEnv(s.cfg.Env, k); !ok {
			env = localsvc.WithEnv(env, map[string]string{k: v})
		}
	}
	p := s.launch(ctx, Spec{
		Name: "worker", Path: s.cfg.Self, Args: []string{"worker"}, Env: env,
		// The worker's start-up check of the lake (gaps of rows never exported, their
		// backfills) goes on the terminal: it is what an operator must see.
		Console: gapLine,
		Ready: func(ctx context.Context, started time.Time) error {
			return WorkerPolling(ctx, s.temporal, s.cfg.TaskQueue, started)
		},
		ReadyURL: fmt.Sprintf("task queue %s on %s", s.cfg.TaskQueue, s.cfg.TemporalAddress),
	})
	if err := p.WaitReady(ctx, s.cfg.AppTimeout); err != nil && ctx.Err() == nil {
		s.status.Report("worker", "not ready yet (%v); still supervising it", err)
	}
	return ctx.Err()
}

func (s *stack) launch(ctx context.Context, spec Spec) *Process {
	spec.LogPath = filepath.Join(s.paths.Logs, spec.Name+".log")
	if spec.ReadyTimeout == 0 {
		spec.ReadyTimeout = s.cfg.AppTimeout
	}
	p := Start(ctx, spec, s.cfg.Backoff, s.status)
	s.procs = append(s.procs, p)
	return p
}

// stopAll stops the children in reverse start order, so the worker and API go before the
// services they use.
func (s *stack) stopAll() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		s.procs[i].Stop(s.cfg.Grace)
	}
	s.procs = nil
}

// appEnv is the environment of logetl children: the resolved settings of this stack, so that
// children agree with the supervisor whatever came from flags, env or defaults.
func (s *stack) appEnv(withS3 bool) []string {
	set := map[string]string{
		"LOGETL_DATA_DIR":           s.paths.Data,
		"LOGETL_MYSQL_DSN":          s.cfg.MySQLDSN,
		"LOGETL_API_ADDR":           s.cfg.APIAddr,
		"LOGETL_API_URL":            s.apiURL(),
		"LOGETL_TEMPORAL_ADDRESS":   s.cfg.TemporalAddress,
		"LOGETL_TEMPORAL_NAMESPACE": s.cfg.TemporalNamespace,
		"LOGETL_TEMPORAL_UI_URL":    s.cfg.TemporalUIURL,
		"LOGETL_TASK_QUEUE":         s.cfg.TaskQueue,
		"LOGETL_S3_ENDPOINT":        s.cfg.S3Endpoint,
		"LOGETL_S3_BUCKET":          s.cfg.S3Bucket,
		"LOGETL_S3_PREFIX":          s.cfg.S3Prefix,
		"LOGETL_S3_REGION":          s.cfg.S3Region,
		"LOGETL_KEYRING":            s.paths.Keyring,
	}
	if s.jwt != "" {
		set["LOGETL_JWT_SECRET"] = s.jwt
	}
	if withS3 && s.s3creds != nil {
		set["AWS_ACCESS_KEY_ID"] = s.s3creds.AccessKeyID
		set["AWS_SECRET_ACCESS_KEY"] = s.s3creds.SecretAccessKey
		set["AWS_REGION"] = s.cfg.S3Region
	}
	base := s.cfg.Env
	defaults := map[string]string{}
	for k, v := range s.cfg.DevDefaults {
		if _, ok := localsvc.LookupEnv(base, k); !ok {
			defaults[k] = v
		}
	}
	return localsvc.WithEnv(localsvc.WithEnv(base, defaults), set)
}

func (s *stack) apiURL() string { return "http://" + dialable(s.cfg.APIAddr) }

// summary tells the user where everything is and how to check that it works.
func (s *stack) summary() string {
	var b strings.Builder
	rel := func(p string) string {
		if s.cfg.Hints.WorkDir != "" {
			if r, err := filepath.Rel(s.cfg.Hints.WorkDir, p); err == nil && !strings.HasPrefix(r, "..") {
				return r
			}
		}
		return p
	}
	bin := s.cfg.Hints.Binary
	if bin == "" {
		bin = "logetl"
	}
	ui := strings.TrimRight(s.cfg.TemporalUIURL, "/")
	objects := filepath.Join(s.paths.S3Root, s.cfg.S3Bucket, s.cfg.S3Prefix, "activity_log")

	fmt.Fprintf(&b, "\nlogetl is running. Ctrl-C stops everything; run it again to resume with the same data.\n\n")
	fmt.Fprintf(&b, "  API              %s  (/healthz /readyz /metrics)\n", s.apiURL())
	fmt.Fprintf(&b, "  Temporal UI      %s/namespaces/%s/schedules\n", ui, s.cfg.TemporalNamespace)
	fmt.Fprintf(&b, "  Temporal         %s  namespace %s, task queue %s\n", s.cfg.TemporalAddress, s.cfg.TemporalNamespace, s.cfg.TaskQueue)
	fmt.Fprintf(&b, "  S3 endpoint      %s  bucket %s, prefix %s\n", orAWS(s.cfg.S3Endpoint), s.cfg.S3Bucket, s.cfg.S3Prefix)
	if s.s3creds != nil {
		fmt.Fprintf(&b, "  S3 credentials   %s\n", rel(s.paths.Credentials))
		fmt.Fprintf(&b, "  Objects on disk  %s/\n", rel(objects))
	}
	fmt.Fprintf(&b, "  Keyring          %s\n", rel(s.paths.Keyring))
	fmt.Fprintf(&b, "  Logs             %s/{%s}.log\n", rel(s.paths.Logs), strings.Join(s.procNames(), ","))
	for _, n := range s.notes {
		fmt.Fprintf(&b, "  %s\n", n)
	}
	fmt.Fprintf(&b, "\nCheck that it works, from another shell in %s:\n", orDot(s.cfg.Hints.WorkDir))
	fmt.Fprintf(&b, "  set -a; . %s; set +a      # this stack's settings and local S3 credentials\n", rel(s.paths.Env))
	if s.s3creds != nil {
		fmt.Fprintf(&b, "  find %s -name '*.parquet' | sort      # list the files\n", rel(objects))
		fmt.Fprintf(&b, "  %s decrypt \"$(ls %s/daily/dt=*/*.parquet | tail -1)\" | head -3      # decrypt one\n", bin, rel(objects))
	}
	fmt.Fprintf(&b, "  %s verify --from %s --to \"$(date -u -d '-2 min' +%%Y-%%m-%%dT%%H:%%M:00Z)\"      # MySQL vs manifests\n",
		bin, firstWindow(s.began, s.exportWindow()).Format(time.RFC3339))
	fmt.Fprintf(&b, "  temporal schedule list --address %s --namespace %s\n\n", s.cfg.TemporalAddress, s.cfg.TemporalNamespace)
	return b.String()
}

// exportWindow is the window length the worker uses: the environment's, else the dev default.
func (s *stack) exportWindow() time.Duration {
	v, ok := localsvc.LookupEnv(s.cfg.Env, "LOGETL_EXPORT_WINDOW")
	if !ok {
		v = s.cfg.DevDefaults["LOGETL_EXPORT_WINDOW"]
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return time.Minute
	}
	return d
}

// firstWindow is the start of the first export window that begins at or after t on the
// window grid (multiples of the window since the Unix epoch): the first one this run exports.
func firstWindow(t time.Time, window time.Duration) time.Time {
	n, d := t.UnixNano(), int64(window)
	w := n - n%d
	if w < n {
		w += d
	}
	return time.Unix(0, w).UTC()
}

func (s *stack) procNames() []string {
	var names []string
	for _, p := range s.procs {
		names = append(names, p.Name())
	}
	sort.Strings(names)
	return names
}

func orDot(dir string) string {
	if dir == "" {
		return "."
	}
	return dir
}

func orAWS(endpoint string) string {
	if endpoint == "" || endpoint == "aws" {
		return "AWS S3"
	}
	return endpoint
}

// dialable turns a listen address (":8080", "0.0.0.0:8080") into one a client can dial.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func urlPort(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if p := u.Port(); p != "" {
		if _, err := strconv.Atoi(p); err != nil {
			return "", fmt.Errorf("port of %s: %w", raw, err)
		}
		return p, nil
	}
	return "", fmt.Errorf("%s has no port", raw)
}

// lockDataDir keeps two supervisors off one data folder: they would fight over its ports and
// databases.
func lockDataDir(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another `logetl-dev` is already using %s (lock %s)", filepath.Dir(path), path)
	}
	_ = f.Truncate(0)
	fmt.Fprintf(f, "%d\n", os.Getpid())
	return func() { f.Close() }, nil
}
