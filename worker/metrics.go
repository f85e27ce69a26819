package worker

import (
	"context"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logetl/logetl/internal/partition"
)

// Metrics are the pipeline's own metrics, every one labelled by table: what was exported, how
// fresh the lake is, what verify found, what was repaired and purged, what the bots did. It
// implements activities.Recorder. deploy/prometheus/alerts.yml and deploy/grafana/logetl.json
// are written against these names (deploy/monitoring_test.go keeps them in step).
type Metrics struct {
	rows, bytes, windows *prometheus.CounterVec
	failures             *prometheus.CounterVec
	duration             *prometheus.HistogramVec
	lastEnd              *prometheus.GaugeVec
	verifyRuns           *prometheus.CounterVec
	verifyWindows        *prometheus.GaugeVec
	verifyMismatched     *prometheus.GaugeVec
	repaired             *prometheus.CounterVec
	notExported          *prometheus.GaugeVec
	purgeRows            *prometheus.CounterVec
	purgeRefused         *prometheus.CounterVec
	dailiesRemoved       *prometheus.CounterVec
	dailyBytesRemoved    *prometheus.CounterVec
	weeksKept            *prometheus.GaugeVec
	bots                 *prometheus.CounterVec

	mu     sync.Mutex
	newest map[string]time.Time // table → newest exported daily window end
	oldest map[string]time.Time // table → oldest row in MySQL (retention tables)
	now    func() time.Time
}

// NewMetrics registers the pipeline metrics on reg for the given tables (their series start
// at zero, so an alert on a first failure does not wait for a second). now is the clock of the
// lag and age gauges.
func NewMetrics(reg prometheus.Registerer, tables []string, now func() time.Time) (*Metrics, error) {
	if now == nil {
		now = time.Now
	}
	tg := []string{"table", "granularity"}
	m := &Metrics{
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logetl_export_rows_total",
			Help: "Rows written to S3, by table and granularity (daily windows, weekly compactions)."}, tg),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logetl_export_bytes_total",
			Help: "Parquet bytes written to S3, by table and granularity."}, tg),
		windows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logetl_export_windows_total",
			Help: "Windows (daily) or weeks (weekly) exported."}, tg),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logetl_export_failures_total",
			Help: "Failed export and compaction attempts, by kind: retryable (retried) or permanent (needs a fix)."}, []string{"table", "granularity", "kind"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "logetl_export_duration_seconds",
			Help:    "Duration of successful export and compaction activities.",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900}}, tg),
		lastEnd: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "logetl_export_newest_window_end_seconds",
			Help: "Unix time of the end of the newest window exported by this worker."}, tg),
		verifyRuns: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logetl_verify_runs_total",
			Help: "Verify activities completed."}, []string{"table"}),
		verifyWindows: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "logetl_verify_windows",
			Help: "Windows checked by the last verify."}, []string{"table"}),
		verifyMismatched: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "logetl_verify_mismatched_windows",
			Help: "Windows whose files did not hold exactly MySQL's rows at the last verify (before its repairs)."}, []string{"table"}),
		repaired: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logetl_windows_repaired_total",
			Help: "Windows re-exported because verify, a compaction or a purge found their files wrong, by who found it."}, []string{"table", "reason"}),
		notExported: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "logetl_columns_not_exported",
			Help: "Columns of the MySQL table that its spec does not name: never read, never exported."}, []string{"table"}),
		purgeRows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logetl_purge_rows_total",
			Help: "Rows deleted from MySQL by retention after their window verified."}, []string{"table"}),
		purgeRefused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logetl_purge_refused_windows_total",
			Help: "Windows the purge kept in MySQL because they did not verify, by reason."}, []string{"table", "reason"}),
		dailiesRemoved: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logetl_lake_daily_files_removed_total",
			Help: "Daily Parquet objects the S3 lifecycle deleted once their week's compacted file held their rows."}, []string{"table"}),
		dailyBytesRemoved: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logetl_lake_daily_bytes_removed_total",
			Help: "Bytes of the daily Parquet objects the S3 lifecycle deleted."}, []string{"table"}),
		weeksKept: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "logetl_lake_weeks_kept",
			Help: "Weeks whose daily files the last lifecycle run kept, their weekly file not proven to hold them (reasons in the worker log)."}, []string{"table"}),
		bots: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logetl_bot_actions_total",
			Help: "Bot API actions, by kind (signup, session) and outcome (ok, skipped, failed)."}, []string{"kind", "outcome"}),
		newest: map[string]time.Time{},
		oldest: map[string]time.Time{},
		now:    now,
	}
	for _, c := range []prometheus.Collector{m.rows, m.bytes, m.windows, m.failures, m.duration, m.lastEnd, m.verifyRuns, m.verifyWindows,
		m.verifyMismatched, m.repaired, m.notExported, m.purgeRows, m.purgeRefused, m.dailiesRemoved, m.dailyBytesRemoved, m.weeksKept, m.bots, lagCollector{m}, ageCollector{m}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, t := range tables {
		for _, g := range []string{string(partition.Daily), string(partition.Weekly)} {
			m.rows.WithLabelValues(t, g)
			m.windows.WithLabelValues(t, g)
			for _, k := range []string{"retryable", "permanent"} {
				m.failures.WithLabelValues(t, g, k)
			}
		}
		m.verifyRuns.WithLabelValues(t)
		m.purgeRows.WithLabelValues(t)
		m.notExported.WithLabelValues(t)
	}
	return m, nil
}

