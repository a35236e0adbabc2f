package realtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	engine "github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// Server is the Socket.IO endpoint. Create it with New, mount Handler, call
// Start, and Stop on shutdown.
type Server struct {
	cfg     Config
	log     *slog.Logger
	met     *metrics
	io      *socket.Server // polling only (socket_library.go); nil for websockets
	handler http.Handler
	polls   *pollGuard // workaround_polling.go
	warn    *warnLimiter
	touch   touchLimiter // heartbeats' last_active_at writes

	// baseCtx is the parent of every event's context; cancelled by Stop.
	baseCtx context.Context
	cancel  context.CancelFunc

	running atomic.Bool // accepting requests: between Start and Stop
	// workers counts running socket workers. Not a WaitGroup: a late
	// disconnect may start a worker while Stop waits, which a WaitGroup
	// forbids (Add from zero concurrent with Wait).
	workers atomic.Int64
	conns   sync.Map // sid → *conn

	// The websocket connections (socket_ws.go), for Stop.
	wsMu      sync.Mutex
	wsConns   map[*wsSocket]struct{}
	wsStopped bool
	wsClosing atomic.Int64 // connections Stop closed and waits for (closeAllWS)
	// wsCloseTimers: closes' hardClose timers neither fired nor stopped.
	wsCloseTimers atomic.Int64
	// wsCloseBound: a websocket's close ends at most this long after it
	// began (hardClose): closeGrace, longer in tests that must not depend
	// on how fast a loaded machine reads.
	wsCloseBound time.Duration

	broker Broker
	reg    roomRegistry // the rooms of local sockets (socket.go)
	rooms  roomSubscriptions
	epochs *accessEpochs
	leaves atomic.Uint64 // channel LeaveRoom commands run here (channels.go)
	joins  atomic.Uint64 // channel JoinRoom commands run here (channels.go)
	chans  gapResync     // accounts, notes' access and channel rooms read again after a gap (channels.go)
	calls  calls         // calls waiting for a socket's ack (call.go)

	remoteAw remoteAwareness // other instances' awareness states (awareness_remote.go)
}

// New builds a Server from cfg (defaults applied).
func New(cfg Config) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	met, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, fmt.Errorf("realtime: metrics: %w", err)
	}
	s := &Server{
		cfg:    cfg,
		log:    cfg.Logger.With("component", "realtime"),
		met:    met,
		warn:   newWarnLimiter(10 * time.Second),
		broker: cfg.Broker,
		epochs: newAccessEpochs(),

		wsCloseBound: closeGrace,
	}
	s.baseCtx, s.cancel = context.WithCancel(context.Background())

	s.rooms.subscribed = map[string]struct{}{}
	if !cfg.EnablePolling {
		return s, nil // websockets: Quire's own engine (socket_ws.go)
	}
	opts := socket.DefaultServerOptions()
	opts.SetServeClient(false)
	opts.SetPath(cfg.Path)
	opts.SetPingInterval(cfg.PingInterval)
	opts.SetPingTimeout(cfg.PingTimeout)
	opts.SetMaxHttpBufferSize(engineLimit(cfg.MaxMessageBytes))
	opts.SetParser(sizedParser{rawParser{parser.NewParser()}, cfg.MaxMessageBytes, met.gateTimeouts.WithLabelValues("connect")})
	opts.SetTransports(types.NewSet[transports.TransportCtor](engine.Polling))
	opts.SetAllowUpgrades(false)
	if len(cfg.CORSOrigins) > 0 {
		var origin any = cfg.CORSOrigins
		if slices.Contains(cfg.CORSOrigins, "*") {
			origin = "*"
		}
		opts.SetCors(&types.Cors{Origin: origin, Credentials: origin != "*"})
	}
	s.io = socket.NewServer(nil, opts)
	s.handler = s.io.ServeHandler(opts)
	s.polls = newPollGuard(s.io.Engine())
	s.io.Use(s.authenticateLibrary)
	_ = s.io.On("connection", func(args ...any) {
		if sock, ok := args[0].(*socket.Socket); ok {
			s.onLibraryConnection(sock)
		}
	})
	return s, nil
}

// Handler serves Engine.IO at Config.Path; mount it at that path plus "/".
// It answers 503 before Start and after Stop.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.running.Load() {
			http.Error(w, "realtime: not running", http.StatusServiceUnavailable)
			return
		}
		if s.io == nil {
			s.serveWebSocket(w, r)
			return
		}
		s.polls.serve(w, r, s.handler)
	})
}

