package server_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
	"github.com/quire/quire/server"
	"github.com/quire/quire/storage"
	"github.com/quire/quire/web"
)

// hangGuard bounds a read that the behaviour under test should end long
// before; hitting it means the behaviour is missing, not that the box is slow.
const hangGuard = 60 * time.Second

// TestTrickledBodyIsCut: a body sent a byte at a time is cut at the read
// deadline; the server answers (or closes) while the client still has
// most of the body to send.
func TestTrickledBodyIsCut(t *testing.T) {
	t.Parallel()
	s := quiretest.New(t, quiretest.WithConfig(func(c *server.Config) { c.ReadTimeout = 300 * time.Millisecond }))
	c, err := net.Dial("tcp", s.Addr())
	require.NoError(t, err)
	defer c.Close()
	const size = 100000 // at one byte per 10 ms: far longer than the guard
	_, err = fmt.Fprintf(c, "POST /api/v1/auths/signin HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", s.Addr(), size)
	require.NoError(t, err)
	stop := make(chan struct{})
	sent := make(chan int, 1)
	go func() {
		n := 1
		defer func() { sent <- n }()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for ; n < size; n++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := c.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(hangGuard)))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	close(stop)
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "the trickled body was not cut")
	if err == nil {
		resp.Body.Close()
		require.NotEqual(t, http.StatusOK, resp.StatusCode)
	}
	require.Less(t, <-sent, size, "cut before the body was complete")
	require.Zero(t, s.InternalErrors())
}

// socketIOConnect opens an Engine.IO websocket and connects to "/" with
// token; it fails the test unless the connect is accepted.
func socketIOConnect(t *testing.T, d *websocket.Dialer, addr, token string, h http.Header) *websocket.Conn {
	t.Helper()
	c, _, err := d.Dial("ws://"+addr+"/ws/socket.io/?EIO=4&transport=websocket", h)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	socketIOHandshake(t, c, token)
	return c
}

// socketIOHandshake reads the Engine.IO OPEN on a fresh websocket and
// connects to "/" with token; it fails the test unless accepted.
func socketIOHandshake(t *testing.T, c *websocket.Conn, token string) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(hangGuard)))
	_, msg, err := c.ReadMessage()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(msg), "0{"), "%q", msg)
	require.NoError(t, c.WriteMessage(websocket.TextMessage, []byte(`40{"token":"`+token+`"}`)))
	_, msg, err = c.ReadMessage()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(msg), "40"), "connect accepted, got %q", msg)
}

// heartbeatAck sends a heartbeat with an ack id and waits for its ack.
func heartbeatAck(t *testing.T, c *websocket.Conn, id int) {
	t.Helper()
	require.NoError(t, c.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `42%d["heartbeat",{}]`, id)))
	for {
		_, msg, err := c.ReadMessage()
		require.NoError(t, err)
		if strings.HasPrefix(string(msg), fmt.Sprintf("43%d", id)) {
			require.Contains(t, string(msg), `"ok":true`)
			return
		}
		if string(msg) == "2" {
			require.NoError(t, c.WriteMessage(websocket.TextMessage, []byte("3")))
		}
	}
}

// TestWebSocketOutlivesReadTimeout: the upgrade has no body, so the read
// deadline never applies to a websocket.
func TestWebSocketOutlivesReadTimeout(t *testing.T) {
	t.Parallel()
	const rt = 100 * time.Millisecond
	s := quiretest.New(t, quiretest.WithConfig(func(c *server.Config) { c.ReadTimeout = rt }))
	ada := s.SignUp("Ada")
	c := socketIOConnect(t, websocket.DefaultDialer, s.Addr(), ada.Token, nil)
	heartbeatAck(t, c, 1)
	time.Sleep(10 * rt) // not a threshold: the socket must simply still be there
	heartbeatAck(t, c, 2)
}

