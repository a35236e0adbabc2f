package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quire/quire/auth"
	"github.com/quire/quire/presence"
	"github.com/quire/quire/storage"
)

// conn is the per-socket state. Its events run one at a time, in arrival
// order, on a worker goroutine that exists only while events are pending (an
// idle socket costs no goroutine of ours). Fields below "worker-owned" are
// touched only by that worker.
type conn struct {
	srv  *Server
	sock socketConn
	sid  string
	user atomic.Pointer[storage.User] // nil: unauthenticated; read by Broadcast

	mu        sync.Mutex
	pending   []func()
	running   bool
	closed    bool // disconnected: the cleanup task is queued, nothing else is accepted
	gone      atomic.Bool
	kicked    atomic.Bool // the server closed it, and logged why
	closeOnce sync.Once
	// leaving counts, per room, evictions queued but not yet done (under
	// mu); nLeaving is their total, so fan-out skips the lock at zero.
	leaving  map[string]int
	nLeaving atomic.Int32
	// rooms the socket is in (socket.go); roomsClosed once it left them
	// all for good. Under mu.
	rooms       map[string]struct{}
	roomsClosed bool

	// unapproved: the handshake token was an account waiting for approval;
	// its events are refused with account_pending, not unauthenticated.
	unapproved atomic.Bool
	// inChannels: join-channels succeeded; after a gap the socket's
	// channel rooms are read again from storage (channels.go).
	inChannels atomic.Bool
	authTimer  *time.Timer // closes the socket if it does not authenticate; under mu (set while the worker may run)

	// worker-owned
	docs      joinedDocs          // documents joined (rooms doc_<id>), with the socket's permission (access.go, joined.go)
	deleted   map[string]struct{} // documents left because their note was deleted
	eventRate bucket              // every event (limits.go)
	awRate    map[string]*bucket  // awareness per joined document
	strikes   strikes             // rate_limited refusals
}

// markLeaving adds d to the pending evictions from each room.
func (c *conn) markLeaving(rooms []string, d int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.leaving == nil {
		c.leaving = make(map[string]int, len(rooms))
	}
	for _, r := range rooms {
		if c.leaving[r] += d; c.leaving[r] <= 0 {
			delete(c.leaving, r)
		}
	}
	c.nLeaving.Add(int32(d * len(rooms)))
}

// isLeaving reports whether an eviction from room is pending.
func (c *conn) isLeaving(room string) bool {
	if c.nLeaving.Load() == 0 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leaving[room] > 0
}

// task is one queued event.
type task func()

// newConn makes the conn of a connected socket.
func (s *Server) newConn(sid string, sock socketConn) *conn {
	return &conn{srv: s, sock: sock, sid: sid}
}

// start registers the connected socket and queues its authentication
// with the handshake's token.
func (c *conn) start(token string) {
	s := c.srv
	s.conns.Store(c.sid, c)
	s.met.connected.Inc()
	// Authentication is the first task, so events that arrive meanwhile
	// wait behind it and see its result. The CONNECT reply waits for it:
	// a client that sees "connect" (and then reloads what it shows) is
	// already in user:<id>, and misses nothing sent there.
	c.enqueue(func() {
		c.authenticate(token)
		c.sock.accept()
	}, false)
	if d := s.cfg.AuthTimeout; d > 0 {
		t := time.AfterFunc(d, func() { c.enqueue(c.checkAuthenticated, false) })
		c.mu.Lock()
		c.authTimer = t
		c.mu.Unlock()
	}
}

// logClose logs why a socket or its engine connection closed: at Debug when
// the client went away, at Info when the server or the transport ended it,
// so an unexpected drop is always explained in the log.
func (c *conn) logClose(layer string, reason string, err error) {
	level := slog.LevelInfo
	switch {
	case reason == "transport close", reason == "client namespace disconnect":
		level = slog.LevelDebug // the client went away
	case c.kicked.Load(), !c.srv.running.Load():
		level = slog.LevelDebug // we closed it and said why, or we are stopping
	}
	attrs := []slog.Attr{slog.String("socket", c.sid), slog.String("layer", layer), slog.String("reason", reason)}
	if err != nil {
		attrs = append(attrs, slog.Any("err", err))
	}
	c.srv.log.LogAttrs(context.Background(), level, "socket closed", attrs...)
}

func firstString(args []any) (string, bool) {
	if len(args) == 0 {
		return "", false
	}
	s, ok := args[0].(string)
	return s, ok
}

