package realtime

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	ws "github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
)

// tcpPair is a server-side connection wrapped as the upgrade wraps it, and
// its client end.
func tcpPair(t *testing.T) (*wsNetConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	var server net.Conn
	select {
	case server = <-accepted:
	case <-time.After(10 * time.Second):
		t.Fatal("no accept")
	}
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	full := prometheus.NewCounter(prometheus.CounterOpts{Name: "full"})
	wc, ok := newWSNetConn(server, server, full).(*wsNetConn)
	if !ok {
		t.Fatal("a TCP connection was not wrapped")
	}
	return wc, client
}

// pattern is n bytes that differ at every offset of a chunk sequence, so
// reordered or lost chunks show.
func pattern(chunk, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(chunk*7 + i/251)
	}
	return b
}

// In try mode, writes to a client that does not read return at once, far
// past what the socket buffers hold; a later write outside try mode waits
// for them. The client then reads every byte in write order, and a Close
// issued meanwhile takes effect only after the last of them.
func TestWSNetConnWriteNeverBlocks(t *testing.T) {
	t.Parallel()
	wc, client := tcpPair(t)
	wc.grace = time.Minute             // the reader below starts late on a busy machine
	const chunks, size = 64, 256 << 10 // 16 MB: well past the kernel's buffers
	wc.setTry(true)
	for i := range chunks - 1 {
		if n, err := wc.Write(pattern(i, size)); err != nil || n != size {
			t.Fatalf("chunk %d: %d, %v", i, n, err)
		}
	}
	wc.setTry(false)
	if !wc.busy() {
		t.Fatal("16 MB to a client that does not read left nothing to flush")
	}
	done := make(chan error, 1)
	go func() {
		_, err := wc.Write(pattern(chunks-1, size)) // blocks until the client reads
		done <- errors.Join(err, wc.Close())
	}()
	_ = client.SetReadDeadline(time.Now().Add(60 * time.Second))
	got := make([]byte, size)
	for i := range chunks {
		if _, err := io.ReadFull(client, got); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		if !bytes.Equal(got, pattern(i, size)) {
			t.Fatalf("chunk %d differs", i)
		}
	}
	if n, err := client.Read(got); n != 0 || err != io.EOF {
		t.Fatalf("after the last chunk: %d bytes, %v; want EOF (closed after the rest)", n, err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the last write never returned")
	}
	if _, err := wc.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after Close: %v, want net.ErrClosed", err)
	}
}

// A write deadline still works: one in the past fails writes, and clearing
// it (the zero deadline gorilla sets before each frame) lets them through
// again.
func TestWSNetConnWriteDeadline(t *testing.T) {
	t.Parallel()
	wc, client := tcpPair(t)
	if err := wc.SetWriteDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := wc.Write([]byte("late")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write past the deadline: %v", err)
	}
	if err := wc.SetWriteDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := wc.SetWriteDeadline(time.Time{}); err != nil { // unchanged: not passed on
		t.Fatal(err)
	}
	if _, err := wc.Write([]byte("ok")); err != nil {
		t.Fatalf("Write after clearing the deadline: %v", err)
	}
	_ = client.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, 2)
	if _, err := io.ReadFull(client, got); err != nil || string(got) != "ok" {
		t.Fatalf("read %q, %v", got, err)
	}
}

// A failed write (the client went away) is reported by a later Write,
// including one that found the socket full and handed its rest over.
func TestWSNetConnPeerGone(t *testing.T) {
	t.Parallel()
	wc, client := tcpPair(t)
	if tc, ok := client.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // close with a reset
	}
	_ = client.Close()
	deadline := time.Now().Add(60 * time.Second)
	wc.setTry(true)
	for time.Now().Before(deadline) {
		if _, err := wc.Write(pattern(0, 64<<10)); err != nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("writes to a reset connection kept succeeding")
}

// A rest whose write fails tells the connection's owner (failed): with
// reads through the poller nothing else may, until the socket's next write.
func TestWSNetConnFlushFailureIsReported(t *testing.T) {
	t.Parallel()
	wc, client := tcpPair(t)
	failed := make(chan error, 1)
	wc.failed = func(err error) { failed <- err }
	wc.setTry(true)
	for !wc.busy() { // the client does not read: the socket fills, a flush starts
		if _, err := wc.Write(pattern(0, 64<<10)); err != nil {
			t.Fatal(err)
		}
	}
	wc.setTry(false)
	if tc, ok := client.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // close with a reset: the flush's write fails
	}
	_ = client.Close()
	select {
	case err := <-failed:
		if err == nil {
			t.Fatal("failed was called without an error")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the flush's failed write was not reported")
	}
}

// A shared frame's wire form is the websocket frame a client reads as the
// message "4"+packet, at each of RFC 6455's length encodings.
func TestSharedFrameWire(t *testing.T) {
	t.Parallel()
	sizes := []int{0, 124, 125, 126, 1000, 65534, 65535, 65536, 200000} // packet bytes; the message has one more
	up := ws.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for _, n := range sizes {
			if _, err := c.UnderlyingConn().Write(newSharedFrame(pattern(n, n)).wire); err != nil {
				return
			}
		}
		_, _, _ = c.ReadMessage() // until the client closes
	}))
	defer srv.Close()
	cl, _, err := ws.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	_ = cl.SetReadDeadline(time.Now().Add(60 * time.Second))
	for _, n := range sizes {
		mt, msg, err := cl.ReadMessage()
		if err != nil {
			t.Fatalf("packet of %d bytes: %v", n, err)
		}
		if mt != ws.TextMessage || len(msg) != n+1 || msg[0] != '4' || !bytes.Equal(msg[1:], pattern(n, n)) {
			t.Fatalf("packet of %d bytes: type %d, %d bytes", n, mt, len(msg))
		}
	}
}