// TestPollingTransportThroughHardening: Engine.IO long-polling (a
// text/plain POST and bodiless GETs) passes the 415 rule, the headers and
// the read deadline.
func TestPollingTransportThroughHardening(t *testing.T) {
	t.Parallel()
	if raceEnabled {
		t.Skip("zishang520 v3.0.5 polling transport races internally")
	}
	s := quiretest.New(t, quiretest.WithConfig(func(c *server.Config) {
		c.Polling = true
		c.ReadTimeout = 100 * time.Millisecond
	}))
	ada := s.SignUp("Ada")
	base := s.URL + "/ws/socket.io/?EIO=4&transport=polling"
	get := func(url string) string {
		resp, err := s.Client.Get(url)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", b)
		return string(b)
	}
	open := get(base)
	m := regexp.MustCompile(`"sid":"([^"]+)"`).FindStringSubmatch(open)
	require.NotNil(t, m, open)
	url := base + "&sid=" + m[1]
	time.Sleep(300 * time.Millisecond) // past the read deadline: not a threshold
	resp, err := s.Client.Post(url, "text/plain;charset=UTF-8", strings.NewReader(`40{"token":"`+ada.Token+`"}`))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", b)
	require.Contains(t, get(url), "40{", "Socket.IO connect answered over polling")
}

// TestConnectionCapPerAddress: over --max-conns-per-ip a new connection is
// closed at once and counted; the ones open keep working, and a freed slot
// is usable again.
func TestConnectionCapPerAddress(t *testing.T) {
	t.Parallel()
	s := quiretest.New(t, quiretest.WithConfig(func(c *server.Config) {
		c.MaxConnsPerIP = 2
		c.LimitLoopback = true
	}))
	// The helper's own client holds keep-alive connections; drop them so
	// the count below is exactly ours.
	s.Client.CloseIdleConnections()
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", s.Addr())
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		require.NoError(t, c.SetReadDeadline(time.Now().Add(hangGuard)))
		return c, bufio.NewReader(c)
	}
	get := func(c net.Conn, r *bufio.Reader, path string) (int, string, error) {
		if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path); err != nil {
			return 0, "", err
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}
	// A slot freed by an earlier connection (the helper's) is released
	// when the server sees the close: retry until two fit.
	var c1, c2 net.Conn
	var r1, r2 *bufio.Reader
	require.Eventually(t, func() bool {
		c1, r1 = dial()
		if code, _, err := get(c1, r1, "/healthz"); err != nil || code != http.StatusOK {
			c1.Close()
			return false
		}
		return true
	}, hangGuard, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		c2, r2 = dial()
		if code, _, err := get(c2, r2, "/healthz"); err != nil || code != http.StatusOK {
			c2.Close()
			return false
		}
		return true
	}, hangGuard, 20*time.Millisecond)

	// The third is closed without an answer (the old server answered it).
	c3, r3 := dial()
	code, _, err := get(c3, r3, "/healthz")
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "the third connection was not closed")
	require.Error(t, err, "the third connection is closed, not served (got %d)", code)

	code, body, err := get(c1, r1, "/metrics")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)
	require.Regexp(t, `quire_server_refused_total\{reason="per_ip"\} [1-9]`, body)

	c2.Close()
	require.Eventually(t, func() bool {
		c, r := dial()
		defer c.Close()
		code, _, err := get(c, r, "/healthz")
		return err == nil && code == http.StatusOK
	}, hangGuard, 20*time.Millisecond, "a freed slot is usable")
}