// kick closes the socket from the server side, saying why in the log.
func (c *conn) kick(why string, attrs ...any) {
	c.kicked.Store(true)
	c.srv.log.Info("disconnecting socket: "+why, append([]any{"socket", c.sid}, attrs...)...)
	c.sock.disconnect()
}

// disconnected queues the cleanup once, behind the socket's pending events.
func (c *conn) disconnected() {
	c.closeOnce.Do(func() {
		c.gone.Store(true)
		c.leaveAll()
		c.srv.calls.socketGone(c.sid)
		c.enqueue(c.cleanup, true)
	})
}

// onEvent runs on the connection's reader: it only queues. Waiting there
// would also block the socket's incoming acks (defect 4).
func (c *conn) onEvent(name string, payload any, ack ackFunc) {
	if !c.srv.running.Load() {
		return // stopping: not accepted, so neither applied nor answered
	}
	received := time.Now()
	if !c.enqueue(func() { c.handle(name, payload, ack, received) }, false) {
		if !c.gone.Load() {
			c.srv.reject(c, name, reasonOverflow, nil)
			c.srv.met.closed.WithLabelValues(closeOverflow).Inc()
			c.kick("event queue full", "queue", c.srv.cfg.QueueSize)
		}
	}
}

// enqueue adds t to the socket's queue, starting the worker if idle. It
// fails when the socket is closed or the queue is full. last marks the
// cleanup task: it is always accepted, and nothing after it.
func (c *conn) enqueue(t task, last bool) bool {
	c.mu.Lock()
	if c.closed || (!last && len(c.pending) >= c.srv.cfg.QueueSize) {
		c.mu.Unlock()
		return false
	}
	c.closed = last
	if c.running {
		c.pending = append(c.pending, t)
		c.mu.Unlock()
		return true
	}
	c.running = true
	c.srv.workers.Add(1)
	c.mu.Unlock()
	go c.work(t)
	return true
}

func (c *conn) work(t task) {
	defer c.srv.workers.Add(-1)
	for {
		c.run(t)
		c.mu.Lock()
		if len(c.pending) == 0 {
			c.pending = nil
			c.running = false
			c.mu.Unlock()
			return
		}
		t = c.pending[0]
		c.pending[0] = nil
		c.pending = c.pending[1:]
		c.mu.Unlock()
	}
}

func (c *conn) run(t task) {
	defer func() {
		if r := recover(); r != nil {
			c.srv.log.Error("socket task panicked", "socket", c.sid, "err", fmt.Sprint(r))
		}
	}()
	t()
}

// reply is a handler's result: reason "" means success, with optional
// extra fields for the ack.
type reply struct {
	reason string
	err    error // what the refusal's log line says besides reason
	extra  map[string]any
}

func ok() reply                         { return reply{} }
func okWith(extra map[string]any) reply { return reply{extra: extra} }
func fail(reason string) reply          { return reply{reason: reason} }

// failErr is fail with the refusal's detail for the log.
func failErr(reason string, err error) reply { return reply{reason: reason, err: err} }

var ackOK = json.RawMessage(`{"ok":true}`) // acks go through json.Marshal; small

func (r reply) ackPayload() any {
	if r.reason != "" {
		return map[string]any{"ok": false, "error": r.reason}
	}
	if r.extra == nil {
		return ackOK
	}
	m := make(map[string]any, len(r.extra)+1)
	for k, v := range r.extra {
		m[k] = v
	}
	m["ok"] = true
	return m
}

// handler handles one event's payload for an authenticated socket (or any
// socket, for user-join).
type handler func(c *conn, ctx context.Context, payload any) reply

func (c *conn) handle(name string, payload any, ack ackFunc, received time.Time) {
	label := eventLabel(name)
	c.srv.met.events.WithLabelValues(label).Inc()
	defer func() {
		c.srv.met.latency.WithLabelValues(label).Observe(time.Since(received).Seconds())
	}()
	if c.gone.Load() && name != evDocUpdate {
		return // nobody to answer; updates are still applied so no edit is lost
	}
	ctx, cancel := context.WithTimeout(c.srv.baseCtx, c.srv.cfg.EventTimeout)
	defer cancel()

	var r reply
	h, known := handlers[name]
	_, big := payload.(tooLarge)
	now := c.srv.cfg.Now()
	switch {
	case !c.allowEvent(now):
		r = fail(reasonRateLimited)
	case big:
		r = fail(reasonTooLarge)
	case !known:
		r = fail(reasonUnknownEvent)
	case c.user.Load() == nil && name != evUserJoin && c.unapproved.Load():
		r = fail(reasonPending)
	case c.user.Load() == nil && name != evUserJoin:
		r = fail(reasonUnauthenticated)
	default:
		r = c.safeCall(h, ctx, payload)
	}
	if r.reason != "" {
		c.srv.reject(c, name, r.reason, r.err)
	}
	if ack != nil {
		ack([]any{r.ackPayload()})
	}
	if r.reason == reasonRateLimited {
		c.rateLimited(now)
	}
}

