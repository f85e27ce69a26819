package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/devstack"
	"github.com/logetl/logetl/internal/localsvc"
)

// devCmd runs the whole stack on this machine; `make run` calls it after building.
type devCmd struct {
	config.DataDir
	config.MySQL
	API struct {
		APIAddr   string `name:"api-addr" env:"LOGETL_API_ADDR" default:"127.0.0.1:8080" help:"Listen address of the REST API."`
		JWTSecret string `name:"jwt-secret" env:"LOGETL_JWT_SECRET" help:"HS256 signing secret for JWTs. Empty: generated once and kept in the data folder."`
	} `embed:""`
	config.Temporal
	config.S3
	config.Keyring

	TemporalBin    string        `name:"temporal-bin" env:"LOGETL_TEMPORAL_BIN" help:"Temporal CLI that runs the dev server. Empty: from PATH or $(go env GOPATH)/bin."`
	VersityGWBin   string        `name:"versitygw-bin" env:"LOGETL_VERSITYGW_BIN" help:"versitygw binary of the local S3 store. Empty: from PATH or $(go env GOPATH)/bin."`
	ServicesScript string        `name:"services-script" env:"LOGETL_SERVICES_SCRIPT" help:"Script that installs and starts MariaDB when it is down. Empty: scripts/services.sh of the checkout, if found."`
	StopGrace      time.Duration `name:"stop-grace" env:"LOGETL_STOP_GRACE" default:"15s" help:"How long each child may take to stop after SIGTERM before it is killed."`
	Logetl         string        `name:"logetl" env:"LOGETL_DEV_LOGETL" type:"path" help:"The logetl binary run as the api and worker children. Empty: logetl next to this executable (bin/logetl)."`
}

// devDefaults are the dev cadence: exports every minute of one-minute windows, compaction and
// bots every few minutes, and a short safety lag so that the first files show up quickly.
var devDefaults = map[string]string{
	"LOGETL_SCHEDULE_PROFILE": "dev",
	"LOGETL_EXPORT_WINDOW":    "1m",
	"LOGETL_SAFETY_LAG":       "10s",
}

func (c *devCmd) Run(ctx context.Context) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	wd, _ := os.Getwd()
	logetl, err := c.logetlBinary(self)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.Path("logs"), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", c.Path("logs"), err)
	}
	// The supervisor's own diagnostics go to a file: the terminal is for the status lines.
	logFile, err := os.OpenFile(c.Path("logs", "dev.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open dev log: %w", err)
	}
	defer logFile.Close()
	slog.SetDefault(slog.New(slog.NewTextHandler(logFile, nil)))

	cfg := devstack.Config{
		DataDir:           c.DataDir.DataDir,
		MySQLDSN:          c.MySQLDSN,
		ServicesScript:    c.servicesScript(self, wd),
		APIAddr:           c.API.APIAddr,
		JWTSecret:         c.API.JWTSecret,
		TemporalAddress:   c.TemporalAddress,
		TemporalNamespace: c.TemporalNamespace,
		TemporalUIURL:     c.TemporalUIURL,
		TaskQueue:         c.TaskQueue,
		TemporalBin:       c.TemporalBin,
		S3Endpoint:        c.S3Endpoint,
		S3Bucket:          c.S3Bucket,
		S3Prefix:          c.S3Prefix,
		S3Region:          c.S3Region,
		VersityGWBin:      c.VersityGWBin,
		KeyringPath:       c.KeyringPath,
		Self:              logetl,
		Env:               os.Environ(),
		DevDefaults:       devDefaults,
		Grace:             c.StopGrace,
		Hints:             devstack.Hints{Binary: binaryHint(logetl, wd), WorkDir: wd},
	}
	// A closed terminal or pipe (`make run | tee`, Ctrl-C reaches tee too) must not kill the
	// supervisor halfway through stopping its children: ignore SIGPIPE and keep every status
	// line in dev.log as well.
	signal.Ignore(syscall.SIGPIPE)
	return devstack.Run(ctx, cfg, devstack.NewStatus(localsvc.Tee{os.Stdout, logFile}))
}

// logetlBinary is --logetl, else the logetl executable beside this one (make builds both
// into bin/).
func (c *devCmd) logetlBinary(self string) (string, error) {
	p := c.Logetl
	if p == "" {
		p = filepath.Join(filepath.Dir(self), "logetl")
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(abs)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("logetl binary %s not found: build it (make build) or set --logetl / LOGETL_DEV_LOGETL", abs)
		}
		return "", err
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("logetl binary %s is not an executable file: set --logetl / LOGETL_DEV_LOGETL", abs)
	}
	return abs, nil
}

// servicesScript finds scripts/services.sh in the checkout the binary was built from
// (bin/logetl-dev) or the current folder.
func (c *devCmd) servicesScript(self, wd string) string {
	if c.ServicesScript != "" {
		return c.ServicesScript
	}
	for _, p := range []string{
		filepath.Join(wd, "scripts", "services.sh"),
		filepath.Join(filepath.Dir(self), "..", "scripts", "services.sh"),
	} {
		if _, err := os.Stat(p); err == nil {
			return filepath.Clean(p)
		}
	}
	return ""
}

// binaryHint spells the logetl binary the way the user can type it from wd.
func binaryHint(self, wd string) string {
	rel, err := filepath.Rel(wd, self)
	if err != nil || strings.HasPrefix(rel, "..") {
		return self
	}
	if !strings.Contains(rel, string(filepath.Separator)) {
		return "./" + rel
	}
	return rel
}
