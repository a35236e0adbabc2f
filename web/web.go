package web

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/quire/quire/storage"
)

//go:embed all:dist
var dist embed.FS

// Pinger is what /healthz asks (storage.Store has it).
type Pinger interface {
	Ping(ctx context.Context) error
}

// Config configures the web endpoints.
type Config struct {
	// Store answers /healthz; if it is a storage.StatsReporter its pool
	// statistics are exported too. Required.
	Store Pinger
	// Registry receives the metrics and is served at /metrics. Required.
	Registry *prometheus.Registry
	// Version goes into quire_build_info. Empty: "dev".
	Version string
	// Logger: nil discards.
	Logger *slog.Logger
	// Assets overrides the embedded browser app (tests). Nil: web/dist.
	Assets fs.FS
	// WebUIDir serves another frontend build from this directory instead
	// of the embedded app (--webui-dir), e.g. the stock Open WebUI
	// frontend. It must hold an index.html. Empty: the embedded app.
	WebUIDir string
	// HealthEvery is how often the database is pinged for /healthz, which
	// answers from the last ping (zero: 1 s); HealthTimeout bounds one ping
	// (zero: 5 s); HealthStale is how old the last successful ping may be
	// for /healthz to answer 200 (zero: 10 s).
	HealthEvery, HealthTimeout, HealthStale time.Duration
}

// Web holds the handlers and metrics.
type Web struct {
	cfg      Config
	log      *slog.Logger
	assets   fs.FS
	external bool // assets are a --webui-dir build, not our app
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	health   health
}

// New registers the metrics and returns the handlers.
func New(cfg Config) (*Web, error) {
	if cfg.Store == nil || cfg.Registry == nil {
		return nil, errors.New("web: Config.Store and Config.Registry are required")
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	cfg.HealthEvery = cmp.Or(cfg.HealthEvery, time.Second)
	cfg.HealthTimeout = cmp.Or(cfg.HealthTimeout, 5*time.Second)
	cfg.HealthStale = cmp.Or(cfg.HealthStale, 10*time.Second)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	assets := cfg.Assets
	if cfg.WebUIDir != "" {
		if err := CheckWebUIDir(cfg.WebUIDir); err != nil {
			return nil, err
		}
		assets = os.DirFS(cfg.WebUIDir)
	}
	if assets == nil {
		sub, err := fs.Sub(dist, "dist")
		if err != nil {
			return nil, err
		}
		assets = sub
	}
	w := &Web{
		cfg:      cfg,
		log:      log.With("component", "web"),
		assets:   assets,
		external: cfg.WebUIDir != "",
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "quire", Subsystem: "web", Name: "http_requests_total",
			Help: "HTTP requests answered, by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "quire", Subsystem: "web", Name: "http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route pattern (WebSocket sessions excluded).",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "quire", Name: "build_info",
		Help: "Always 1; labels name the build.",
	}, []string{"version", "go"})
	build.WithLabelValues(cfg.Version, runtime.Version()).Set(1)
	cs := []prometheus.Collector{w.requests, w.duration, build}
	if sr, ok := cfg.Store.(storage.StatsReporter); ok {
		cs = append(cs, newPoolCollector(sr))
	}
	for _, c := range cs {
		if err := cfg.Registry.Register(c); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// CheckWebUIDir reports why dir cannot be served as a frontend build: it
// must be a directory with an index.html.
func CheckWebUIDir(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("--webui-dir %q: %w", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("--webui-dir %q is not a directory", dir)
	}
	if st, err := os.Stat(filepath.Join(dir, "index.html")); err != nil || st.IsDir() {
		return fmt.Errorf("--webui-dir %q has no index.html: not a frontend build", dir)
	}
	return nil
}

// ContentSecurityPolicy is sent with the browser app's files. The app
// loads only its own script and stylesheet and talks only to its own origin
// (fetch and the Socket.IO websocket); its icon is a data: URL, and the
// editor's remote cursors set inline style attributes.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Register adds /healthz and the browser app to mux.
func (w *Web) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", w.healthz)
	mux.HandleFunc("/", w.app) // any method, so that "/api/" stays more specific
}

// RegisterMetrics adds /metrics to mux (the public one, or the one of
// --metrics-addr).
func (w *Web) RegisterMetrics(mux *http.ServeMux) {
	mux.Handle("GET /metrics", promhttp.HandlerFor(w.cfg.Registry, promhttp.HandlerOpts{}))
}

// healthz answers from the last database ping, never waiting on the
// database itself: with thousands of sockets authenticating or documents
// loading, the pool is busy and a ping per request would queue behind them
// (measured: p99 1.4 s against 0.4 s for a route that touches nothing, on
// PostgreSQL, 20,000 sockets joining 5,000 notes). 200 while the last ping
// succeeded and the last success is at most HealthStale old.
func (w *Web) healthz(rw http.ResponseWriter, r *http.Request) {
	w.health.start(w)
	rw.Header().Set("Content-Type", "application/json")
	rw.Header().Set("Cache-Control", "no-store")
	if !w.health.ok(w.cfg.HealthStale) {
		rw.WriteHeader(http.StatusServiceUnavailable)
		_, _ = rw.Write([]byte(`{"status":false}` + "\n"))
		return
	}
	_, _ = rw.Write([]byte(`{"status":true}` + "\n"))
}

// Close stops the database pings behind /healthz (idempotent).
func (w *Web) Close() { w.health.close() }

// health pings the database every HealthEvery from the first /healthz on,
// and keeps the outcome for /healthz to answer from.
type health struct {
	once      sync.Once
	closeOnce sync.Once
	stop      chan struct{}
	done      chan struct{}

	mu     sync.Mutex
	probed bool
	lastOK bool
	okAt   time.Time // last successful ping
}

// start pings once (so the first answer is a real one) and then keeps
// pinging in the background, until close.
func (h *health) start(w *Web) {
	h.once.Do(func() {
		h.stop, h.done = make(chan struct{}), make(chan struct{})
		h.probe(w)
		go func() {
			defer close(h.done)
			t := time.NewTicker(w.cfg.HealthEvery)
			defer t.Stop()
			for {
				select {
				case <-h.stop:
					return
				case <-t.C:
					h.probe(w)
				}
			}
		}()
	})
}

func (h *health) probe(w *Web) {
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.HealthTimeout)
	defer cancel()
	err := w.cfg.Store.Ping(ctx)
	h.mu.Lock()
	was, first := h.lastOK, !h.probed
	h.lastOK, h.probed = err == nil, true
	if err == nil {
		h.okAt = time.Now()
	}
	h.mu.Unlock()
	switch { // log changes only, not every ping
	case err != nil && (was || first):
		w.log.Warn("health check failed", "err", err)
	case err == nil && !was && !first:
		w.log.Info("health check passes again")
	}
}

