package realtime_test

import (
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/quire/quire/realtime"
)

// openSockets is the process's open socket descriptors (-1 where /proc is
// not): the database's pool opens and closes files meanwhile.
func openSockets() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	n := 0
	for _, e := range ents {
		if l, _ := os.Readlink("/proc/self/fd/" + e.Name()); strings.HasPrefix(l, "socket:") {
			n++
		}
	}
	return n
}

// Every way a websocket ends leaves nothing behind: no socket descriptor,
// no goroutine, no registration in the server, its conns or the poller,
// after many connect/close cycles. Not parallel: it counts the process's
// descriptors and goroutines.
func TestWebSocketCyclesLeaveNothing(t *testing.T) {
	b := setup(t)
	connectMsg := `40{"token":"` + b.tokens["writer"] + `"}`
	connect := func(w *wireConn) {
		w.text(connectMsg)
		if _, msg := w.read(); !strings.HasPrefix(msg, `40{"sid":"`) {
			t.Fatalf("CONNECT reply %q", msg)
		}
	}
	ends := []func(){
		func() { // a close frame
			w := dialWire(t, b.url)
			connect(w)
			w.frame(0x88, true, []byte{0x03, 0xe8})
			w.closedWith()
			w.c.Close() // the test's end; Cleanup would keep it until the test ends
		},
		func() { // the client just goes, connected
			w := dialWire(t, b.url)
			connect(w)
			w.c.Close()
		},
		func() { // the client just goes, before CONNECT
			dialWire(t, b.url).c.Close()
		},
		func() { // namespace DISCONNECT
			w := dialWire(t, b.url)
			connect(w)
			w.text("41")
			w.closedWith()
			w.c.Close() // the test's end; Cleanup would keep it until the test ends
		},
		func() { // Engine.IO close
			w := dialWire(t, b.url)
			connect(w)
			w.text("1")
			w.closedWith()
			w.c.Close() // the test's end; Cleanup would keep it until the test ends
		},
		func() { // bad input
			w := dialWire(t, b.url)
			connect(w)
			w.frame(0x83, true, nil)
			w.closedWith()
			w.c.Close() // the test's end; Cleanup would keep it until the test ends
		},
		func() { // frames sent with the upgrade request: CONNECT, an event, a close
			c := dialTCP(t, b.url)
			defer c.Close()
			out := []byte(upgradeRequest)
			out = append(out, maskedText(connectMsg)...)
			out = append(out, maskedText(`421["heartbeat",{}]`)...)
			out = append(out, 0x88, 0x80, 0, 0, 0, 0)
			if _, err := c.Write(out); err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, c) // until the server closes
		},
	}
	settle := func() {
		waitFor(t, "no websocket left", 30*time.Second, func() bool {
			return realtime.WSCount(b.srv) == 0 && realtime.ConnCount(b.srv) == 0 &&
				realtime.PolledCount() == 0 && b.metric(t, "quire_realtime_connected_sockets", nil) == 0
		})
	}
	for _, end := range ends { // warm-up: the poller, pools, the HTTP server's goroutines
		end()
	}
	settle()
	baseFD, baseG := openSockets(), runtime.NumGoroutine()
	const cycles = 30
	for range cycles {
		for _, end := range ends {
			end()
		}
	}
	settle()
	const slackG = 5
	var fds, g int
	for deadline := time.Now().Add(30 * time.Second); ; {
		fds, g = openSockets(), runtime.NumGoroutine()
		if fds <= baseFD && g <= baseG+slackG {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sockets %d → %d, goroutines %d → %d", baseFD, fds, baseG, g)
		}
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("%d cycles: sockets %d → %d, goroutines %d → %d", cycles*len(ends), baseFD, fds, baseG, g)
}

// maskedText is a masked final text frame (payload under 64 KiB).
func maskedText(s string) []byte {
	out := []byte{0x81}
	if len(s) > 125 {
		out = append(out, 0x80|126, byte(len(s)>>8), byte(len(s)))
	} else {
		out = append(out, 0x80|byte(len(s)))
	}
	out = append(out, 1, 2, 3, 4)
	for i := range len(s) {
		out = append(out, s[i]^byte(i%4+1))
	}
	return out
}

// A connection closed while the server still sets it up (its CONNECT sent
// with the upgrade request, a write in flight) is not left registered in
// the poller: the close came before the registration, which must see it.
// Not parallel: it counts the process's poller registrations.
func TestWebSocketClosedBeforePolledIsNotPolled(t *testing.T) {
	b := setup(t)
	realtime.CloseWebSocketsWhileWriting(b.srv)
	c := dialTCP(t, b.url)
	defer c.Close()
	if _, err := c.Write(append([]byte(upgradeRequest), maskedText(`40{"token":"`+b.tokens["writer"]+`"}`)...)); err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, c) // until hardClose ends it
	waitFor(t, "no connection left, none polled", 30*time.Second, func() bool {
		return realtime.WSCount(b.srv) == 0 && realtime.ConnCount(b.srv) == 0 && realtime.PolledCount() == 0
	})
}

// upgradeRequest is a websocket upgrade to the Engine.IO endpoint, for
// tests that send frames in the same write.
const upgradeRequest = "GET /ws/socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n" +
	"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

// dialTCP opens a TCP connection to the server at url, bounded to 30 s.
func dialTCP(t *testing.T, url string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	return c
}
