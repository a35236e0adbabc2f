package realtime

import (
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
)

func newTestCounter() prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: "test_gate_timeouts"})
}

// gatedConn lets its first read through only once the gate opens; later
// reads are not held.
func TestGatedConnHoldsFirstRead(t *testing.T) {
	t.Parallel()
	server, client := net.Pipe()
	defer client.Close()
	g := &gatedConn{Conn: server, gate: newGate(), timeouts: newTestCounter()}
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
	go write("CONNECT") // net.Pipe writes block until read
	expectHeld(t, reads, "before the gate opens")
	g.gate.open()
	expectRead(t, reads, "CONNECT")
	go write("EVENT")
	expectRead(t, reads, "EVENT")
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

// The library keeps each websocket's request for the connection's life:
// it gets only the headers the upgrade, the origin check and the client
// address need, and the caller's request is left as it was.
func TestUpgradeHeadersOnly(t *testing.T) {
	t.Parallel()
	r, err := http.NewRequest(http.MethodGet, "http://x/ws/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Key": "k",
		"Sec-WebSocket-Version": "13", "Origin": "http://o", "X-Forwarded-For": "10.0.0.1",
		"Cookie": strings.Repeat("c", 4000), "User-Agent": "browser"} {
		r.Header.Set(k, v)
	}
	got := withUpgradeHeadersOnly(r)
	want := http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Key": {"k"},
		"Sec-Websocket-Version": {"13"}, "Origin": {"http://o"}, "X-Forwarded-For": {"10.0.0.1"}}
	if !reflect.DeepEqual(got.Header, want) {
		t.Errorf("headers = %v, want %v", got.Header, want)
	}
	if r.Header.Get("Cookie") == "" || got.URL.RawQuery != r.URL.RawQuery {
		t.Error("the original request changed, or the copy lost its URL")
	}
	if !isWebSocketUpgrade(got) {
		t.Error("the trimmed request is no longer an upgrade")
	}
}
