package worker

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
)

// SDKMetrics adapts the Temporal SDK's metrics (poll latencies, task schedule-to-start,
// activity and workflow outcomes, sticky cache, ...) to Prometheus: counters become
// <name>_total, timers histograms <name>_seconds, gauges stay gauges. The label names of a
// metric are those of its first use; a later use with other tags fills missing labels with ""
// and drops unknown ones, since Prometheus needs one label set per name.
type SDKMetrics struct {
	reg  prometheus.Registerer
	mu   *sync.Mutex
	vecs map[string]*sdkVec
	tags map[string]string
}

type sdkVec struct {
	labels  []string
	counter *prometheus.CounterVec
	gauge   *prometheus.GaugeVec
	timer   *prometheus.HistogramVec
}

var _ client.MetricsHandler = (*SDKMetrics)(nil)

// NewSDKMetrics returns a handler for client.Options.MetricsHandler that registers on reg.
func NewSDKMetrics(reg prometheus.Registerer) *SDKMetrics {
	return &SDKMetrics{reg: reg, mu: &sync.Mutex{}, vecs: map[string]*sdkVec{}, tags: map[string]string{}}
}

// WithTags returns a handler whose metrics carry tags on top of this one's.
func (h *SDKMetrics) WithTags(tags map[string]string) client.MetricsHandler {
	merged := maps.Clone(h.tags)
	maps.Copy(merged, tags)
	return &SDKMetrics{reg: h.reg, mu: h.mu, vecs: h.vecs, tags: merged}
}

// Counter returns the counter name with this handler's tags.
func (h *SDKMetrics) Counter(name string) client.MetricsCounter {
	v, vals := h.vec(name+"_total", "counter")
	if v == nil {
		return counterFunc(func(int64) {})
	}
	c := v.counter.WithLabelValues(vals...)
	return counterFunc(func(d int64) { c.Add(float64(d)) })
}

// Gauge returns the gauge name with this handler's tags.
func (h *SDKMetrics) Gauge(name string) client.MetricsGauge {
	v, vals := h.vec(name, "gauge")
	if v == nil {
		return gaugeFunc(func(float64) {})
	}
	g := v.gauge.WithLabelValues(vals...)
	return gaugeFunc(g.Set)
}

// Timer returns the timer name with this handler's tags, as a histogram in seconds.
func (h *SDKMetrics) Timer(name string) client.MetricsTimer {
	v, vals := h.vec(name+"_seconds", "timer")
	if v == nil {
		return timerFunc(func(time.Duration) {})
	}
	o := v.timer.WithLabelValues(vals...)
	return timerFunc(func(d time.Duration) { o.Observe(d.Seconds()) })
}

// vec finds or registers the vector of name and returns it with this handler's label values.
// It returns nil when the name cannot be registered (e.g. taken by another kind).
func (h *SDKMetrics) vec(name, kind string) (*sdkVec, []string) {
	name = sanitize(name)
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.vecs[name]
	if !ok {
		labels := make([]string, 0, len(h.tags))
		for k := range h.tags {
			labels = append(labels, sanitize(k))
		}
		slices.Sort(labels)
		labels = slices.Compact(labels)
		v = &sdkVec{labels: labels}
		var c prometheus.Collector
		switch kind {
		case "counter":
			v.counter = prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: "Temporal SDK counter " + name}, labels)
			c = v.counter
		case "gauge":
			v.gauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: "Temporal SDK gauge " + name}, labels)
			c = v.gauge
		default:
			v.timer = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: "Temporal SDK timer " + name,
				Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}}, labels)
			c = v.timer
		}
		if err := h.reg.Register(c); err != nil {
			h.vecs[name] = nil
			return nil, nil
		}
		h.vecs[name] = v
	}
	if v == nil {
		return nil, nil
	}
	byLabel := make(map[string]string, len(h.tags))
	for k, val := range h.tags {
		byLabel[sanitize(k)] = val
	}
	vals := make([]string, len(v.labels))
	for i, l := range v.labels {
		vals[i] = byLabel[l]
	}
	return v, vals
}

// sanitize maps a name to Prometheus' [a-zA-Z_:][a-zA-Z0-9_:]*.
func sanitize(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '_', r == ':':
			b.WriteRune(r)
		case r >= '0' && r <= '9' && i > 0:
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

type counterFunc func(int64)

func (f counterFunc) Inc(d int64) { f(d) }

type gaugeFunc func(float64)

func (f gaugeFunc) Update(v float64) { f(v) }

type timerFunc func(time.Duration)

func (f timerFunc) Record(d time.Duration) { f(d) }
