package realtime

import (
	"reflect"
	"sync/atomic"
	"time"
	"unsafe"

	engine "github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/utils"
)

// Workaround for zishang520/socket.io v3.0.5's heartbeat: the engine
// socket's ping timer is a utils.SetTimeout, which parks one goroutine per
// timer (pkg/utils/timer.go), so every idle connection holds a goroutine
// (~2.5 KB of stack, timer and channel) only to wait for its next ping.
// Here the engine's interval timer is stopped as the socket opens and the
// websocket transport runs the same heartbeat on a time.AfterFunc, which
// parks nothing. Everything of it lives here and in wsTransport's
// heartbeat fields; when the library's timer no longer parks a goroutine,
// delete this file, the call in New and those fields.
//
// Engine.IO v4 semantics are kept (engine socket.go schedulePing,
// resetPingTimeout, onPacket): pingInterval after the socket opens, and
// after each pong, the server sends a PING ("2"); a PONG must come within
// pingTimeout, else the engine socket closes with "ping timeout". The OPEN
// packet still advertises both values (the engine's options are unchanged).
// The engine still handles every PONG itself (its "heartbeat" event, which
// this listens to); with its timer pointer cleared it has nothing to
// refresh. Protocol v3 sockets and polling keep the library's timers.
//
// The timer is private (socket.pingIntervalTimer, an
// atomic.Pointer[utils.Timer]); it is reached by its field offset, checked
// by name and type against the library's socket at start-up. Should a later
// version change it, pingTimerOffset is not ok and the library keeps its
// own heartbeat (TestHeartbeatWithoutTimerGoroutines then fails).

// pingTimer holds the offset of the engine socket's pingIntervalTimer,
// and the socket's concrete type; ok false if it is not as expected.
var pingTimer = func() (p struct {
	typ    reflect.Type
	offset uintptr
	ok     bool
}) {
	p.typ = reflect.TypeOf(engine.MakeSocket())
	if p.typ.Kind() != reflect.Pointer || p.typ.Elem().Kind() != reflect.Struct {
		return p
	}
	f, found := p.typ.Elem().FieldByName("pingIntervalTimer")
	if !found || f.Type != reflect.TypeFor[atomic.Pointer[utils.Timer]]() {
		return p
	}
	p.offset, p.ok = f.Offset, true
	return p
}()

// pingMsg is Engine.IO's PING packet as a websocket message.
var pingMsg = []byte("2")

// engineCloser is the engine socket's OnClose (exported by its concrete
// type, not by engine.Socket).
type engineCloser interface {
	OnClose(reason string, description ...error)
}

// takeOverHeartbeats makes every websocket (Engine.IO v4) connection's
// heartbeat the wsTransport's. Listens to the engine's "connection", which
// it emits once the socket is open (its timer armed) and registered.
func takeOverHeartbeats(io *socket.Server, interval, timeout time.Duration) {
	if !pingTimer.ok {
		return
	}
	_ = io.Engine().On("connection", func(args ...any) {
		es, ok := args[0].(engine.Socket)
		if !ok || es.Protocol() != 4 || reflect.TypeOf(es) != pingTimer.typ {
			return
		}
		t, ok := es.Transport().(*wsTransport)
		closer, ok2 := es.(engineCloser)
		if !ok || !ok2 {
			return
		}
		ptr := (*atomic.Pointer[utils.Timer])(unsafe.Add(reflect.ValueOf(es).UnsafePointer(), pingTimer.offset))
		timer := ptr.Swap(nil)
		if timer == nil {
			return // not armed: leave the socket as it is
		}
		timer.Stop() // its goroutine returns
		t.startHeartbeat(closer, interval, timeout)
		_ = es.On("heartbeat", func(...any) { t.pong() })
	})
}

// startHeartbeat arms the first ping, pingInterval from now.
func (t *wsTransport) startHeartbeat(es engineCloser, interval, timeout time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.broken || t.closing != nil {
		return
	}
	t.hbInterval = interval
	t.hbTimer = time.AfterFunc(interval, func() { t.heartbeat(es, timeout) })
}

// heartbeat runs when the heartbeat timer fires: a ping is due, or the
// pong to the last one is late.
func (t *wsTransport) heartbeat(es engineCloser, timeout time.Duration) {
	t.mu.Lock()
	if t.hbTimer == nil || t.broken || t.closing != nil {
		t.mu.Unlock()
		return
	}
	if t.hbAwaiting {
		t.hbTimer = nil
		t.mu.Unlock()
		es.OnClose("ping timeout")
		return
	}
	t.hbAwaiting = true
	t.hbTimer.Reset(timeout)
	t.mu.Unlock()
	t.push(wsOut{raw: pingMsg})
}

// pong is the engine's "heartbeat" (a PONG arrived): the next ping is
// pingInterval from now.
func (t *wsTransport) pong() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.hbTimer != nil && t.hbAwaiting {
		t.hbAwaiting = false
		t.hbTimer.Reset(t.hbInterval)
	}
}

// stopHeartbeatLocked stops the heartbeat; t.mu held.
func (t *wsTransport) stopHeartbeatLocked() {
	if t.hbTimer != nil {
		t.hbTimer.Stop()
		t.hbTimer = nil
	}
}
