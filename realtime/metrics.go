package realtime

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	connected      prometheus.Gauge
	events         *prometheus.CounterVec
	rejected       *prometheus.CounterVec
	broadcastBytes prometheus.Counter
	latency        *prometheus.HistogramVec
	gateTimeouts   *prometheus.CounterVec
	// presenceBatches counts presence diffs sent to the watchers' room.
	presenceBatches prometheus.Counter
	closed          *prometheus.CounterVec
	// socketFull counts writes that found a connection's socket buffer
	// full and left their rest to the connection's flush goroutine.
	socketFull prometheus.Counter
	// batchedSends counts room frames sent in a batched fan-out
	// (fanout_ws.go).
	batchedSends prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "quire", Subsystem: "realtime", Name: "connected_sockets",
			Help: "Socket.IO sockets connected now.",
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "quire", Subsystem: "realtime", Name: "events_total",
			Help: "Events received, by event name (unknown names as \"other\").",
		}, []string{"event"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "quire", Subsystem: "realtime", Name: "rejected_total",
			Help: "Events refused, by reason.",
		}, []string{"reason"}),
		broadcastBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "quire", Subsystem: "realtime", Name: "broadcast_bytes_total",
			Help: "Payload bytes serialised for room broadcasts (once per broadcast).",
		}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "quire", Subsystem: "realtime", Name: "event_duration_seconds",
			Help:    "Time from receiving an event to finishing it (queueing included).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"event"}),
		socketFull: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "quire", Subsystem: "realtime", Name: "socket_full_total",
			Help: "Websocket writes that found the connection's socket buffer full (a client reading slowly or not at all); the rest is written by that connection's own goroutine.",
		}),
		batchedSends: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "quire", Subsystem: "realtime", Name: "batched_sends_total",
			Help: "Room frames sent to a websocket within a batched fan-out (one io_uring submission for many recipients); stays 0 where io_uring is missing or forbidden.",
		}),
		gateTimeouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "quire", Subsystem: "realtime", Name: "gate_timeouts_total",
			Help: "Connections whose held read went on after the fallback wait, not because the library got ready (gate: engine or connect). Should stay 0.",
		}, []string{"gate"}),
		presenceBatches: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "quire", Subsystem: "realtime", Name: "presence_batches_total",
			Help: "Presence diffs sent to watchers (at most one per presence interval).",
		}),
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "quire", Subsystem: "realtime", Name: "closed_total",
			Help: "Sockets the server closed for misbehaving, by reason (rate_limited, auth_timeout, queue_overflow).",
		}, []string{"reason"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.connected, m.events, m.rejected, m.broadcastBytes, m.latency, m.gateTimeouts, m.presenceBatches, m.closed, m.socketFull, m.batchedSends} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
