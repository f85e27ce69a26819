// Package worker builds logetl's Temporal worker: it registers every workflow and activity on
// the task queue, applies the schedules, and serves the SDK's and the pipeline's metrics.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/logetl/logetl/activities"
	"github.com/logetl/logetl/workflows"
)

// Options bound what one worker process runs at once. Exports stream rows and upload parts,
// so a few at a time keep memory bounded; a schedule backfill of many windows queues up
// behind them instead of starting all at once.
type Options struct {
	MaxConcurrentActivities int // default 4
	MaxConcurrentWorkflows  int // default 50
}

// New returns a worker on taskQueue with every logetl workflow and the given activities
// registered. Start it with Run.
func New(c client.Client, taskQueue string, acts *activities.Activities, opts Options) sdkworker.Worker {
	if opts.MaxConcurrentActivities <= 0 {
		opts.MaxConcurrentActivities = 4
	}
	if opts.MaxConcurrentWorkflows <= 0 {
		opts.MaxConcurrentWorkflows = 50
	}
	w := sdkworker.New(c, taskQueue, sdkworker.Options{
		MaxConcurrentActivityExecutionSize:     opts.MaxConcurrentActivities,
		MaxConcurrentWorkflowTaskExecutionSize: opts.MaxConcurrentWorkflows,
		// Activities get this long to finish after a stop signal before their context ends;
		// an interrupted export is retried from scratch elsewhere (writes are idempotent).
		WorkerStopTimeout: 20 * time.Second,
	})
	workflows.Register(w)
	acts.Register(w)
	return w
}

// Run starts w and stops it when ctx ends; in-flight activities get the worker's stop timeout.
func Run(ctx context.Context, w sdkworker.Worker) error {
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	<-ctx.Done()
	w.Stop()
	return nil
}

// ServeMetrics serves reg on http://addr/metrics until ctx ends. It returns once listening,
// with the bound address (addr may use port 0).
func ServeMetrics(ctx context.Context, addr string, reg *prometheus.Registry, log *slog.Logger) (string, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("metrics listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	return l.Addr().String(), nil
}
