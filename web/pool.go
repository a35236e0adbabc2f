package web

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/quire/quire/storage"
)

// poolCollector reads the store's connection pool at scrape time.
type poolCollector struct {
	src                                       storage.StatsReporter
	maxOpen, open, inUse, idle, waits, waited *prometheus.Desc
}

func newPoolCollector(src storage.StatsReporter) *poolCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName("quire", "storage", name), help, nil, nil)
	}
	return &poolCollector{
		src:     src,
		maxOpen: d("pool_max_connections", "Connection limit of the database pool."),
		open:    d("pool_open_connections", "Database connections open now."),
		inUse:   d("pool_in_use_connections", "Database connections serving a query now."),
		idle:    d("pool_idle_connections", "Database connections open and idle."),
		waits:   d("pool_waits_total", "Connection acquisitions that had to wait."),
		waited:  d("pool_wait_seconds_total", "Time spent waiting for a database connection."),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.maxOpen, c.open, c.inUse, c.idle, c.waits, c.waited} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.PoolStats()
	g := prometheus.GaugeValue
	ch <- prometheus.MustNewConstMetric(c.maxOpen, g, float64(s.MaxOpen))
	ch <- prometheus.MustNewConstMetric(c.open, g, float64(s.Open))
	ch <- prometheus.MustNewConstMetric(c.inUse, g, float64(s.InUse))
	ch <- prometheus.MustNewConstMetric(c.idle, g, float64(s.Idle))
	ch <- prometheus.MustNewConstMetric(c.waits, prometheus.CounterValue, float64(s.WaitCount))
	ch <- prometheus.MustNewConstMetric(c.waited, prometheus.CounterValue, s.WaitDuration.Seconds())
}
