package main

import (
	"context"
	"fmt"
	"log/slog"

	_ "github.com/go-sql-driver/mysql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.temporal.io/sdk/client"

	"github.com/logetl/logetl/activities"
	"github.com/logetl/logetl/internal/botclient"
	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/temporalconn"
	"github.com/logetl/logetl/worker"
)

// workerCmd runs the Temporal worker: every workflow and activity on the task queue, the
// schedules applied at start, and /metrics.
type workerCmd struct {
	pipelineFlags
	config.Temporal
	config.APIClient
	config.Schedules
	config.Worker
}

func (c *workerCmd) Run(ctx context.Context) error {
	log := slog.Default()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics, err := worker.NewMetrics(reg, nil)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}

	p, err := c.openPipeline(ctx, pipelineNeeds{keys: true})
	if err != nil {
		return err
	}
	defer p.close()
	exp := p.exp
	bots, err := botclient.New(c.APIURL, nil)
	if err != nil {
		return err
	}
	tc, err := dialTemporal(ctx, c.Temporal, worker.NewSDKMetrics(reg))
	if err != nil {
		return err
	}
	defer tc.Close()

	if !c.NoSchedules {
		if err := applySchedules(ctx, tc, c.Temporal, c.Export, c.Partitioning, c.Schedules, log); err != nil {
			return err
		}
	}
	if c.WorkerMetricsAddr != "" {
		addr, err := worker.ServeMetrics(ctx, c.WorkerMetricsAddr, reg, log)
		if err != nil {
			return err
		}
		log.Info("worker metrics", "url", "http://"+addr+"/metrics")
	}
	acts := &activities.Activities{Exporter: activities.Library{E: exp}, Workflows: tc, Bots: bots, Metrics: metrics, Log: log}
	w := worker.New(tc, c.TaskQueue, acts, worker.Options{})
	log.Info("worker polling", "task_queue", c.TaskQueue, "temporal", c.TemporalAddress, "namespace", c.TemporalNamespace)
	if err := worker.Run(ctx, w); err != nil {
		return err
	}
	log.Info("worker stopped")
	return nil
}

// dialTemporal connects to the configured frontend (TLS, mTLS, API key and the standard
// TEMPORAL_* configuration through temporalconn); mh may be nil.
func dialTemporal(ctx context.Context, t config.Temporal, mh client.MetricsHandler) (client.Client, error) {
	return temporalconn.Dial(ctx, t, temporalconn.DialOptions{MetricsHandler: mh})
}
