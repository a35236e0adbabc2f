package realtime

import (
	"sync"
	"sync/atomic"

	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// librarySocket is a socketConn served by zishang520/socket.io: the
// polling transport (Config.EnablePolling); websockets are Quire's own
// (socket_ws.go).
type librarySocket struct {
	sock *socket.Socket
	// next is the namespace middleware's continuation: it queues the
	// CONNECT reply (nil) or a CONNECT_ERROR on the socket's task queue.
	next func(*socket.ExtendedError)
	// refused cleans up the conn of a socket ended before its CONNECT was
	// answered (conn.disconnected).
	refused func()

	// What is sent to the socket before its CONNECT reply is written
	// waits in held, as on a websocket (wsSocket.held): a socket refused
	// gets none of what its rooms sent while it authenticated (a token
	// revoked between adopt's two checks), and an accepted one gets it
	// after the reply. state (lib*) changes under mu; held and gone are
	// under mu.
	mu    sync.Mutex
	state atomic.Int32
	held  []func()
	gone  bool // the engine connection closed: nothing more is held
}

const (
	libHolding  = iota // authenticating: sends wait in held
	libAccepted        // the reply is queued in the library: sends wait behind it
	libOpen            // the reply is written: sends go to the engine
	libEnded           // the server ended it: sends are dropped
)

// hold takes send while the socket is not open: held, or dropped once it
// ended or its engine closed; false: it opened, the caller sends now.
// Callers check the state first, so an open socket's sends take no lock.
func (l *librarySocket) hold(send func()) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch l.state.Load() {
	case libHolding, libAccepted:
		if !l.gone {
			l.held = append(l.held, send)
		}
	case libOpen:
		return false
	}
	return true
}

// accept implements socketConn. The library writes the reply from the
// socket's task queue, so what was held is written from there too, after
// it; until then sends keep waiting, in order.
func (l *librarySocket) accept() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state.Load() != libHolding {
		return
	}
	l.state.Store(libAccepted)
	l.next(nil)
	l.sock.Enqueue(l.release)
}

// release writes what was held behind the CONNECT reply, and opens.
func (l *librarySocket) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state.Load() != libAccepted { // ended meanwhile: nothing of it is sent
		return
	}
	for _, send := range l.held {
		send()
	}
	l.held = nil
	l.state.Store(libOpen)
}

// closed drops what is held: the engine connection closed, and the reply
// may never be written (the library's queue stops), nor what follows it.
func (l *librarySocket) closed() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gone = true
	l.held = nil
}

func (l *librarySocket) emit(event string, payload any, ack func(args []any)) error {
	// The closure only while not open: a held emit's error (a reserved
	// event name, the only one) goes unseen.
	if l.state.Load() != libOpen && l.hold(func() { _ = l.emitNow(event, payload, ack) }) {
		return nil
	}
	return l.emitNow(event, payload, ack)
}

func (l *librarySocket) emitNow(event string, payload any, ack func(args []any)) error {
	if ack == nil {
		return l.sock.Emit(event, payload)
	}
	// Not Timeout(): it races under -race (DEPENDENCIES.md, defect 3).
	return l.sock.Emit(event, payload, socket.Ack(func(args []any, _ error) { ack(args) }))
}

func (l *librarySocket) sendFrame(f *sharedFrame, pkt []byte) { l.sendState(pkt, nil) }

func (l *librarySocket) sendState(pkt, attach []byte) {
	if l.state.Load() != libOpen && l.hold(func() { l.write(pkt, attach) }) {
		return
	}
	l.write(pkt, attach)
}

// write hands pkt and its attachment (nil: none) to the engine, together.
func (l *librarySocket) write(pkt, attach []byte) {
	bufs := []types.BufferInterface{newSharedText(pkt)}
	if attach != nil {
		bufs = append(bufs, newSharedBytes(attach))
	}
	l.sock.Client().WriteToEngine(bufs, &socket.WriteOptions{PreEncoded: true})
}

