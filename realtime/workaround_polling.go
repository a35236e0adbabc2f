package realtime

import (
	"cmp"
	"context"
	"io"
	"maps"
	"net/http"
	"sync"
	"sync/atomic"

	engine "github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// Workaround for two defects of zishang520/socket.io v3.0.5's polling
// transport that leave a long-poll request (a GET) unanswered: the client
// then waits on it, and receives nothing, until it gives up. Everything of
// it lives here; when the library is fixed, delete this file and its call
// sites in New and Handler.
//
//  1. A GET that is set on the transport while the session closes is never
//     answered. On a client's close packet the transport answers the
//     pending GET with a NOOP and only then closes; the client's next GET,
//     sent on that NOOP, passes the engine's sid check before the session
//     is dropped and is set on the closed transport. A GET pending when
//     the server closes a session is not answered either (the transport
//     stops its write queue, then queues the CLOSE packet: defect 2 in
//     shared/DEPENDENCIES.md).
//  2. Answering a GET clears the transport's pending request twice: before
//     the response is written and again when the request's context closes,
//     after the response has gone out. A next GET set in between is
//     cleared: the transport writes nothing more to it, and its next write
//     fails ("polling write error"), closing the session.
//
// pollGuard answers 1 at the session's end, with the CLOSE packet the
// library meant to send, and prevents 2 by letting a session's GET into
// the library only once the previous one's context has closed.
type pollGuard struct {
	inFlight atomic.Int64 // polling GETs inside the library
	mu       sync.Mutex
	sessions map[string]*pollSession // by engine sid, from "connection" to "close"
}

type pollSession struct {
	last    *pollReq              // the latest GET, the handshake's at first
	pending map[*pollReq]struct{} // GETs inside the library
}

// pollReq is one GET of a polling session (or its handshake).
type pollReq struct {
	ctx     atomic.Pointer[types.HttpContext] // the library's context of it, once its middleware ran
	cleaned chan struct{}                     // closed when that context has closed
	once    sync.Once
	header  http.Header // the response headers the middlewares set (CORS)
	ended   atomic.Bool // its session closed while it was inside the library
	cancel  context.CancelFunc
}

type pollReqKey struct{}

func newPollGuard(eio engine.BaseServer) *pollGuard {
	g := &pollGuard{sessions: map[string]*pollSession{}}
	eio.Use(g.middleware)
	_ = eio.On("connection", func(args ...any) {
		if sock, ok := args[0].(engine.Socket); ok {
			g.opened(sock)
		}
	})
	return g
}

// serve hands r to the library's handler; a GET of a known session waits
// for the previous one to be done (2) and is answered if its session
// closes while the library holds it (1).
func (g *pollGuard) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	q := r.URL.Query()
	if r.Method != http.MethodGet || q.Get("transport") != "polling" {
		next.ServeHTTP(w, r)
		return
	}
	g.inFlight.Add(1)
	defer g.inFlight.Add(-1)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	p := &pollReq{cleaned: make(chan struct{}), cancel: cancel}
	r = r.WithContext(context.WithValue(ctx, pollReqKey{}, p))
	sid := q.Get("sid")
	prev, s := g.add(sid, p)
	if s == nil { // a handshake, or a session gone: the library answers it
		next.ServeHTTP(w, r)
		return
	}
	defer g.remove(s, p)
	// The previous GET's context closes right after its response is
	// written; one still unanswered is an overlap the library refuses.
	if c := prev.ctx.Load(); c != nil && c.IsDone() {
		select {
		case <-prev.cleaned:
		case <-ctx.Done():
		}
	}
	pw := &pollWriter{w: w, header: http.Header{}}
	next.ServeHTTP(pw, r)
	pw.finish(p)
}

// middleware runs on every request before the library looks at it: a
// GET's context is recorded, and the close of it awaited.
func (g *pollGuard) middleware(ctx *types.HttpContext, next func(error)) {
	if p, ok := ctx.Request().Context().Value(pollReqKey{}).(*pollReq); ok {
		p.header = ctx.ResponseHeaders().All()
		_ = ctx.Once("close", func(...any) { p.clean() })
		if ctx.Context().Err() != nil { // it may have closed before the listener was in place
			p.clean()
		}
		p.ctx.Store(ctx)
	}
	next(nil)
}

func (p *pollReq) clean() { p.once.Do(func() { close(p.cleaned) }) }

// opened starts tracking a session; its handshake GET is its first.
func (g *pollGuard) opened(sock engine.Socket) {
	sid := sock.Id()
	p, _ := sock.Request().Request().Context().Value(pollReqKey{}).(*pollReq)
	if p == nil {
		p = &pollReq{cleaned: make(chan struct{})}
		p.clean()
	}
	g.mu.Lock()
	g.sessions[sid] = &pollSession{last: p, pending: map[*pollReq]struct{}{}}
	g.mu.Unlock()
	// After the engine's own close listener, which forgets the sid: a GET
	// not registered by now gets the library's "unknown sid".
	_ = sock.Once("close", func(...any) { g.closed(sid) })
}

// closed ends the session's GETs still inside the library.
func (g *pollGuard) closed(sid string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if s := g.sessions[sid]; s != nil {
		for p := range s.pending {
			p.ended.Store(true)
			p.cancel()
		}
	}
	delete(g.sessions, sid)
}

// add registers p as sid's latest GET; it returns the previous one and
// the session, nil if it is not tracked.
func (g *pollGuard) add(sid string, p *pollReq) (*pollReq, *pollSession) {
	if sid == "" {
		return nil, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.sessions[sid]
	if s == nil {
		return nil, nil
	}
	prev := s.last
	s.last = p
	s.pending[p] = struct{}{}
	return prev, s
}

func (g *pollGuard) remove(s *pollSession, p *pollReq) {
	g.mu.Lock()
	delete(s.pending, p)
	g.mu.Unlock()
}

// pollWriter passes the library's one response through to w, whole (at
// its Write), until the request returns; then it drops what comes later:
// the library may still be writing when a cancelled request returns.
type pollWriter struct {
	w      http.ResponseWriter
	header http.Header
	mu     sync.Mutex
	status int
	done   bool // w has its response, or the request returned
}

func (pw *pollWriter) Header() http.Header { return pw.header }

func (pw *pollWriter) WriteHeader(status int) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	if !pw.done {
		pw.status = status
	}
}

func (pw *pollWriter) Write(b []byte) (int, error) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	if pw.done {
		return 0, http.ErrHandlerTimeout
	}
	pw.done = true
	maps.Copy(pw.w.Header(), pw.header)
	pw.w.WriteHeader(cmp.Or(pw.status, http.StatusOK))
	return pw.w.Write(b)
}

// finish answers a GET its session left unanswered with the Engine.IO
// CLOSE packet, and closes pw.
func (pw *pollWriter) finish(p *pollReq) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	if !pw.done && p.ended.Load() {
		h := pw.w.Header()
		maps.Copy(h, p.header)
		h.Set("Content-Type", "text/plain; charset=UTF-8")
		h.Set("Cache-Control", "no-store")
		_, _ = io.WriteString(pw.w, "1")
	}
	pw.done = true
}
