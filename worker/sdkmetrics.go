package worker

import (
	"log/slog"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/uber-go/tally/v4"
	tallyprom "github.com/uber-go/tally/v4/prometheus"
	"go.temporal.io/sdk/client"
	sdktally "go.temporal.io/sdk/contrib/tally"
)

// sdkReportEvery is how often tally copies the SDK's counters, gauges and timers into the
// Prometheus collectors; a scrape sees values at most this old.
const sdkReportEvery = time.Second

// SDKMetrics is the Temporal SDK's metrics handler (poll and request counts and latencies, task
// schedule-to-start, activity and workflow outcomes, slots, sticky cache, ...), built the way the
// SDK documents it: go.temporal.io/sdk/contrib/tally over tally's Prometheus reporter, with the
// SDK's Prometheus naming (counters get _total, timers become histograms in _seconds). It
// registers on the worker's registry, next to the pipeline's logetl_* metrics.
//
// Prometheus wants one label set per metric name. The SDK tags every metric with the same root
// tags (namespace, client, worker_type, workflow_type, activity_type, task_queue, set to
// "_unknown_" when not applicable) plus a fixed set per metric, so the names register once; a
// later use of a name with other label keys would not register and is dropped (counted in
// RegisterErrors and logged), never a panic.
type SDKMetrics struct {
	client.MetricsHandler
	scope     tally.Scope
	closer    interface{ Close() error }
	regErrors *atomic.Int64
}

var _ client.MetricsHandler = (*SDKMetrics)(nil)

// NewSDKMetrics returns a handler for client.Options.MetricsHandler that registers on reg.
// Close stops its reporting loop after a last report.
func NewSDKMetrics(reg prometheus.Registerer) *SDKMetrics {
	m := &SDKMetrics{regErrors: &atomic.Int64{}}
	reporter := tallyprom.NewReporter(tallyprom.Options{
		Registerer:       reg,
		DefaultTimerType: tallyprom.HistogramTimerType,
		// Poll and request latencies are milliseconds to a minute (long polls); activities
		// (exports) run minutes.
		DefaultHistogramBuckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900},
		// tally's default panics; a metric we cannot export must not take the worker down.
		OnRegisterError: func(err error) {
			m.regErrors.Add(1)
			slog.Default().Warn("Temporal SDK metric not exported", "err", err)
		},
	})
	// The SDK's sanitize options also rewrite label values to [A-Za-z0-9_] (task queue
	// "my-queue" would read "my_queue", namespace "ns.acct" "ns_acct"); Prometheus takes any
	// UTF-8 value, and alert rules should match the real names, so values are kept as they are.
	sanitize := sdktally.PrometheusSanitizeOptions
	sanitize.ValueCharacters = tally.ValidCharacters{Ranges: []tally.SanitizeRange{{0, unicode.MaxRune}}}
	scope, closer := tally.NewRootScope(tally.ScopeOptions{
		CachedReporter:  reporter,
		Separator:       tallyprom.DefaultSeparator,
		SanitizeOptions: &sanitize,
		// tally_internal_* cardinality gauges are about tally, not about the worker.
		OmitCardinalityMetrics: true,
	}, sdkReportEvery)
	m.scope = sdktally.NewPrometheusNamingScope(scope)
	m.closer = closer
	m.MetricsHandler = sdktally.NewMetricsHandler(m.scope)
	return m
}

// Unwrap lets sdktally.ScopeFromHandler find the tally scope under this handler.
func (m *SDKMetrics) Unwrap() client.MetricsHandler { return m.MetricsHandler }

// RegisterErrors counts the SDK series that could not be registered on the registry.
func (m *SDKMetrics) RegisterErrors() int64 { return m.regErrors.Load() }

// Close reports the last values and stops the reporting loop.
func (m *SDKMetrics) Close() error { return m.closer.Close() }