// disconnect implements socketConn; a socket not accepted yet gets a
// CONNECT_ERROR instead of its CONNECT reply. That leaves the engine
// connection open, and no "disconnect" or "close" follows it: the conn
// leaves its rooms and the server here, before the client can hear of the
// refusal, and the client's next packets are let through (no namespace
// will be recorded for the gate to wait for).
func (l *librarySocket) disconnect() {
	l.mu.Lock()
	prev := l.state.Swap(libEnded)
	l.held = nil
	if prev == libAccepted {
		// Not connected until the queued reply is written: the
		// DISCONNECT follows the reply.
		l.sock.Enqueue(l.bye)
	}
	l.mu.Unlock()
	switch prev {
	case libHolding:
		l.refused()
		openConnectGate(l.sock.Handshake().Auth)
		l.next(socket.NewExtendedError("disconnected by the server", nil))
	case libOpen:
		l.bye()
	}
}

// bye ends an accepted socket: its conn leaves its rooms now (sends are
// dropped already: libEnded), the client gets a DISCONNECT, and the engine
// connection closes once that is written (workaround_disconnect.go: the
// client must hear "io server disconnect").
func (l *librarySocket) bye() {
	l.refused() // conn.disconnected: runs once
	disconnectThenClose(l.sock)
}

// authenticateLibrary is the namespace middleware: it makes the conn of a
// socket that asked to connect, and the library answers the CONNECT only
// once the conn has authenticated and joined its rooms (accept), as the
// websocket engine does.
func (s *Server) authenticateLibrary(sock *socket.Socket, next func(*socket.ExtendedError)) {
	ls := &librarySocket{sock: sock, next: next}
	c := s.newConn(string(sock.Id()), ls)
	ls.refused = c.disconnected
	token := ""
	if a, ok := asFields(sock.Handshake().Auth); ok {
		token, _ = a.str("token")
	}
	// The engine socket's close is the ground truth for cleanup: the
	// library can finish a namespace connect after the transport has
	// closed and then never emits "disconnect" for that socket (the churn
	// test saw sockets never cleaned up), nor does it connect a socket
	// whose transport closed while it authenticated. disconnected runs once.
	engineConn := sock.Conn()
	_ = engineConn.Once("close", func(args ...any) {
		reason, err := closeReason(args)
		c.logClose("engine", reason, err)
		ls.closed()
		c.disconnected()
	})
	c.start(token)
	if engineConn.ReadyState() == "closed" { // closed before the listener was in place
		c.disconnected()
	}
}

// onLibraryConnection takes in a socket the library connected: its conn
// (authenticateLibrary) now gets its events.
func (s *Server) onLibraryConnection(sock *socket.Socket) {
	v, ok := s.conns.Load(string(sock.Id()))
	if !ok { // cleaned up already: its transport closed
		sock.Disconnect(true)
		return
	}
	c := v.(*conn)
	_ = sock.OnAny(func(args ...any) {
		if len(args) == 0 {
			return
		}
		name, _ := args[0].(string)
		args = args[1:]
		var ack ackFunc
		if n := len(args); n > 0 {
			if a, ok := args[n-1].(socket.Ack); ok {
				ack, args = func(v []any) { a(v, nil) }, args[:n-1]
			}
		}
		var payload any
		if len(args) > 0 {
			payload = args[0]
		}
		c.onEvent(name, payload, ack)
	})
	_ = sock.On("disconnect", func(args ...any) {
		reason, err := closeReason(args)
		c.logClose("socket", reason, err)
		c.disconnected()
	})
	// The namespace is recorded: let the client's next packets in (decoder.go).
	openConnectGate(sock.Handshake().Auth)
	trimHandshake(sock.Handshake())
	if !sock.Connected() || sock.Conn().ReadyState() == "closed" { // closed before the listeners were in place
		c.disconnected()
		return
	}
	compactEmitters(sock) // every listener of an idle connection is in place: workaround_emitters.go
}

// closeReason reads the library's close arguments: a reason, maybe an error.
func closeReason(args []any) (string, error) {
	reason, _ := firstString(args)
	var err error
	if len(args) > 1 {
		err, _ = args[1].(error)
	}
	return reason, err
}

// trimHandshake drops what the library copies into every socket's handshake
// and keeps for the socket's life, none of which Quire reads once the socket
// is connected: the request headers and query as maps (~0.8 KB per idle
// connection, issue 13 item 4) and the auth map (the token, which
// authenticate has by then: a few hundred bytes).
func trimHandshake(h *socket.Handshake) {
	h.Headers, h.Query, h.Auth = nil, nil, nil
}