func (c *conn) safeCall(h handler, ctx context.Context, payload any) (r reply) {
	defer func() {
		if p := recover(); p != nil {
			c.srv.log.Error("event handler panicked", "socket", c.sid, "err", fmt.Sprint(p))
			r = fail(reasonInternal)
		}
	}()
	return h(c, ctx, payload)
}

// reject counts a refused event and logs it at Warn, rate-limited.
func (s *Server) reject(c *conn, event, reason string, err error) {
	s.met.rejected.WithLabelValues(reason).Inc()
	if logNow, suppressed := s.warn.allow(reason); logNow {
		attrs := []any{"reason", reason, "event", eventLabel(event), "socket", c.sid}
		if u := c.user.Load(); u != nil {
			attrs = append(attrs, "user", u.ID)
		}
		if err != nil {
			attrs = append(attrs, "err", err)
		}
		if suppressed > 0 {
			attrs = append(attrs, "suppressed", suppressed)
		}
		s.log.Warn("refused socket event", attrs...)
	}
}

// authenticate checks the handshake token; a bad one leaves the socket
// unauthenticated (it stays connected, as Open WebUI's always_connect).
func (c *conn) authenticate(token string) {
	if token == "" {
		return
	}
	ctx, cancel := context.WithTimeout(c.srv.baseCtx, c.srv.cfg.EventTimeout)
	defer cancel()
	u, _, err := c.srv.cfg.Auth.Verify(ctx, token)
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		c.srv.log.Debug("socket token refused", "socket", c.sid, "err", err)
		return
	case err != nil:
		c.logErr("socket token not checked", err)
		return
	}
	if !approved(u) {
		c.unapproved.Store(true)
		return
	}
	_ = c.adopt(ctx, token, u)
}

// approved: only accounts an admin let in (role user or admin) may use
// sockets; a pending one (or any other role) gets account_pending on every
// event, whatever the Verifier lets through.
func approved(u *storage.User) bool {
	return u.Role == storage.RoleUser || u.Role == storage.RoleAdmin
}

// adopt makes u the socket's account, then checks the token once more. A
// revocation rotates the account's stamp and then drops the sockets in
// user:<id>; one that ran between the first check and the join found no
// socket to drop, and the second check catches it. A check that could not
// be made (storage away) is no revocation, and is logged as the error it
// is; the socket, already in the account's rooms, is dropped all the same
// (Verify fails closed). It returns the second check's error.
func (c *conn) adopt(ctx context.Context, token string, u *storage.User) error {
	c.setUser(u)
	_, _, err := c.srv.cfg.Auth.Verify(ctx, token)
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		c.kick("token revoked while it authenticated", "user", u.ID)
	case err != nil:
		c.logErr("socket token not checked again", err, "user", u.ID)
		c.kick("its token could not be checked again", "user", u.ID)
	}
	return err
}

// setUser makes u the socket's account: room user:<id> and presence. A
// fresh token of the same account keeps everything. Another account first
// leaves what the socket joined as the old one (switchAccount).
func (c *conn) setUser(u *storage.User) {
	if c.gone.Load() {
		return
	}
	old := c.user.Load()
	if old != nil && old.ID == u.ID {
		c.user.Store(u)
		return
	}
	c.switchAccount(u)
	if old != nil {
		c.srv.presenceDo("disconnect", func(ctx context.Context, p presence.Manager) error {
			return p.Disconnect(ctx, old.ID, c.sid)
		})
	}
	c.join(userRoom(u.ID))
	c.srv.presenceDo("connect", func(ctx context.Context, p presence.Manager) error { return p.Connect(ctx, u.ID, c.sid) })
}

