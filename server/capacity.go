package server

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// FDReserve is how many file descriptors a derived connection cap
// (Config.MaxConns zero) leaves free below RLIMIT_NOFILE: database files
// and connections, Redis, the listeners, and the short HTTP requests
// (/healthz, the API) that must still be answered when sockets fill the
// rest.
const FDReserve = 256

// capacityFor is the connection cap derived from a soft RLIMIT_NOFILE:
// the limit minus FDReserve (never below half the limit); 0 (no cap) when
// the limit is unknown or unlimited.
func capacityFor(nofile uint64) int {
	if nofile == 0 || nofile > 1<<30 {
		return 0
	}
	n := int(nofile)
	return max(n-FDReserve, n/2)
}

// maxConns resolves Config.MaxConns: positive as is, zero derived from
// the process's file limit, negative (or an unknown limit) no cap (0).
func maxConns(configured int) int {
	switch {
	case configured > 0:
		return configured
	case configured < 0:
		return 0
	}
	return capacityFor(nofileLimit())
}

// capListener counts the open connections. At the file-descriptor limit
// accept fails (EMFILE) and every new connection, /healthz included, waits
// in the kernel's backlog until one closes; the cap keeps new Socket.IO
// sessions below it instead (see capacityGate), so the reserve stays free
// for plain requests and the database.
type capListener struct {
	net.Listener
	open atomic.Int64
}

func (l *capListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.open.Add(1)
	return &capConn{Conn: c, l: l}, nil
}

type capConn struct {
	net.Conn
	l    *capListener
	once sync.Once
}

// SyscallConn passes the socket's raw access through. realtime's websocket
// writes are non-blocking writes on it (realtime/netconn_ws.go): without
// it, every room frame to every recipient took a writer goroutine again
// (bench S1, pprof: no inline write at all once connections came through
// this listener).
func (c *capConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.New("server: the connection has no raw access")
	}
	return sc.SyscallConn()
}

func (c *capConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

// capacity refuses new Socket.IO sessions while the server holds more
// open connections than its cap.
type capacity struct {
	max     int // 0: no cap
	ln      *capListener
	refused prometheus.Counter
	log     *slog.Logger

	mu      sync.Mutex
	lastLog time.Time
	quiet   int
}

// gate answers 503 (with Retry-After) to an Engine.IO request that would
// open a new session (no sid: the websocket or polling handshake) while
// the open connections exceed the cap; sessions already open (their polls
// and upgrades carry their sid) go on.
func (c *capacity) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.max > 0 && c.ln != nil && r.URL.Query().Get("sid") == "" {
			if open := c.ln.open.Load(); open > int64(c.max) {
				c.refuse(open)
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Retry-After", "5")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte(`{"detail":"server at its connection capacity, retry later"}` + "\n"))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// refuse counts a refused session and logs at most one line per 10 s.
func (c *capacity) refuse(open int64) {
	c.refused.Inc()
	c.mu.Lock()
	c.quiet++
	var count int
	now := time.Now()
	logNow := now.Sub(c.lastLog) >= 10*time.Second
	if logNow {
		count, c.lastLog, c.quiet = c.quiet, now, 0
	}
	c.mu.Unlock()
	if logNow {
		c.log.Warn("new socket refused: at connection capacity", "open", open, "max_conns", c.max, "refused", count)
	}
}