// TestLoopbackIsExemptByDefault: without the test knob, loopback clients
// (a local reverse proxy, the test suites) are not capped.
func TestLoopbackIsExemptByDefault(t *testing.T) {
	t.Parallel()
	s := quiretest.New(t, quiretest.WithConfig(func(c *server.Config) { c.MaxConnsPerIP = 1 }))
	for range 3 {
		c, err := net.Dial("tcp", s.Addr())
		require.NoError(t, err)
		defer c.Close()
		require.NoError(t, c.SetReadDeadline(time.Now().Add(hangGuard)))
		_, err = fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
}

// TestSecurityHeaders: the app's pages carry the CSP; every answer carries
// nosniff and no-referrer.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	s := quiretest.New(t)
	for _, p := range []string{"/", "/notes/x", "/app.js"} {
		r := s.Do("GET", p, "", nil)
		require.Equal(t, http.StatusOK, r.Status, p)
		require.Equal(t, web.ContentSecurityPolicy, r.Header.Get("Content-Security-Policy"), p)
		require.Contains(t, r.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	}
	for _, p := range []string{"/", "/healthz", "/api/v1/auths/", "/api/v1/nope"} {
		r := s.Do("GET", p, "", nil)
		require.Equal(t, "nosniff", r.Header.Get("X-Content-Type-Options"), p)
		require.Equal(t, "no-referrer", r.Header.Get("Referrer-Policy"), p)
	}
}

// TestPublicURLHostCheck: with --public-url, only its host is served, over
// HTTP and for socket upgrades; /healthz answers any host.
func TestPublicURLHostCheck(t *testing.T) {
	t.Parallel()
	s := quiretest.New(t, quiretest.WithConfig(func(c *server.Config) { c.PublicURL = "https://Notes.Example.com" }))
	do := func(host, path string) (int, string) {
		req, err := http.NewRequest("GET", s.URL+path, nil)
		require.NoError(t, err)
		req.Host = host
		resp, err := s.Client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, h := range []string{"notes.example.com", "notes.example.com:443", "NOTES.example.com"} {
		code, _ := do(h, "/api/v1/auths/")
		require.Equal(t, http.StatusUnauthorized, code, "host %s is served", h)
	}
	for _, h := range []string{s.Addr(), "evil.example", "notes.example.com:8443", "localhost"} {
		code, body := do(h, "/api/v1/auths/")
		require.Equal(t, http.StatusMisdirectedRequest, code, h)
		require.Contains(t, body, `"detail"`)
		code, _ = do(h, "/")
		require.Equal(t, http.StatusMisdirectedRequest, code, h)
	}
	code, _ := do("evil.example", "/healthz")
	require.Equal(t, http.StatusOK, code)

	// Socket upgrades: the right host connects, another is refused.
	req, err := http.NewRequest("POST", s.URL+"/api/v1/auths/signup",
		strings.NewReader(`{"name":"Ada","email":"ada@example.com","password":"correct horse"}`))
	require.NoError(t, err)
	req.Host = "notes.example.com"
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.Client.Do(req)
	require.NoError(t, err)
	var ada quiretest.User
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&ada))
	resp.Body.Close()
	require.NotEmpty(t, ada.Token)
	c := socketIOConnect(t, websocket.DefaultDialer, s.Addr(), ada.Token, http.Header{"Host": {"notes.example.com"}})
	heartbeatAck(t, c, 1)
	_, wsResp, err := websocket.DefaultDialer.Dial("ws://"+s.Addr()+"/ws/socket.io/?EIO=4&transport=websocket",
		http.Header{"Host": {"rebound.example"}})
	require.Error(t, err)
	require.NotNil(t, wsResp)
	require.Equal(t, http.StatusMisdirectedRequest, wsResp.StatusCode)
	require.Regexp(t, `quire_server_refused_total\{reason="host"\} [1-9]`, metricsVia(t, s, "notes.example.com"))
}

func metricsVia(t *testing.T, s *quiretest.Server, host string) string {
	t.Helper()
	req, err := http.NewRequest("GET", s.URL+"/metrics", nil)
	require.NoError(t, err)
	req.Host = host
	resp, err := s.Client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return string(b)
}

// TestMetricsOnSeparateAddress: with --metrics-addr, /metrics is served
// there and is a 404 on the public address.
func TestMetricsOnSeparateAddress(t *testing.T) {
	t.Parallel()
	s := quiretest.New(t, quiretest.WithConfig(func(c *server.Config) { c.MetricsAddr = "127.0.0.1:0" }))
	require.NotEmpty(t, s.MetricsAddr())
	resp, err := http.Get("http://" + s.MetricsAddr() + "/metrics")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(b), "quire_build_info")
	r := s.Do("GET", "/metrics", "", nil)
	require.Equal(t, http.StatusNotFound, r.Status)
	require.NotContains(t, string(r.Body), "quire_build_info")
	require.NotContains(t, string(r.Body), "<html")
}

// TestDataFileModesUnderUmask0: the data directory is 0700, the SQLite
// database and its -wal and -shm files and the secret 0600, even when the
// umask would let everyone read them. Not parallel: the umask is the
// process's.
func TestDataFileModesUnderUmask0(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "data")
	s := quiretest.New(t, quiretest.WithDataDir(dir), quiretest.WithConfig(func(c *server.Config) {
		c.Secret = ""
		c.DatabaseURL = ""
	}))
	s.SignUp("Ada") // a write: the WAL and its index exist
	mode := func(name string) os.FileMode {
		st, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err, name)
		return st.Mode().Perm()
	}
	require.Equal(t, os.FileMode(0o700), mode(""))
	for _, f := range []string{storage.SQLiteFileName, storage.SQLiteFileName + "-wal", storage.SQLiteFileName + "-shm", server.SecretFileName} {
		require.Equal(t, os.FileMode(0o600), mode(f), f)
	}
}
