package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/quire/quire/api"
	"github.com/quire/quire/auth"
	"github.com/quire/quire/awareness"
	"github.com/quire/quire/chat"
	"github.com/quire/quire/presence"
	"github.com/quire/quire/realtime"
	"github.com/quire/quire/storage"
	"github.com/quire/quire/web"
	"github.com/quire/quire/ydoc"
)

// Server is one running Quire instance.
type Server struct {
	cfg      Config
	log      *slog.Logger
	store    storage.Store
	auth     *auth.Authenticator
	registry *prometheus.Registry
	docs     *ydoc.Manager
	presence presence.Manager
	rt       *realtime.Server
	redis    *redis.Client // nil: one instance
	instance string        // this process's id among the deployment's
	chat     *chat.Client
	tasks    chat.Tasks
	http     *http.Server
	pprof    *http.Server // nil unless Config.PprofAddr
	metrics  *http.Server // nil unless Config.MetricsAddr
	refused  *prometheus.CounterVec
	capacity *capacity // new sessions refused over Config.MaxConns
	web      *web.Web

	publicScheme, publicHost string // of Config.PublicURL; "" when unset

	mu          sync.Mutex
	ln          net.Listener
	metricsAddr string
	served      chan struct{} // closed when Serve returns
	started     bool
	stopOnce    sync.Once
	stopErr     error

	internalErrors atomic.Int64
	httpDone       chan struct{} // closed when Stop's HTTP shutdown returns
}

// New validates cfg, opens (and migrates) the store and builds every part.
// Nothing listens until Start.
func New(cfg Config, logger *slog.Logger) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	secret, err := ResolveSecret(cfg)
	if err != nil {
		return nil, err
	}
	if err := PrepareDataDir(cfg); err != nil {
		return nil, err
	}
	ctx := context.Background()
	store, err := storage.Open(ctx, cfg.DatabaseURL, cfg.DataDir, logger)
	if err != nil {
		return nil, err
	}
	s, err := build(cfg, logger, store, secret)
	if err != nil {
		store.Close()
		return nil, err
	}
	if cfg.RedisURL != "" {
		// PostgreSQL's document log must hold every update before any
		// instance relays it; build wired the broker to the shared Redis.
		logger.Info("sharing rooms through Redis", "redis", redactURL(cfg.RedisURL), "prefix", cfg.RedisPrefix, "instance", s.instance)
	}
	return s, nil
}

