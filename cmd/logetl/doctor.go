package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/pipeline"
	"github.com/logetl/logetl/internal/preflight"
)

// doctorCmd runs the worker's preflight on demand and prints one line per check, ok or FAIL
// with the fix; it exits non-zero when any check fails.
type doctorCmd struct {
	pipelineFlags
	config.Temporal
	Register bool `name:"register" help:"Register missing search attributes where the server allows it (the worker does this at start)."`

	stdout io.Writer
}

func (c *doctorCmd) Run(ctx context.Context) error {
	checks, closeAll := runPreflight(ctx, c.pipelineFlags, c.Temporal, "doctor", c.Register)
	defer closeAll()
	out := writerOr(c.stdout)
	for _, ck := range checks {
		fmt.Fprintln(out, ck)
	}
	if preflight.Failed(checks) {
		n := 0
		for _, ck := range checks {
			if !ck.OK {
				n++
			}
		}
		return fmt.Errorf("%d of %d checks failed", n, len(checks))
	}
	return nil
}

// runPreflight runs every check it can: one that cannot run (Temporal down) fails its own line
// and leaves the others to run. It returns the checks and a function releasing what it opened.
func runPreflight(ctx context.Context, f pipelineFlags, t config.Temporal, component string, register bool) ([]preflight.Check, func()) {
	var checks []preflight.Check
	var closers []func()
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	// Temporal first: it is what a worker cannot run without.
	dctx, cancel := context.WithTimeout(ctx, preflight.Timeout)
	tc, err := dialTemporal(dctx, t, nil)
	cancel()
	if err != nil {
		checks = append(checks, preflight.Check{Name: "temporal", Detail: err.Error(),
			Fix: "check --temporal-address (LOGETL_TEMPORAL_ADDRESS, TEMPORAL_ADDRESS), its TLS settings, and that the server runs"})
	} else {
		closers = append(closers, tc.Close)
		checks = append(checks, preflight.TemporalChecks(ctx, tc, t.TemporalAddress, t.TemporalNamespace, register)...)
	}
	checks = append(checks, preflight.KeyringCheck(f.Keyring.Resolve(f.DataDir)))
	pctx, cancel := context.WithTimeout(ctx, 3*preflight.Timeout)
	p, err := pipeline.Open(pctx, f.settings(component), pipeline.Needs{})
	cancel()
	if err != nil {
		checks = append(checks, preflight.Check{Name: "pipeline", Detail: err.Error(), Fix: "fix the configuration above (--tables, --mysql-dsn, S3 settings)"})
		return checks, closeAll
	}
	closers = append(closers, p.Close)
	s3 := preflight.S3Check(ctx, p.Store, f.S3Endpoint, f.S3Prefix)
	checks = append(checks, s3)
	checks = append(checks, preflight.TableChecks(ctx, p)...)
	if s3.OK { // the layouts live in the bucket
		checks = append(checks, preflight.LayoutChecks(ctx, p)...)
	}
	return checks, closeAll
}

// errPreflight is the worker's refusal to start.
var errPreflight = errors.New("preflight failed: the worker does not start (each problem is logged above with its fix; `logetl doctor` checks again)")

// preflightWorker runs the checks at worker start, logs each, and refuses to start on any
// failure; it is bounded by preflight.Timeout per check.
func preflightWorker(ctx context.Context, f pipelineFlags, t config.Temporal, log *slog.Logger) error {
	start := time.Now()
	checks, closeAll := runPreflight(ctx, f, t, "worker", true)
	defer closeAll()
	for _, ck := range checks {
		if ck.OK {
			log.Info("preflight ok", "check", ck.Name, "detail", ck.Detail)
		} else {
			log.Error("preflight failed", "check", ck.Name, "detail", ck.Detail, "fix", ck.Fix)
		}
	}
	if preflight.Failed(checks) {
		return errPreflight
	}
	log.Info("preflight passed", "checks", len(checks), "took", time.Since(start).Round(time.Millisecond))
	return nil
}
