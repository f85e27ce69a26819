package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"

	"github.com/logetl/logetl/activities"
	"github.com/logetl/logetl/apiserver"
	"github.com/logetl/logetl/internal/botclient"
	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/lake"
	"github.com/logetl/logetl/internal/launcher"
	"github.com/logetl/logetl/internal/pipeline"
	"github.com/logetl/logetl/internal/temporalconn"
	"github.com/logetl/logetl/worker"
)

// workerCmd runs the Temporal worker: every workflow and activity on the task queue for every
// configured table, the schedules applied at start, and /metrics.
type workerCmd struct {
	pipelineFlags
	config.Temporal
	config.APIClient
	config.Schedules
	config.Worker
}

func (c *workerCmd) Run(ctx context.Context) error {
	log := slog.Default()
	if !c.NoPreflight {
		if err := preflightWorker(ctx, c.pipelineFlags, c.Temporal, log); err != nil {
			return err
		}
	}
	p, err := c.openPipeline(ctx, "worker", pipeline.Needs{Keys: true})
	if err != nil {
		return err
	}
	defer p.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics, err := worker.NewMetrics(reg, p.Specs.Names(), nil)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	tables := map[string]activities.Table{}
	oldest := map[string]func(context.Context) (time.Time, bool, error){}
	for _, t := range p.Tables {
		t.Export.OnUndeclaredColumns(func(table string, cols []string) { metrics.ColumnsNotExported(table, cols) })
		lib := activities.Library{E: t.Export, Partitions: p.Store.ListPrefixes}
		if t.Purger != nil {
			lib.P = t.Purger
			exp := t.Export
			oldest[t.Name()] = func(ctx context.Context) (time.Time, bool, error) {
				tbl, err := exp.MySQL(ctx)
				if err != nil {
					return time.Time{}, false, err
				}
				return tbl.Oldest(ctx)
			}
		}
		tables[t.Name()] = lib
		// The lake's freshness at start, so the lag is known before this worker's first export.
		if cov, _, err := lake.ReadCoverage(ctx, p.Store, t.Export.Layout()); err == nil && len(cov.Intervals) > 0 {
			metrics.Fresh(t.Name(), cov.Intervals[len(cov.Intervals)-1].End)
		}
	}
	go metrics.Watch(ctx, time.Minute, oldest, log)

	bots, err := botclient.New(c.APIURL, nil)
	if err != nil {
		return err
	}
	sdkMetrics := worker.NewSDKMetrics(reg)
	tc, err := dialWorkerTemporal(ctx, c.Temporal, sdkMetrics, log)
	if err != nil {
		return err
	}
	defer tc.Close()

	if !c.NoSchedules {
		if err := applySchedules(ctx, tc, c.Temporal, c.Export, c.Schedules, p, log); err != nil {
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
	c.reportGaps(ctx, p, tc, log)
	acts := &activities.Activities{Tables: tables, Workflows: tc, Bots: bots, Metrics: metrics, Log: log}
	w := worker.New(tc, c.TaskQueue, acts, worker.Options{})
	log.Info("worker polling", "task_queue", c.TaskQueue, "namespace", c.TemporalNamespace, "tables", p.Specs.Names())
	if err := worker.Run(ctx, w); err != nil {
		return err
	}
	log.Info("worker stopped")
	return nil
}

// reportGaps says, one line per stretch, which rows of MySQL the lake has never exported (a new
// or replaced lake over an existing database, an outage longer than every retry), and with
// --backfill-gaps starts their backfill. The windows about to be exported by the schedule are
// left out. It never stops the worker: a table it cannot check is logged and skipped.
func (c *workerCmd) reportGaps(ctx context.Context, p *pipeline.Pipeline, tc client.Client, log *slog.Logger) {
	lcfg, err := launcherConfig(c.Temporal, c.Export, c.Tables, c.Ranges)
	if err != nil {
		log.ErrorContext(ctx, "cannot check the lake for gaps", "error", err)
		return
	}
	l := launcher.NewWithClient(lcfg, tc)
	for _, t := range p.Tables {
		gctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		upTo := time.Now().Add(-c.SafetyLag - 2*t.Export.Grid().Length())
		gaps, err := t.Export.Unexported(gctx, upTo)
		cancel()
		if err != nil {
			log.WarnContext(ctx, "cannot check the lake for gaps", "table", t.Name(), "error", err)
			continue
		}
		for _, g := range gaps {
			from, to := g.From.Format(time.RFC3339), g.To.Format(time.RFC3339)
			attrs := []any{"table", t.Name(), "rows", g.Rows, "from", from, "to", to}
			if !c.BackfillGaps {
				log.WarnContext(ctx, "rows in MySQL the lake has never exported",
					append(attrs, "fix", fmt.Sprintf("logetl backfill --table %s --from %s --to %s (or start the worker with --backfill-gaps)", t.Name(), from, to))...)
				continue
			}
			run, err := l.StartBackfill(ctx, apiserver.BackfillRequest{Table: t.Name(), From: g.From, To: g.To})
			if err != nil {
				log.ErrorContext(ctx, "rows in MySQL the lake has never exported, and their backfill could not start",
					append(attrs, "error", err, "fix", fmt.Sprintf("logetl backfill --table %s --from %s --to %s", t.Name(), from, to))...)
				continue
			}
			log.WarnContext(ctx, "rows in MySQL the lake has never exported: backfilling them", append(attrs, "workflow_id", run.WorkflowID, "ui", run.UIURL)...)
		}
	}
}

// dialWorkerTemporal is dialTemporal with the worker's SDK metrics and its watch on workflow
// tasks Temporal rejects (logged at ERROR with the workflow id).
func dialWorkerTemporal(ctx context.Context, t config.Temporal, mh client.MetricsHandler, log *slog.Logger) (client.Client, error) {
	failures := worker.NewTaskFailures(log)
	return temporalconn.Dial(ctx, t, temporalconn.DialOptions{MetricsHandler: mh, Adjust: func(o *client.Options) {
		o.ConnectionOptions.DialOptions = append(o.ConnectionOptions.DialOptions, grpc.WithChainUnaryInterceptor(failures.Interceptor()))
	}})
}

// dialTemporal connects to the configured frontend (TLS, mTLS, API key and the standard
// TEMPORAL_* configuration through temporalconn); mh may be nil.
func dialTemporal(ctx context.Context, t config.Temporal, mh client.MetricsHandler) (client.Client, error) {
	return temporalconn.Dial(ctx, t, temporalconn.DialOptions{MetricsHandler: mh})
}