// lagCollector serves logetl_export_lag_seconds{table}: now minus the end of the newest daily
// window known exported, computed at scrape time so that a stalled export grows the lag.
type lagCollector struct{ m *Metrics }

var lagDesc = prometheus.NewDesc("logetl_export_lag_seconds",
	"Seconds between now and the end of the newest daily window exported (the freshness of the lake), by table; absent before the first export this worker knows of.",
	[]string{"table"}, nil)

func (c lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- lagDesc }

func (c lagCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	now := c.m.now()
	for t, end := range c.m.newest {
		ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, now.Sub(end).Seconds(), t)
	}
}

// ageCollector serves logetl_oldest_row_age_seconds{table}.
type ageCollector struct{ m *Metrics }

var ageDesc = prometheus.NewDesc("logetl_oldest_row_age_seconds",
	"Age of the oldest row still in MySQL, for tables with a retention: what the purge keeps bounded.",
	[]string{"table"}, nil)

func (c ageCollector) Describe(ch chan<- *prometheus.Desc) { ch <- ageDesc }

func (c ageCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	now := c.m.now()
	for t, at := range c.m.oldest {
		ch <- prometheus.MustNewConstMetric(ageDesc, prometheus.GaugeValue, math.Max(0, now.Sub(at).Seconds()), t)
	}
}

// Exported records one exported window or week.
func (m *Metrics) Exported(table string, g partition.Granularity, w partition.Window, rows, bytes int64, took time.Duration) {
	m.rows.WithLabelValues(table, string(g)).Add(float64(rows))
	m.bytes.WithLabelValues(table, string(g)).Add(float64(bytes))
	m.windows.WithLabelValues(table, string(g)).Inc()
	m.duration.WithLabelValues(table, string(g)).Observe(took.Seconds())
	if g == partition.Daily {
		m.Fresh(table, w.End)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastEnd.WithLabelValues(table, string(g)).Set(float64(w.End.Unix()))
}

// Fresh records that the table's lake holds every window up to end (exports, or the lake's own
// state read at start-up). A backfill of old windows must not make the lake look stale: the
// newest end wins.
func (m *Metrics) Fresh(table string, end time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if end.After(m.newest[table]) {
		m.newest[table] = end
	}
}

// ExportFailed records a failed export or compaction attempt.
func (m *Metrics) ExportFailed(table string, g partition.Granularity, permanent bool) {
	kind := "retryable"
	if permanent {
		kind = "permanent"
	}
	m.failures.WithLabelValues(table, string(g), kind).Inc()
}

// Repaired records a window re-exported because it was found wrong.
func (m *Metrics) Repaired(table string, _ partition.Window, _ int64, reason string) {
	m.repaired.WithLabelValues(table, reason).Inc()
}

// Verified records a verify's outcome.
func (m *Metrics) Verified(table string, windows, problems int64) {
	m.verifyRuns.WithLabelValues(table).Inc()
	m.verifyWindows.WithLabelValues(table).Set(float64(windows))
	m.verifyMismatched.WithLabelValues(table).Set(float64(problems))
}

// Purged records one window's purge.
func (m *Metrics) Purged(table, verdict, reason string, rows int64) {
	m.purgeRows.WithLabelValues(table).Add(float64(rows))
	if verdict == "refused" {
		m.purgeRefused.WithLabelValues(table, refusalKind(reason)).Inc()
	}
}

// DailyFilesRemoved records one lifecycle call.
func (m *Metrics) DailyFilesRemoved(table string, files int, bytes int64, weeksKept int) {
	m.dailiesRemoved.WithLabelValues(table).Add(float64(files))
	m.dailyBytesRemoved.WithLabelValues(table).Add(float64(bytes))
	m.weeksKept.WithLabelValues(table).Set(float64(weeksKept))
}

// refusalKind keeps the reason label to a few values: Prometheus labels must not be free text.
func refusalKind(reason string) string {
	switch {
	case strings.Contains(reason, "re-export failed"):
		return "reexport_failed"
	case strings.Contains(reason, "still not in the lake"):
		return "not_in_lake"
	case strings.Contains(reason, "manifests say"):
		return "manifest_mismatch"
	}
	return "other"
}

// ColumnsNotExported records how many MySQL columns the table's spec does not name.
func (m *Metrics) ColumnsNotExported(table string, columns []string) {
	m.notExported.WithLabelValues(table).Set(float64(len(columns)))
}

// OldestRow records the oldest row still in a retention table.
func (m *Metrics) OldestRow(table string, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.oldest[table] = at
}

// BotActions records bot API actions.
func (m *Metrics) BotActions(kind, outcome string, actions int) {
	m.bots.WithLabelValues(kind, outcome).Add(float64(max(actions, 1)))
}

// Watch refreshes, every interval until ctx ends, the gauges read from the tables themselves:
// the oldest row of each retention table. Errors are logged (MySQL may be down; the next tick
// tries again).
func (m *Metrics) Watch(ctx context.Context, every time.Duration, oldest map[string]func(context.Context) (time.Time, bool, error), log *slog.Logger) {
	tick := func() {
		for table, f := range oldest {
			at, ok, err := f(ctx)
			switch {
			case err != nil:
				log.WarnContext(ctx, "cannot read the oldest row", "table", table, "error", err)
			case ok:
				m.OldestRow(table, at)
			default:
				m.OldestRow(table, m.now())
			}
		}
	}
	tick()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			tick()
		}
	}
}