func build(cfg Config, logger *slog.Logger, store storage.Store, secret []byte) (*Server, error) {
	s := &Server{cfg: cfg, log: logger.With("component", "server"), store: store, registry: prometheus.NewRegistry()}
	s.instance = cmp.Or(cfg.Instance, newInstanceID())
	s.httpDone = make(chan struct{})
	s.publicScheme, s.publicHost, _ = parsePublicURL(cfg.PublicURL)
	s.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "quire", Subsystem: "server", Name: "refused_total",
		Help: "Connections or requests refused before routing: per_ip (over --max-conns-per-ip), host (not the --public-url host), capacity (a new socket over --max-conns).",
	}, []string{"reason"})
	if err := s.registry.Register(s.refused); err != nil {
		return nil, err
	}
	s.capacity = &capacity{max: maxConns(cfg.MaxConns), refused: s.refused.WithLabelValues("capacity"), log: s.log}
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "quire", Subsystem: "server", Name: "open_connections",
			Help: "TCP connections open on the public address (sockets and HTTP keep-alives).",
		}, func() float64 {
			if ln := s.capacity.ln; ln != nil {
				return float64(ln.open.Load())
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "quire", Subsystem: "server", Name: "max_connections",
			Help: "Open connections over which new sockets are refused (--max-conns, by default RLIMIT_NOFILE minus a reserve); 0: no cap.",
		}, func() float64 { return float64(s.capacity.max) }),
	} {
		if err := s.registry.Register(c); err != nil {
			return nil, err
		}
	}
	// Besides the usual figures, the time goroutines wait runnable for a
	// thread (go_sched_latencies_seconds): a slow /healthz with a short wait
	// here waits for the machine's CPU, not for Quire's own queue
	// (docs/design.md, "Scale").
	if err := s.registry.Register(collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(
		collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/sched/latencies:seconds$`)}))); err != nil {
		return nil, err
	}
	if err := s.registry.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, err
	}
	a, err := auth.NewAuthenticator(auth.Config{
		Store: store, Secret: secret, TokenTTL: cfg.TokenTTL, Password: cfg.PasswordParams, Now: cfg.Now,
	})
	if err != nil {
		return nil, err
	}
	s.auth = a

	// The documents relay through the Socket.IO server, which is built
	// after them; Broadcast only runs after Start, when s.rt is set.
	s.docs, err = ydoc.NewManager(ydoc.Config{
		Store: store, Logger: logger, Registry: s.registry, MaxDocumentBytes: cfg.MaxDocumentBytes,
		CommitLinger: cfg.CommitLinger, IdleTimeout: cfg.DocIdleTimeout, InactiveTimeout: cfg.DocInactiveTimeout,
		CompactRows: cfg.DocCompactRows,
		Broadcast:   func(docID string, update []byte, exceptSID string) { s.rt.Broadcast(docID, update, exceptSID) },
		RelayLocal:  func(docID string, update []byte) { s.rt.RelayLocal(docID, update) },
	})
	if err != nil {
		return nil, err
	}
	broker, err := s.buildShared(logger)
	if err != nil {
		return nil, err
	}
	s.rt, err = realtime.New(realtime.Config{
		Auth: a, Store: store, Docs: s.docs, Awareness: awareness.NewRegistry(), Presence: s.presence,
		Logger: logger, Registry: s.registry, MaxMessageBytes: int64(cfg.MaxMessageBytes),
		EnablePolling: cfg.Polling, Broker: broker, Instance: s.instance,
		Drain: s.drainDocs,
	})
	if err != nil {
		s.closeRedis()
		return nil, err
	}
	upstreams, err := cfg.Upstreams()
	if err != nil {
		return nil, err
	}
	s.chat, err = chat.New(chat.Config{
		Upstreams: upstreams, Logger: logger, IdleTimeout: cfg.ChatIdleTimeout, Timeout: cfg.ChatTimeout, ModelsTimeout: cfg.ChatModelsTimeout,
	})
	if err != nil {
		return nil, err
	}
	restAPI, err := api.New(api.Config{
		Store: store, Auth: a, Logger: logger,
		MaxNoteBodyBytes: cfg.MaxNoteBodyBytes, MaxAuthBodyBytes: cfg.MaxAuthBodyBytes,
		Live: s.docs, OnRevoke: s.rt.DisconnectUser, NoteEvents: s.rt.EmitNote, NoteDeleted: s.rt.NoteDeleted,
		Presence: s.presence, Now: cfg.Now, Limits: cfg.AuthLimits,
		SignupDisabled: cfg.SignupDisabled, DefaultUserRole: cfg.DefaultUserRole,
		Channels: api.ChannelEvents{Emit: s.rt.EmitChannel, Joined: s.rt.JoinChannel, Left: s.rt.LeaveChannel, Keep: s.rt.KeepChannel},
		Chat:     s.chat, Tasks: s.tasks, Events: s.rt,
		ChatFlushInterval: cfg.ChatFlushInterval, ChatFlushBytes: cfg.ChatFlushBytes,
		ChannelAnswerInterval: cfg.ChannelAnswerInterval, MaxChatBytes: cfg.MaxChatBytes,
		// Behind an https --public-url the browser only ever sees https.
		SecureCookie: s.publicScheme == "https",
		Version:      cfg.Version,
	})
	if err != nil {
		return nil, err
	}
	w, err := web.New(web.Config{Store: store, Registry: s.registry, Version: cfg.Version, Logger: logger, WebUIDir: cfg.WebUIDir})
	if err != nil {
		return nil, err
	}
	s.web = w

	mux := http.NewServeMux()
	restAPI.Register(mux)
	w.Register(mux)
	if cfg.MetricsAddr == "" {
		w.RegisterMetrics(mux)
	} else {
		// Not the app's client-route fallback either.
		mux.HandleFunc("/metrics", http.NotFound)
		mm := http.NewServeMux()
		w.RegisterMetrics(mm)
		s.metrics = &http.Server{Handler: mm, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second}
	}
	mux.Handle(realtime.PathDefault+"/", s.capacity.gate(s.rt.Handler()))

	s.http = &http.Server{
		Handler:           s.hardened(w.Instrument(s.recoverer(mux), s.logRequest)),
		ReadHeaderTimeout: 10 * time.Second,
		// No ReadTimeout/WriteTimeout: they would cut long-lived sockets;
		// bodies are capped by size instead, and idle keep-alives by:
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Store is the open store (tests read it back).
func (s *Server) Store() storage.Store { return s.store }

// Auth is the server's authenticator (tests issue tokens with it).
func (s *Server) Auth() *auth.Authenticator { return s.auth }

// Chat is the upstreams' client (tests close its idle connections).
func (s *Server) Chat() *chat.Client { return s.chat }

// Docs is the live document manager.
func (s *Server) Docs() *ydoc.Manager { return s.docs }

// Registry is the metrics registry served at /metrics.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// InternalErrors counts 500 answers and recovered panics since New; tests
// assert it stays zero whatever they send.
func (s *Server) InternalErrors() int64 { return s.internalErrors.Load() }

// Start listens on Config.Addr and serves in the background.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return nil
	}
	if err := s.docs.Start(ctx); err != nil {
		return err
	}
	if err := s.presence.Start(ctx); err != nil {
		return err
	}
	if err := s.rt.Start(ctx); err != nil {
		return err
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("server: listen on --addr %s: %w", s.cfg.Addr, err)
	}
	if s.cfg.PprofAddr != "" {
		if err := s.startPprof(ctx); err != nil {
			ln.Close()
			return err
		}
	}
	if s.metrics != nil {
		mln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.cfg.MetricsAddr)
		if err != nil {
			ln.Close()
			if s.pprof != nil {
				_ = s.pprof.Close()
			}
			return fmt.Errorf("server: listen on --metrics-addr %s: %w", s.cfg.MetricsAddr, err)
		}
		s.metricsAddr = mln.Addr().String()
		go func() {
			if err := s.metrics.Serve(mln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("metrics listener failed", "err", err)
			}
		}()
	}
	if s.cfg.MaxConnsPerIP > 0 {
		ln = &limitListener{
			Listener: ln, max: s.cfg.MaxConnsPerIP, limitLoopback: s.cfg.LimitLoopback,
			refused: s.refused.WithLabelValues("per_ip"), log: s.log, open: map[string]int{},
		}
	}
	cl := &capListener{Listener: ln}
	s.capacity.ln, ln = cl, cl
	s.ln, s.started, s.served = ln, true, make(chan struct{})
	go func() {
		defer close(s.served)
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("serve failed", "err", err)
		}
	}()
	s.logStart(ctx, ln.Addr().String())
	return nil
}

// logStart says where to point a browser and where the data and the
// signing key live, so a first run needs no guessing.
func (s *Server) logStart(ctx context.Context, addr string) {
	open := "http://" + addr + "/"
	if s.cfg.PublicURL != "" {
		open = s.cfg.PublicURL
	}
	db := "sqlite " + filepath.Join(s.cfg.DataDir, storage.SQLiteFileName)
	if s.cfg.DatabaseURL != "" {
		db = "postgres " + redactURL(s.cfg.DatabaseURL)
	}
	secret := "from --secret / QUIRE_SECRET"
	if s.cfg.Secret == "" {
		secret = filepath.Join(s.cfg.DataDir, SecretFileName)
	}
	attrs := []any{"addr", addr, "open", open, "database", db, "secret", secret, "version", s.cfg.Version,
		"max_conns", s.capacity.max, "nofile", nofileLimit()}
	if s.metricsAddr != "" {
		attrs = append(attrs, "metrics", "http://"+s.metricsAddr+"/metrics")
	}
	s.log.InfoContext(ctx, "listening", attrs...)
}

// redactURL drops the password from a database URL for logs.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// MetricsAddr is the address /metrics is served on when Config.MetricsAddr
// is set (with the real port), or "".
func (s *Server) MetricsAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.metricsAddr
}

// Addr is the address listened on (with the real port when Config.Addr
// asked for port 0), or "" before Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Stop stops accepting, lets requests in flight finish, then closes the
// store. It waits at most until ctx is done or, without a deadline,
// Config.ShutdownTimeout. Safe to call more than once and without Start.
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, s.cfg.ShutdownTimeout)
			defer cancel()
		}
		s.log.InfoContext(ctx, "stopping")
		var errs []error
		if s.pprof != nil {
			_ = s.pprof.Close()
		}
		if s.metrics != nil {
			_ = s.metrics.Close()
		}
		// Chat streams end with an error event rather than hold Shutdown;
		// chat tasks save what they had and tell the sockets (still up).
		if s.chat != nil {
			s.chat.Stop()
		}
		if s.tasks != nil {
			if err := s.tasks.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("server: stop chat tasks: %w", err))
			}
		}
		// Stop accepting at once; sockets are closed meanwhile, since a
		// pending long-poll would otherwise hold Shutdown to its deadline.
		shut := make(chan error, 1)
		go func() { shut <- s.http.Shutdown(ctx); close(s.httpDone) }()
		if err := s.rt.Stop(ctx); err != nil {
			errs = append(errs, err)
		}
		if err := <-shut; err != nil {
			errs = append(errs, fmt.Errorf("server: shutdown: %w", err))
			_ = s.http.Close() // past the deadline: cut what is left
		}
		if err := s.presence.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("server: stop presence: %w", err))
		}
		s.web.Close() // its database pings end before the store closes
		s.mu.Lock()
		served := s.served
		s.mu.Unlock()
		if served != nil {
			<-served
		}
		// Every accepted update is durable before the store closes.
		if err := s.docs.Stop(ctx); err != nil {
			errs = append(errs, err)
		}
		if err := s.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("server: close store: %w", err))
		}
		s.closeRedis()
		s.stopErr = errors.Join(errs...)
		s.log.Info("stopped")
	})
	return s.stopErr
}

// recoverer turns a handler panic into a 500 (if nothing was sent yet) and
// an error log, so one bad request cannot take the process down.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.internalErrors.Add(1)
			s.log.ErrorContext(r.Context(), "handler panic", "method", r.Method, "path", r.URL.Path, "panic", v)
			if rec, ok := w.(*web.Recorder); !ok || !rec.WroteHeader() {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = w.Write([]byte(`{"detail":"internal error"}` + "\n"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (s *Server) logRequest(r *http.Request, status int, d time.Duration) {
	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	level := slog.LevelDebug // one line per request: debug (STYLE rule 12)
	if status == http.StatusInternalServerError {
		s.internalErrors.Add(1)
		level = slog.LevelError
	}
	s.log.Log(r.Context(), level, "request", "method", r.Method, "route", route, "status", status, "duration", d)
}