func (h *health) ok(stale time.Duration) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastOK && time.Since(h.okAt) <= stale
}

func (h *health) close() {
	h.once.Do(func() {}) // no pinging after close
	h.closeOnce.Do(func() {
		if h.stop != nil {
			close(h.stop)
			<-h.done
		}
	})
}

// app serves the frontend's files (embedded, or --webui-dir); a path with
// no such file and no extension is a client route and gets index.html (the
// SPA fallback), while a missing asset (.js, .css, …) is a 404. /api/ and
// /ws/ never fall back. Our own app gets its Content-Security-Policy; a
// --webui-dir build does not (the stock Open WebUI build runs inline
// scripts), and its content-hashed _app/immutable/ files are cached for
// good.
func (w *Web) app(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		rw.Header().Set("Allow", "GET, HEAD")
		http.Error(rw, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	if strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/ws/") {
		http.NotFound(rw, r)
		return
	}
	name := strings.TrimPrefix(path.Clean(p), "/")
	if name == "" {
		name = "index.html"
	}
	if st, err := fs.Stat(w.assets, name); err != nil || st.IsDir() {
		if path.Ext(name) != "" {
			http.NotFound(rw, r)
			return
		}
		name = "index.html"
	}
	switch {
	case name == "index.html":
		rw.Header().Set("Cache-Control", "no-cache")
	case w.external && strings.HasPrefix(name, "_app/immutable/"):
		rw.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	}
	if !w.external {
		rw.Header().Set("Content-Security-Policy", ContentSecurityPolicy)
	}
	http.ServeFileFS(rw, r, w.assets, name)
}

// Instrument counts and times every request by its mux route pattern and
// calls done (if set) with the outcome, for request logging.
func (w *Web) Instrument(next http.Handler, done func(r *http.Request, status int, d time.Duration)) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &Recorder{ResponseWriter: rw}
		defer func() {
			// The mux sets r.Pattern on this same request while routing.
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			status := rec.Status()
			d := time.Since(start)
			w.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
			if !rec.hijacked {
				w.duration.WithLabelValues(route).Observe(d.Seconds())
			}
			if done != nil {
				done(r, status, d)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}
