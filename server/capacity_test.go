package server_test

import (
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
	"github.com/quire/quire/server"
)

// TestCapacityForFileLimit: the derived cap leaves FDReserve descriptors
// below the file limit (half the limit at most), and an unknown or
// unlimited limit means no cap.
func TestCapacityForFileLimit(t *testing.T) {
	t.Parallel()
	require.Equal(t, 20000-server.FDReserve, server.CapacityFor(20000))
	require.Equal(t, 1024-server.FDReserve, server.CapacityFor(1024))
	require.Equal(t, 150, server.CapacityFor(300))
	require.Equal(t, 0, server.CapacityFor(0))
	require.Equal(t, 0, server.CapacityFor(^uint64(0))) // RLIM_INFINITY
	require.NotZero(t, server.NofileLimit(), "the test process has a file limit")
}

// TestSocketsOverCapacityAreRefused: with more connections open than
// --max-conns, a new socket gets 503 at once instead of waiting in the
// kernel's backlog for a descriptor, while /healthz is still answered, the
// open sockets keep working and a freed slot is usable again.
func TestSocketsOverCapacityAreRefused(t *testing.T) {
	t.Parallel()
	s := quiretest.New(t, quiretest.WithConfig(func(c *server.Config) { c.MaxConns = 2 }))
	ada := s.SignUp("Ada")
	// The helper's client holds keep-alive connections; drop them so the
	// count below is exactly ours.
	s.Client.CloseIdleConnections()
	url := "ws://" + s.Addr() + "/ws/socket.io/?EIO=4&transport=websocket"
	// A connection the helper closed is uncounted once the server sees the
	// close: retry until two sockets fit.
	// A refused dial is closed by the server: retry until it fits.
	dial := func() *websocket.Conn {
		var c *websocket.Conn
		require.Eventually(t, func() bool {
			var err error
			c, _, err = websocket.DefaultDialer.Dial(url, nil)
			return err == nil
		}, hangGuard, 20*time.Millisecond)
		t.Cleanup(func() { c.Close() })
		return c
	}
	var open []*websocket.Conn
	for len(open) < 2 {
		c := dial()
		socketIOHandshake(t, c, ada.Token)
		open = append(open, c)
	}

	_, resp, err := websocket.DefaultDialer.Dial(url, nil)
	require.Error(t, err, "a third socket is refused")
	require.NotNil(t, resp)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "5", resp.Header.Get("Retry-After"))
	body, _ := io.ReadAll(resp.Body)
	require.Contains(t, string(body), "capacity")

	// Plain requests are still answered, on a new connection.
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := hc.Get("http://" + s.Addr() + "/healthz")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, err = hc.Get("http://" + s.Addr() + "/metrics")
	require.NoError(t, err)
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Regexp(t, `quire_server_refused_total\{reason="capacity"\} [1-9]`, string(metrics))
	require.Regexp(t, `quire_server_max_connections 2\n`, string(metrics))
	require.Regexp(t, `quire_server_open_connections [2-9]`, string(metrics))

	// The open sockets go on; a freed slot takes a new one.
	heartbeatAck(t, open[0], 1)
	open[1].Close()
	socketIOHandshake(t, dial(), ada.Token) // a freed slot is usable
	require.Zero(t, s.InternalErrors())
}

// TestCountedConnectionsKeepRawAccess: a connection accepted through the
// counting listener still offers its socket's raw access (syscall.Conn),
// which realtime's non-blocking websocket writes need (netconn_ws.go).
// Without it the fan-out silently fell back to a writer goroutine per
// recipient and room frame.
func TestCountedConnectionsKeepRawAccess(t *testing.T) {
	ln, err := server.CapListen("127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	dialed := make(chan net.Conn, 1)
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			close(dialed)
			return
		}
		dialed <- c
	}()
	c, err := ln.Accept()
	require.NoError(t, err)
	defer c.Close()
	if d := <-dialed; d != nil {
		defer d.Close()
	}
	sc, ok := c.(syscall.Conn)
	require.True(t, ok, "accepted %T has no SyscallConn", c)
	raw, err := sc.SyscallConn()
	require.NoError(t, err)
	var fd uintptr
	require.NoError(t, raw.Control(func(f uintptr) { fd = f }))
	require.NotZero(t, fd)
}

// TestMetricsHaveSchedulingLatency: /metrics carries Go's scheduling
// latency, which the scale check (tools/load --scenario scale) reads to tell
// a /healthz slowed by Quire's own run queue from one slowed by a busy
// machine.
func TestMetricsHaveSchedulingLatency(t *testing.T) {
	t.Parallel()
	s := quiretest.New(t)
	res, err := s.Client.Get("http://" + s.Addr() + "/metrics")
	require.NoError(t, err)
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Regexp(t, `go_sched_latencies_seconds_bucket\{le="\+Inf"\} [1-9]`, string(metrics))
}
