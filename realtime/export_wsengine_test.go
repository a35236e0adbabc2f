package realtime

import (
	"runtime"
	"time"
)

// SetWebSocketCloseBound makes every websocket close of s end at most d
// after it began (closeGrace otherwise). Set before connections open.
func SetWebSocketCloseBound(s *Server, d time.Duration) { s.wsCloseBound = d }

// CloseWebSocketsWhileConnecting closes every websocket of s inside its
// CONNECT, between the conn's start and the socket taking it, and lets a
// cleanup that close started finish first.
func CloseWebSocketsWhileConnecting(s *Server) {
	wsConnecting.Store(s, func(ws *wsSocket) {
		ws.close("test: closed while connecting", nil)
		ws.mu.Lock()
		c := ws.c
		ws.mu.Unlock()
		if c == nil {
			return // the close found no conn: nothing to wait for
		}
		for {
			c.mu.Lock()
			done := c.closed && !c.running
			c.mu.Unlock()
			if done {
				return
			}
			runtime.Gosched()
		}
	})
}

// ConnCount is how many sockets s has registered.
func ConnCount(s *Server) int {
	n := 0
	s.conns.Range(func(any, any) bool { n++; return true })
	return n
}

// WSCount is how many websocket connections s holds open.
func WSCount(s *Server) int {
	s.wsMu.Lock()
	defer s.wsMu.Unlock()
	return len(s.wsConns)
}

// CloseWebSocketsWhileWriting closes every websocket of s inside its
// CONNECT as CloseWebSocketsWhileConnecting does, but with a write in
// flight (the writer's turn taken and never given back): the close then
// leaves the connection to its writer, and hardClose ends it closeGrace
// later.
func CloseWebSocketsWhileWriting(s *Server) {
	wsConnecting.Store(s, func(ws *wsSocket) {
		ws.mu.Lock()
		ws.running = true
		ws.mu.Unlock()
		ws.close("test: closed while writing", nil)
	})
}

// PendingCloseTimers is how many websocket closes of s still have their
// hardClose timer armed.
func PendingCloseTimers(s *Server) int64 { return s.wsCloseTimers.Load() }
