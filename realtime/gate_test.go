package realtime

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
)

func newTestCounter() prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: "test_gate_timeouts"})
}

// After a CONNECT to "/", the decoder hands the library nothing more until
// the connection handler opens the gate the CONNECT's auth carries; the
// auth the library sees is the client's (plus the gate, removed by then).
func TestDecoderHoldsWhatFollowsConnect(t *testing.T) {
	t.Parallel()
	p := sizedParser{rawParser{parser.NewParser()}, 1 << 20, newTestCounter()}
	d := p.NewDecoder()
	decoded := make(chan *parser.Packet, 4)
	_ = d.On("decoded", func(args ...any) { decoded <- args[0].(*parser.Packet) })

	if err := d.Add(`0{"token":"tok"}`); err != nil {
		t.Fatal(err)
	}
	connect := <-decoded
	auth := connect.Data.(map[string]any)
	if auth["token"] != "tok" {
		t.Fatalf("auth = %v, want the client's token kept", auth)
	}
	if _, ok := auth[connectGateKey].(*gate); !ok {
		t.Fatalf("auth = %v, want a gate under %q", auth, connectGateKey)
	}

	added := make(chan error, 1)
	go func() { added <- d.Add(`2["heartbeat",{}]`) }()
	select {
	case p := <-decoded:
		t.Fatalf("event %v decoded before the namespace was registered", p)
	case <-time.After(100 * time.Millisecond):
	}
	openConnectGate(auth)
	if _, ok := auth[connectGateKey]; ok {
		t.Error("the gate stays in the handshake auth")
	}
	if err := <-added; err != nil {
		t.Fatal(err)
	}
	if ev := <-decoded; ev.Type != parser.EVENT {
		t.Fatalf("decoded %v, want the event", ev)
	}
	if err := d.Add(`2["more",{}]`); err != nil { // not held any more
		t.Fatal(err)
	}
	<-decoded
}

// A CONNECT to another namespace is refused by the library at once, so it
// holds nothing; a closing connection releases a held reader.
func TestDecoderGateOtherNamespaceAndDestroy(t *testing.T) {
	t.Parallel()
	p := sizedParser{rawParser{parser.NewParser()}, 1 << 20, newTestCounter()}
	d := p.NewDecoder()
	_ = d.On("decoded", func(...any) {})
	if err := d.Add(`0/admin,{}`); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = d.Add(`2/admin,["x"]`); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a CONNECT to another namespace held the next packet")
	}

	// A client cannot plant its own value under the gate's key: it is
	// replaced, so the connection handler only ever opens a real gate.
	d3 := p.NewDecoder()
	var planted *parser.Packet
	_ = d3.On("decoded", func(args ...any) { planted = args[0].(*parser.Packet) })
	if err := d3.Add("0{\"\\u0000quire-connect-gate\":\"x\",\"token\":\"t\"}"); err != nil {
		t.Fatal(err)
	}
	if auth := planted.Data.(map[string]any); auth["token"] != "t" || len(auth) != 2 {
		t.Fatalf("auth = %v, want the token and one gate under the client's key", auth)
	} else if _, ok := auth[connectGateKey].(*gate); !ok {
		t.Fatalf("the client's value under %q was kept: %v", connectGateKey, auth)
	}
	openConnectGate(planted.Data.(map[string]any))

	d2 := p.NewDecoder()
	_ = d2.On("decoded", func(...any) {})
	if err := d2.Add(`0`); err != nil { // no auth at all
		t.Fatal(err)
	}
	held := make(chan struct{})
	go func() { _ = d2.Add(`2["x"]`); close(held) }()
	d2.Destroy()
	select {
	case <-held:
	case <-time.After(5 * time.Second):
		t.Fatal("Destroy left the reader waiting")
	}
}

// A gate opened twice does not panic; waiting on an open gate returns at once.
func TestGateOpenTwice(t *testing.T) {
	t.Parallel()
	g := newGate()
	g.open()
	g.open()
	if !g.wait(time.Hour) {
		t.Fatal("wait on an open gate timed out")
	}
}

func expectHeld(t *testing.T, reads <-chan string, what string) {
	t.Helper()
	select {
	case r := <-reads:
		t.Fatalf("%s: read %q went through a closed gate", what, r)
	case <-time.After(100 * time.Millisecond):
	}
}

func expectRead(t *testing.T, reads <-chan string, want string) {
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
