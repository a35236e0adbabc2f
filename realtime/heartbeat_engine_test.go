package realtime_test

import (
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/quire/quire/realtime"
)

// engineClient is a raw Engine.IO v4 websocket client, connected to "/".
type engineClient struct {
	t    *testing.T
	conn *websocket.Conn
	open map[string]any // the OPEN packet's fields
}

func dialEngine(t *testing.T, b *testBundle) *engineClient {
	t.Helper()
	wsURL := socketURL(b.url)
	conn, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	c := &engineClient{t: t, conn: conn}
	msg := c.read("0{")
	if err := json.Unmarshal([]byte(msg[1:]), &c.open); err != nil {
		t.Fatalf("OPEN %q: %v", msg, err)
	}
	c.write(`40{"token":"` + b.tokens["owner"] + `"}`)
	c.read("40{")
	return c
}

// read returns the next message starting with prefix; others are skipped.
func (c *engineClient) read(prefix string) string {
	c.t.Helper()
	for {
		_, msg, err := c.conn.ReadMessage()
		if err != nil {
			c.t.Fatalf("waiting for %q: %v", prefix, err)
		}
		if strings.HasPrefix(string(msg), prefix) {
			return string(msg)
		}
	}
}

func (c *engineClient) write(msg string) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		c.t.Fatal(err)
	}
}

// The server pings every pingInterval, after the socket opens and after each
// pong, and a client that answers stays connected: Engine.IO v4's heartbeat,
// which Quire's websocket engine runs on a timer (socket_ws.go).
func TestEngineHeartbeat(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *realtime.Config) {
		c.PingInterval = 50 * time.Millisecond
		c.PingTimeout = time.Hour // a slow machine must not fail this test
	})
	c := dialEngine(t, b)
	if c.open["pingInterval"] != 50.0 || c.open["pingTimeout"] != 3600000.0 {
		t.Fatalf("OPEN advertises %v", c.open)
	}
	for range 5 {
		if msg := c.read("2"); msg != "2" {
			t.Fatalf("ping %q", msg)
		}
		c.write("3")
	}
	c.write(`427["heartbeat",{}]`)
	c.read(`437[{"ok":true}]`)
}

// A client that does not answer a ping is closed pingTimeout later, with the
// engine's reason "ping timeout".
func TestEngineHeartbeatTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *realtime.Config) {
		c.PingInterval = 50 * time.Millisecond
		c.PingTimeout = 50 * time.Millisecond
	})
	c := dialEngine(t, b)
	c.read("2") // not answered
	for {
		_, msg, err := c.conn.ReadMessage()
		if err == nil {
			if string(msg) == "2" {
				t.Fatal("a second ping: the first was not answered")
			}
			continue
		}
		var ne interface{ Timeout() bool }
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("not closed: %v", err)
		}
		break // closed by the server
	}
	waitFor(t, "the socket to be gone", 60*time.Second, func() bool {
		return b.metric(t, "quire_realtime_connected_sockets", nil) == 0
	})
}

// An idle websocket connection holds no goroutine: none parked on a ping
// timer, and no read loop (the epoll poller reads it when it is readable;
// issue 13 item 4). Not parallel: it counts the process's goroutines.
func TestHeartbeatWithoutTimerGoroutines(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads without a goroutine need epoll")
	}
	const n = 100
	b := setup(t)
	runtime.GC()
	base := runtime.NumGoroutine()
	idleClients(t, b.url, b.tokens["writer"], n)
	waitFor(t, "all sockets registered", 60*time.Second, func() bool {
		return b.metric(t, "quire_realtime_connected_sockets", nil) == n
	})
	var g int
	waitFor(t, "no goroutine per idle connection", 60*time.Second, func() bool {
		g = runtime.NumGoroutine() - base
		return g <= n/10
	})
	t.Logf("%d idle connections: %d goroutines more", n, g)
}
