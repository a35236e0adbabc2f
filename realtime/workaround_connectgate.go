package realtime

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
)

// Workaround for a race of zishang520/socket.io v3.0.5 at connect (the
// "invalid state" force-close), which Quire's polling transport still
// meets; its own websocket engine (socket_ws.go) decodes a connection's
// packets one after another and has no such race. Everything of it lives
// here; when the library is fixed, delete this file and its two call
// sites: connectGate (sizedDecoder) and openConnectGate
// (onLibraryConnection).
//
// The library writes the CONNECT reply before it records the namespace in
// its client, and force-closes the connection when the client's first
// event, sent on receiving the reply, is decoded in between. connectGate
// holds what follows a CONNECT until our connection handler, which runs
// once the namespace is recorded, opens it. Held at the message level,
// this works however a message was split on the wire.
//
// (The engine's own race, an OPEN answered before the library listened,
// was a websocket's only: the gate of the hijacked connection is gone
// with the library's websocket path.)

// gateTimeout bounds a wait should the awaited event never come (a refused
// handshake): the read then proceeds as the library would have. Every such
// wait is counted in quire_realtime_gate_timeouts_total, which should stay 0.
const gateTimeout = 10 * time.Second

// gate is a channel closed at most once.
type gate struct {
	ch   chan struct{}
	once *sync.Once
}

func newGate() gate  { return gate{ch: make(chan struct{}), once: new(sync.Once)} }
func (g gate) open() { g.once.Do(func() { close(g.ch) }) }

// wait returns once the gate is open (true), or after d (false).
func (g gate) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-g.ch:
		return true
	case <-t.C:
		return false
	}
}

// connectGate is race 2's gate, one per client decoder.
type connectGate struct {
	timeouts   prometheus.Counter   // connect gates that ran out
	connecting atomic.Pointer[gate] // set from a CONNECT until its socket exists
}

// connectGateKey is the handshake auth key under which a CONNECT carries
// its gate to the connection handler; a client's own value is overwritten.
const connectGateKey = "\x00quire-connect-gate"

// hold waits, before the decoder takes more data, while a CONNECT's socket
// is not registered yet.
func (c *connectGate) hold() {
	if g := c.connecting.Load(); g != nil {
		if !g.wait(gateTimeout) {
			c.timeouts.Inc()
		}
		c.connecting.CompareAndSwap(g, nil)
	}
}

// mark gives a decoded CONNECT to "/" a gate, carried in its auth map to
// the connection handler; other namespaces are refused at once.
func (c *connectGate) mark(p *parser.Packet) {
	if p == nil || p.Type != parser.CONNECT || p.Nsp != "/" {
		return
	}
	auth, isMap := p.Data.(map[string]any)
	if !isMap || auth == nil {
		auth = map[string]any{} // the library would have read no auth either
		p.Data = auth
	}
	g := newGate()
	auth[connectGateKey] = &g
	c.connecting.Store(&g)
}

// release lets a reader held for a connect that will not happen go on
// (the connection closed).
func (c *connectGate) release() {
	if g := c.connecting.Load(); g != nil {
		g.open()
	}
}

// openConnectGate opens and removes the gate a CONNECT's auth carries; the
// connection handler calls it once the namespace is recorded.
func openConnectGate(auth map[string]any) {
	if g, ok := auth[connectGateKey].(*gate); ok {
		g.open()
	}
	delete(auth, connectGateKey)
}