// isWebSocketUpgrade reports whether r asks for a websocket (RFC 6455 4.2.1).
func isWebSocketUpgrade(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") &&
		headerHasToken(r.Header, "Upgrade", "websocket")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// Start starts the broker and begins accepting connections. Idempotent.
func (s *Server) Start(ctx context.Context) error {
	if s.baseCtx.Err() != nil {
		return fmt.Errorf("realtime: Start after Stop")
	}
	if s.running.Load() {
		return nil
	}
	if err := s.broker.Start(ctx, delivery{s}); err != nil {
		return fmt.Errorf("realtime: start broker: %w", err)
	}
	s.running.Store(true)
	go s.watchPresence(s.baseCtx, s.cfg.PresenceInterval)
	return nil
}

// Stop refuses new requests and events, lets the events already accepted
// finish with their sockets open (at most closeGrace), closes every socket
// (their cleanup runs) and waits for the socket workers, all bounded by
// ctx: the library does not answer a pending long-poll on close
// (shared/DEPENDENCIES.md, defect 2). Websockets are all closed at once,
// none waiting for another. Idempotent.
func (s *Server) Stop(ctx context.Context) error {
	s.running.Store(false) // conn.onEvent takes no event from here on
	// An update being stored now gets its ack and its relay before the
	// sockets close (protocol.md §9.1): closing first stored it unanswered.
	open, cancel := context.WithTimeout(ctx, closeGrace)
	s.waitWorkers(open)
	cancel()
	closed := make(chan struct{})
	go func() {
		if s.io != nil {
			s.io.Close(nil)
		}
		close(closed)
	}()
	s.closeAllWS(ctx)
	drained := make(chan struct{})
	go func() {
		<-closed
		if s.waitWorkers(ctx) {
			close(drained)
		} // else Stop answers ctx.Err()
	}()
	select {
	case <-drained:
		s.cancel()
	case <-ctx.Done():
		s.cancel() // abort in-flight handlers
		_ = s.broker.Stop(ctx)
		return fmt.Errorf("realtime: stop: %w", ctx.Err())
	}
	var drainErr error
	if s.cfg.Drain != nil {
		drainErr = s.cfg.Drain(ctx)
	}
	if err := s.broker.Stop(ctx); err != nil {
		return errors.Join(drainErr, fmt.Errorf("realtime: stop broker: %w", err))
	}
	return drainErr
}

// waitWorkers waits until no socket worker runs; false if ctx ended first.
func (s *Server) waitWorkers(ctx context.Context) bool {
	for s.workers.Load() > 0 {
		if ctx.Err() != nil {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// DisconnectUser closes every live socket of the account at once (sign-out,
// role change, deletion), on every instance. The client hears "io server
// disconnect", on which socket.io-client does not reconnect by itself: the
// page decides (it signs in again with a valid token).
func (s *Server) DisconnectUser(userID string) {
	s.command(Command{Kind: CommandDisconnectUser, UserID: userID})
}

// disconnectLocal closes this instance's sockets of the account.
func (s *Server) disconnectLocal(userID string) {
	members := s.reg.members(userRoom(userID))
	for _, c := range members {
		c.kicked.Store(true)
	}
	s.log.Info("disconnecting the account's sockets", "user", userID, "sockets", len(members))
	for _, c := range members {
		c.sock.disconnect()
	}
}

// Broadcast relays a stored update to the document's room except exceptSID
// ("" for server-made updates). It is ydoc.Config.Broadcast: called by the
// document owner in apply order. The payload is serialised once here and
// the packet is framed once for all recipients (toRoomDirect).
func (s *Server) Broadcast(docID string, update []byte, exceptSID string) {
	o := s.origin(exceptSID)
	p := newObject(len(update)*4+len(docID)).
		str("document_id", docID).
		str("user_id", o.UserID).
		ints("update", update).
		str("socket_id", exceptSID).
		done()
	s.publish(Message{Room: docRoom(docID), Event: evDocUpdate, Payload: p, Except: exceptSID, Origin: o})
}

// toRoom sends a pre-encoded payload to room, except the sending socket
// exceptSID (also the message's origin), through the broker.
func (s *Server) toRoom(room, exceptSID, event string, payload preEncoded) {
	s.publish(Message{Room: room, Event: event, Payload: payload, Except: exceptSID, Origin: s.origin(exceptSID)})
}

// roomMembers lists the local sockets in room, sorted.
func (s *Server) roomMembers(room string) []string {
	members := s.reg.members(room)
	out := make([]string, len(members))
	for i, c := range members {
		out[i] = c.sid
	}
	return out
}

func userRoom(userID string) string { return "user:" + userID }
func docRoom(docID string) string   { return "doc_" + docID }
func noteRoom(noteID string) string { return "note:" + noteID }

// warnLimiter logs refused input at Warn at most once per interval per
// reason, counting what it suppressed, so hostile clients cannot flood logs.
type warnLimiter struct {
	every time.Duration
	mu    sync.Mutex
	last  map[string]time.Time
	quiet map[string]int
}

func newWarnLimiter(every time.Duration) *warnLimiter {
	return &warnLimiter{every: every, last: map[string]time.Time{}, quiet: map[string]int{}}
}

// allow reports whether to log reason now, and how many were suppressed.
func (w *warnLimiter) allow(reason string) (bool, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	if now.Sub(w.last[reason]) < w.every {
		w.quiet[reason]++
		return false, 0
	}
	w.last[reason] = now
	n := w.quiet[reason]
	w.quiet[reason] = 0
	return true, n
}