// switchAccount (worker) makes u the socket's account after leaving every
// room it joined as the old one (its documents as ydoc:document:leave
// does, then its user, note and channel rooms) and ending its pending
// calls. It must not stay in them: the old account's sign-out, its removal
// from a channel and a note's access change look for that account's
// sockets, so none would reach it. Only the presence room, open to every
// account, is kept. The worker runs the socket's events one at a time, so
// those before the user-join ran as the old account and those after run
// as u.
func (c *conn) switchAccount(u *storage.User) {
	if c.docs.len() > 0 {
		ctx, cancel := context.WithTimeout(c.srv.baseCtx, c.srv.cfg.EventTimeout)
		for _, docID := range c.docs.ids() {
			c.leaveDoc(ctx, docID) // while the account is still the old one, which the room is told left
		}
		cancel()
	}
	// One step with the account change: a channel join made for the old
	// account outside the worker (joinAs) comes before it and is left
	// here, or after it and is refused; a call checked as the old
	// account's is emitted before it (calls.emitMu), then ended below as
	// gone. A first authentication has no old account to check a call as.
	first := c.user.Load() == nil
	if !first && !c.srv.calls.emitMu.TryLock() {
		if hook, found := switchWaitsForCall.Load(c.srv); found {
			hook.(func())()
		}
		c.srv.calls.emitMu.Lock()
	}
	c.mu.Lock()
	c.user.Store(u)
	c.inChannels.Store(false) // the new account joins its own (join-channels)
	var left []string
	for room := range c.rooms {
		if room != presenceRoomName {
			delete(c.rooms, room)
			c.srv.reg.remove(room, c)
			left = append(left, room)
		}
	}
	c.mu.Unlock()
	if !first {
		c.srv.calls.emitMu.Unlock()
	}
	for _, room := range left {
		c.srv.roomChanged(room)
	}
	// A call made to the old account's socket would be answered by the new
	// account's page: it ends as if the socket had gone.
	if !first {
		c.srv.calls.socketGone(c.sid)
	}
}

// switchWaitsForCall, when set for a Server (tests only), runs when an
// account change must wait for a call between its check and its emit.
var switchWaitsForCall sync.Map // *Server → func()

// presenceTimeout bounds a presence change (presenceDo).
const presenceTimeout = 3 * time.Second

// presenceDo runs a presence change, bounded by presenceTimeout; a failure
// (a presence store away) is logged, never fails the socket's event:
// expiry and the next heartbeat put presence right again.
//
// presenceTimeout is well under EventTimeout: a connect waits for it, and
// against a Redis that hangs go-redis retries until the context ends (or
// its dial timeout, 5 s, for a new connection's handshake). With
// EventTimeout a connect took 30 s, and its own account check, on the same
// budget, then ran out of time and dropped the socket as revoked.
func (s *Server) presenceDo(op string, f func(context.Context, presence.Manager) error) {
	parent := s.baseCtx
	if op == "disconnect" {
		// Also while stopping: a shared presence (Redis) would otherwise
		// count the socket until it expires.
		parent = context.WithoutCancel(parent)
	}
	ctx, cancel := context.WithTimeout(parent, min(presenceTimeout, s.cfg.EventTimeout))
	defer cancel()
	if err := f(ctx, s.cfg.Presence); err != nil {
		if ok, quiet := s.warn.allow("presence " + op); ok {
			s.log.Error("presence update failed", "op", op, "err", err, "suppressed", quiet)
		}
	}
}

// cleanup runs last, after every event the socket sent: leave each document
// (awareness removal and ydoc:user:left to its room), presence, state.
func (c *conn) cleanup() {
	s := c.srv
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.EventTimeout)
	defer cancel()
	c.mu.Lock()
	t := c.authTimer
	c.mu.Unlock()
	if t != nil {
		t.Stop()
	}
	for _, docID := range c.docs.ids() {
		c.leaveDoc(ctx, docID)
	}
	if rest := s.cfg.Awareness.RemoveSocket(c.sid); len(rest) > 0 {
		s.log.Debug("awareness left outside joined documents", "socket", c.sid, "docs", len(rest))
	}
	if u := c.user.Load(); u != nil {
		s.presenceDo("disconnect", func(ctx context.Context, p presence.Manager) error { return p.Disconnect(ctx, u.ID, c.sid) })
	}
	s.conns.Delete(c.sid)
	s.met.connected.Dec()
}

// logErr logs an internal failure once per call site and reason.
func (c *conn) logErr(msg string, err error, attrs ...any) {
	if errors.Is(err, context.Canceled) {
		return
	}
	c.srv.log.LogAttrs(context.Background(), slog.LevelError, msg,
		slog.String("socket", c.sid), slog.Any("err", err), slog.Group("ctx", attrs...))
}
