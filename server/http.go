package server

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// hardened wraps every public request: the Host check (--public-url),
// headers every answer carries, and the read deadline of request bodies.
func (s *Server) hardened(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// A liveness probe may address the server by IP; it reveals nothing.
		if s.publicHost != "" && r.URL.Path != "/healthz" && !sameHost(r.Host, s.publicHost, s.publicScheme) {
			s.refused.WithLabelValues("host").Inc()
			h.Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusMisdirectedRequest)
			_, _ = w.Write([]byte(`{"detail":"this server answers only for its --public-url host"}` + "\n"))
			return
		}
		// Only a request with a body gets a read deadline: a body trickled
		// byte by byte is cut, while a websocket upgrade or a long-poll GET
		// (no body) is never limited. The deadline is lifted once the body
		// is read, so the server's background read of an idle connection
		// does not cancel a slow handler's context.
		if r.Body != nil && r.Body != http.NoBody {
			rc := http.NewResponseController(w)
			if rc.SetReadDeadline(time.Now().Add(s.cfg.ReadTimeout)) == nil {
				r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody clears the connection's read deadline when the body ends.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	// Only the end of the body lifts the deadline: after a timeout the
	// server may read on to discard the rest, and must be cut again.
	if err == io.EOF && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// sameHost compares a request's Host with the --public-url host, ignoring
// case and the scheme's default port.
func sameHost(got, want, scheme string) bool {
	return normalHost(got, scheme) == normalHost(want, scheme)
}

func normalHost(h, scheme string) string {
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	if host, port, err := net.SplitHostPort(h); err == nil {
		if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
			return strings.TrimSuffix(host, ".")
		}
		return strings.TrimSuffix(host, ".") + ":" + port
	}
	return strings.Trim(h, "[]")
}

// parsePublicURL returns the scheme and host of --public-url.
func parsePublicURL(raw string) (scheme, host string, ok bool) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", "", false
	}
	return u.Scheme, u.Host, true
}

// limitListener closes, at once, a connection from an address that already
// has max open; loopback is exempt unless limitLoopback (a local reverse
// proxy's connections all come from loopback).
type limitListener struct {
	net.Listener
	max           int
	limitLoopback bool
	refused       prometheus.Counter
	log           *slog.Logger

	mu      sync.Mutex
	open    map[string]int
	lastLog time.Time
	quiet   int // refusals not logged since lastLog
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c)
		if ip == nil || (ip.IsLoopback() && !l.limitLoopback) {
			return c, nil
		}
		key := ip.String()
		l.mu.Lock()
		if l.open[key] >= l.max {
			l.quiet++
			var logNow bool
			var count int
			if now := time.Now(); now.Sub(l.lastLog) >= 10*time.Second {
				logNow, count, l.lastLog, l.quiet = true, l.quiet, now, 0
			}
			l.mu.Unlock()
			l.refused.Inc()
			_ = c.Close()
			if logNow { // at most one line per 10 s
				l.log.Warn("connection refused: too many from one address", "addr", key, "max", l.max, "refused", count)
			}
			continue
		}
		l.open[key]++
		l.mu.Unlock()
		return &limitedConn{Conn: c, l: l, key: key}, nil
	}
}

type limitedConn struct {
	net.Conn
	l    *limitListener
	key  string
	once sync.Once
}

func (c *limitedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		if c.l.open[c.key]--; c.l.open[c.key] <= 0 {
			delete(c.l.open, c.key)
		}
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

func remoteIP(c net.Conn) net.IP {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP
	}
	return nil
}
