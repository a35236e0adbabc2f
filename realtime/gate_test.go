package realtime

import (
	"net"
	"testing"
	"time"
)

// gatedConn lets the first read through only once the engine gate opens, and
// the read after the first data only once the namespace gate opens; later
// reads are not held.
func TestGatedConnOrder(t *testing.T) {
	t.Parallel()
	server, client := net.Pipe()
	defer client.Close()
	g := &gatedConn{Conn: server, engine: newGate(), nsp: newGate()}
	defer g.Close()

	reads := make(chan string, 4)
	go func() {
		buf := make([]byte, 16)
		for {
			n, err := g.Read(buf)
			if err != nil {
				close(reads)
				return
			}
			reads <- string(buf[:n])
		}
	}()
	write := func(s string) {
		if _, err := client.Write([]byte(s)); err != nil {
			t.Error(err)
		}
	}
	held := func(what string) {
		t.Helper()
		select {
		case r := <-reads:
			t.Fatalf("%s: read %q went through a closed gate", what, r)
		case <-time.After(100 * time.Millisecond):
		}
	}
	got := func(want string) {
		t.Helper()
		select {
		case r := <-reads:
			if r != want {
				t.Fatalf("read %q, want %q", r, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("read of %q still held", want)
		}
	}

	go write("CONNECT") // net.Pipe writes block until read
	held("before the engine gate")
	g.engine.open()
	got("CONNECT")

	go write("EVENT")
	held("before the namespace gate")
	g.nsp.open()
	got("EVENT")

	go write("MORE")
	got("MORE")
}

// A gate opened twice does not panic; waiting on an open gate returns at once.
func TestGateOpenTwice(t *testing.T) {
	t.Parallel()
	g := newGate()
	g.open()
	g.open()
	done := make(chan struct{})
	go func() { g.wait(time.Hour); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("wait on an open gate blocked")
	}
}
