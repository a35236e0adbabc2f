package realtime

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	engine "github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/socket/v3"
)

// Workarounds for two races of zishang520/socket.io v3.0.5 at connect
// (../shared/DEPENDENCIES.md, defect 1, and the "invalid state" force-close
// found since). Everything of them lives here; when the library is fixed,
// delete this file and its four call sites: openEngineGates (New),
// engineGate (detachingWriter), connectGate (sizedDecoder) and
// openConnectGate (onConnection).
//
//  1. The engine sends the Engine.IO OPEN packet and starts reading before
//     it emits "connection", and only that listener subscribes to incoming
//     data: a client answering OPEN quickly with its CONNECT lost it and
//     never got a reply. engineGate holds a websocket's first read until
//     the library has attached its Socket.IO client.
//  2. The library writes the CONNECT reply before it records the namespace
//     in its client, and force-closes the connection when the client's first
//     event, sent on receiving the reply, is decoded in between.
//     connectGate holds what follows a CONNECT until our connection
//     handler, which runs once the namespace is recorded, opens it. Held at
//     the message level, this works for every transport and however a
//     message was split on the wire.

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

// engineGate is race 1's gate of one websocket upgrade.
type engineGate struct {
	gate     gate // opened once the Socket.IO client is attached
	timeouts prometheus.Counter
}

func newEngineGate(timeouts prometheus.Counter) engineGate {
	return engineGate{gate: newGate(), timeouts: timeouts}
}

// wrap returns the hijacked connection with its first read held.
func (e engineGate) wrap(c net.Conn) net.Conn {
	return &gatedConn{Conn: c, gate: e.gate, timeouts: e.timeouts}
}

// openEngineGates opens each upgrade's gate when the engine emits
// "connection". Call it after ServeHandler, which registers the library's
// own listener, so that by the time this one runs the client listens.
func openEngineGates(io *socket.Server) {
	_ = io.Engine().On("connection", func(args ...any) {
		if es, ok := args[0].(engine.Socket); ok {
			if d, ok := es.Request().Response().(*detachingWriter); ok {
				d.engineGate.gate.open()
			}
		}
	})
}

// gatedConn holds back the first read of a connection until its gate opens.
type gatedConn struct {
	net.Conn
	gate     gate
	timeouts prometheus.Counter
	passed   bool // only the transport's single reader goroutine reads
}

func (g *gatedConn) Read(p []byte) (int, error) {
	if !g.passed {
		if !g.gate.wait(gateTimeout) {
			g.timeouts.Inc()
		}
		g.passed = true
	}
	return g.Conn.Read(p)
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
