package realtime

import (
	"sync"

	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// librarySocket is a socketConn served by zishang520/socket.io: the
// polling transport (Config.EnablePolling); websockets are Quire's own
// (socket_ws.go).
type librarySocket struct {
	sock *socket.Socket
	// next is the namespace middleware's continuation: the library sends
	// the CONNECT reply when it is called (accept), once.
	next func(*socket.ExtendedError)
	once sync.Once
	// refused cleans up the conn of a socket ended before its CONNECT was
	// answered (conn.disconnected).
	refused func()
}

// accept implements socketConn.
func (l *librarySocket) accept() { l.once.Do(func() { l.next(nil) }) }

func (l *librarySocket) emit(event string, payload any, ack func(args []any)) error {
	if ack == nil {
		return l.sock.Emit(event, payload)
	}
	// Not Timeout(): it races under -race (DEPENDENCIES.md, defect 3).
	return l.sock.Emit(event, payload, socket.Ack(func(args []any, _ error) { ack(args) }))
}

func (l *librarySocket) sendFrame(f *sharedFrame, pkt []byte) {
	l.sock.Client().WriteToEngine([]types.BufferInterface{newSharedText(pkt)}, &socket.WriteOptions{PreEncoded: true})
}

func (l *librarySocket) sendState(pkt, attach []byte) {
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
	refused := false
	l.once.Do(func() {
		refused = true
		l.refused()
		openConnectGate(l.sock.Handshake().Auth)
		l.next(socket.NewExtendedError("disconnected by the server", nil))
	})
	if !refused {
		l.sock.Disconnect(true)
	}
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
