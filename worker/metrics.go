package worker

import (
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logetl/logetl/workflows"
)

// Metrics are the pipeline's own metrics: what was exported, how fresh the lake is, what
// verify found, what the bots did. It implements activities.Recorder.
type Metrics struct {
	rows, bytes, windows *prometheus.CounterVec
	lastEnd              *prometheus.GaugeVec
	verifyRuns           prometheus.Counter
	verifyWindows        prometheus.Gauge
	verifyMismatched     prometheus.Gauge
	bots                 *prometheus.CounterVec

	mu     sync.Mutex
	newest map[string]time.Time // granularity → newest exported window end
	now    func() time.Time
}

// NewMetrics registers the pipeline metrics on reg. now is the clock of the lag gauge.
func NewMetrics(reg prometheus.Registerer, now func() time.Time) (*Metrics, error) {
	if now == nil {
		now = time.Now
	}
	m := &Metrics{
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logetl_export_rows_total",
			Help: "Rows written to S3, by granularity (daily windows, weekly compactions)."}, []string{"granularity"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logetl_export_bytes_total",
			Help: "Parquet bytes written to S3, by granularity."}, []string{"granularity"}),
		windows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logetl_export_windows_total",
			Help: "Windows (daily) or weeks (weekly) exported."}, []string{"granularity"}),
		lastEnd: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "logetl_export_newest_window_end_seconds",
			Help: "Unix time of the end of the newest window exported by this worker."}, []string{"granularity"}),
		verifyRuns: prometheus.NewCounter(prometheus.CounterOpts{Name: "logetl_verify_runs_total",
			Help: "Verify activities completed."}),
		verifyWindows: prometheus.NewGauge(prometheus.GaugeOpts{Name: "logetl_verify_windows",
			Help: "Windows checked by the last verify."}),
		verifyMismatched: prometheus.NewGauge(prometheus.GaugeOpts{Name: "logetl_verify_mismatched_windows",
			Help: "Windows whose S3 files did not hold exactly MySQL's rows at the last verify."}),
		bots: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logetl_bot_actions_total",
			Help: "Bot API actions, by kind (signup, session) and outcome (ok, skipped, failed)."}, []string{"kind", "outcome"}),
		newest: map[string]time.Time{},
		now:    now,
	}
	lag := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "logetl_export_lag_seconds",
		Help: "Seconds between now and the end of the newest daily window exported by this worker (freshness of the lake); NaN before the first export."},
		m.lagSeconds)
	for _, c := range []prometheus.Collector{m.rows, m.bytes, m.windows, m.lastEnd, m.verifyRuns, m.verifyWindows, m.verifyMismatched, m.bots, lag} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) lagSeconds() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	end, ok := m.newest[workflows.GranularityDaily]
	if !ok {
		return math.NaN()
	}
	return m.now().Sub(end).Seconds()
}

// Exported records one exported window or week.
func (m *Metrics) Exported(granularity string, w workflows.Window, rows, bytes int64) {
	m.rows.WithLabelValues(granularity).Add(float64(rows))
	m.bytes.WithLabelValues(granularity).Add(float64(bytes))
	m.windows.WithLabelValues(granularity).Inc()
	m.mu.Lock()
	defer m.mu.Unlock()
	// A backfill of old windows must not make the lake look stale: keep the newest end.
	if w.End.After(m.newest[granularity]) {
		m.newest[granularity] = w.End
		m.lastEnd.WithLabelValues(granularity).Set(float64(w.End.Unix()))
	}
}

// Verified records a verify's outcome.
func (m *Metrics) Verified(windows, mismatched int) {
	m.verifyRuns.Inc()
	m.verifyWindows.Set(float64(windows))
	m.verifyMismatched.Set(float64(mismatched))
}

// BotActions records bot API actions.
func (m *Metrics) BotActions(kind, outcome string, actions int) {
	m.bots.WithLabelValues(kind, outcome).Add(float64(max(actions, 1)))
}
