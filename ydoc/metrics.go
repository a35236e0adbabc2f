package ydoc

import "github.com/prometheus/client_golang/prometheus"

// Refusal reasons (label values of updates_refused_total).
const (
	reasonInvalid  = "invalid"
	reasonTooLarge = "too_large"
	reasonBusy     = "busy"
	reasonStorage  = "storage"
	reasonPanic    = "panic"
)

type metrics struct {
	liveDocuments  prometheus.Gauge
	updatesApplied prometheus.Counter
	updatesRefused *prometheus.CounterVec
	bytesPersisted prometheus.Counter
	compactions    prometheus.Counter
	commitBatch    prometheus.Histogram
	commitSeconds  prometheus.Histogram // one group commit's AppendUpdates: the disk's share of applySeconds
	applySeconds   prometheus.Histogram
	heldUpdates    prometheus.Gauge
	// stateCacheBytes: encoded states kept for joiners (statecache.go)
	stateCacheBytes prometheus.Gauge
}

// newMetrics registers the package's metrics on reg (nil: a private
// registry, so tests and benchmarks can build many managers).
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "quire", Subsystem: "ydoc", Name: name, Help: help}
	}
	m := &metrics{
		liveDocuments:  prometheus.NewGauge(prometheus.GaugeOpts(opts("live_documents", "Documents loaded in memory."))),
		updatesApplied: prometheus.NewCounter(prometheus.CounterOpts(opts("updates_applied_total", "Updates applied to live documents."))),
		updatesRefused: prometheus.NewCounterVec(prometheus.CounterOpts(opts("updates_refused_total", "Updates refused, by reason.")), []string{"reason"}),
		bytesPersisted: prometheus.NewCounter(prometheus.CounterOpts(opts("persisted_bytes_total", "Bytes of updates appended to document logs."))),
		compactions:    prometheus.NewCounter(prometheus.CounterOpts(opts("compaction_runs_total", "Document log compactions completed."))),
		commitBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "quire", Subsystem: "ydoc", Name: "commit_batch_updates",
			Help:    "Updates per group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 13),
		}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "quire", Subsystem: "ydoc", Name: "commit_duration_seconds",
			Help:    "Time one group commit took to append its updates durably (transaction and fsync).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		applySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "quire", Subsystem: "ydoc", Name: "apply_duration_seconds",
			Help:    "Time from Apply called to the update durable and applied.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		heldUpdates: prometheus.NewGauge(prometheus.GaugeOpts(opts("held_updates", "Stored updates waiting for their dependencies."))),
		stateCacheBytes: prometheus.NewGauge(prometheus.GaugeOpts(opts("state_cache_bytes",
			"Bytes of encoded document states (update and JSON) cached for joiners."))),
	}
	for _, reason := range []string{reasonInvalid, reasonTooLarge, reasonBusy, reasonStorage, reasonPanic} {
		m.updatesRefused.WithLabelValues(reason)
	}
	for _, c := range []prometheus.Collector{m.liveDocuments, m.updatesApplied, m.updatesRefused,
		m.bytesPersisted, m.compactions, m.commitBatch, m.commitSeconds, m.applySeconds, m.heldUpdates, m.stateCacheBytes} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
