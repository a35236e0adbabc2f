package realtime

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// wsNetConn is a websocket connection's socket as its writer sees it (the
// hijacked TCP connection; wsSocket). While its writer is in try mode
// (wsSocket.push writing inline), a Write never blocks: it writes what
// the kernel takes at once (one non-blocking write(2)) and, should the
// socket buffer be full, keeps the rest and lets one goroutine write it,
// blocking as a plain write would. Outside try mode a Write first waits for
// such a rest to be written, then writes as a plain connection does. So
// the room fan-out can write each recipient's frame from its own goroutine
// instead of starting a writer goroutine per recipient and message, and a
// client that stops reading holds up only its own connection. Bytes leave
// in Write order (wsSocket's queue serialises its writes, control frames
// included).
//
// It also passes a write deadline on only when it changes (each setting
// takes the runtime's poll descriptor lock).
type wsNetConn struct {
	net.Conn // reads, addresses, and blocking writes
	raw      syscall.RawConn

	mu       sync.Mutex
	try      bool          // writes must not block (setTry)
	rest     []byte        // what the kernel did not take yet; written by flush
	flushed  chan struct{} // non-nil while flush runs; closed when it ends
	closed   bool          // Close was called
	err      error         // a flush failed: the connection is gone
	deadline bool          // a write deadline is set on Conn
	dl       time.Time     // that deadline
	grace    time.Duration // Close's bound on writing the rest: closeGrace
	full     prometheus.Counter
	// failed, when set, hears of a flush's failed write: with reads
	// through the poller, nothing else may tell the socket the
	// connection is gone until its next write.
	failed func(error)
	// tryWrite's arguments and results, so that its callback (writeFD,
	// bound once) does not allocate a closure per write: one per
	// recipient and room message was a quarter of S1's allocations.
	// Used under mu.
	wb   []byte
	wn   int
	werr error
	wfn  func(fd uintptr) bool
}

// newWSNetConn wraps c, whose writes go to tcp's socket, counting the
// writes that found it full in full; c itself when tcp offers no raw
// access (then writes block as before).
func newWSNetConn(c net.Conn, tcp net.Conn, full prometheus.Counter) net.Conn {
	sc, ok := tcp.(syscall.Conn)
	if !ok {
		return c
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	w := &wsNetConn{Conn: c, raw: raw, grace: closeGrace, full: full}
	w.wfn = w.writeFD
	return w
}

// setTry enters or leaves try mode.
func (c *wsNetConn) setTry(on bool) {
	c.mu.Lock()
	c.try = on
	c.mu.Unlock()
}

// busy reports whether a rest is being written (a write would queue).
func (c *wsNetConn) busy() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flushed != nil
}

// idleOpen reports whether no rest is being written and the connection
// neither failed nor was closed: then only its writer's turn closes the
// descriptor (a batch sends on it: wsBatch). A failed flush closes it at
// once, before the socket hears of the failure.
func (c *wsNetConn) idleOpen() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flushed == nil && c.err == nil && !c.closed
}

// Write implements net.Conn. In try mode all of b is written or kept when
// it returns, unless the connection failed.
func (c *wsNetConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	for !c.try && c.flushed != nil && c.err == nil {
		ch := c.flushed
		c.mu.Unlock()
		<-ch
		c.mu.Lock()
	}
	switch {
	case c.err != nil:
		c.mu.Unlock()
		return 0, c.err
	case c.closed:
		c.mu.Unlock()
		return 0, net.ErrClosed
	case !c.try:
		c.mu.Unlock()
		return c.Conn.Write(b)
	case c.flushed != nil:
		c.rest = append(c.rest, b...)
		c.mu.Unlock()
		return len(b), nil
	}
	defer c.mu.Unlock()
	c.dropExpiredDeadline()
	n, err := c.tryWrite(b)
	if err != nil {
		return n, err
	}
	if n < len(b) {
		c.startFlush(b[n:])
	}
	return len(b), nil
}

// keepRest keeps b, what a batched send (wsBatch) could not write at
// once, and writes it as a try-mode Write keeps its rest.
func (c *wsNetConn) keepRest(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil || c.closed || c.flushed != nil {
		return // gone (its failure is told), or impossible: the batch held the turn
	}
	c.dropExpiredDeadline()
	c.startFlush(b)
}

// dropExpiredDeadline clears a control frame's expired write deadline,
// which is not a frame's to fail. Called under mu.
func (c *wsNetConn) dropExpiredDeadline() {
	if c.deadline && !c.dl.After(time.Now()) {
		_ = c.Conn.SetWriteDeadline(time.Time{})
		c.deadline = false
	}
}

// startFlush starts writing rest in the background. Called under mu.
func (c *wsNetConn) startFlush(rest []byte) {
	c.rest = append(c.rest[:0], rest...)
	c.flushed = make(chan struct{})
	c.full.Inc()
	go c.flush()
}

// tryWrite writes what the socket takes without waiting. Called under mu.
func (c *wsNetConn) tryWrite(b []byte) (int, error) {
	c.wb, c.wn, c.werr = b, 0, nil
	err := c.raw.Write(c.wfn)
	n := c.wn
	if err == nil {
		err = c.werr
	}
	c.wb, c.werr = nil, nil
	if err != nil {
		return n, &net.OpError{Op: "write", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	}
	return n, nil
}

// writeFD is tryWrite's callback: c.wb from c.wn on, until the socket is
// full (EAGAIN) or an error.
func (c *wsNetConn) writeFD(fd uintptr) bool {
	for c.wn < len(c.wb) {
		m, e := rawWrite(int(fd), c.wb[c.wn:])
		if m > 0 {
			c.wn += m
		}
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN:
			return true // full: the rest goes to flush
		case e != nil:
			c.werr = os.NewSyscallError("write", e)
			return true
		case m == 0:
			c.werr = io.ErrUnexpectedEOF
			return true
		}
	}
	return true
}

// flush writes the rest, and what joins it meanwhile, blocking.
func (c *wsNetConn) flush() {
	var spare []byte
	for {
		c.mu.Lock()
		buf := c.rest
		if len(buf) == 0 || c.err != nil {
			c.rest = nil
			close(c.flushed)
			c.flushed = nil
			closeNow, err, failed := c.closed, c.err, c.failed
			c.mu.Unlock()
			if closeNow {
				_ = c.Conn.Close()
			}
			if err != nil && failed != nil {
				failed(err)
			}
			return
		}
		c.rest = spare[:0]
		c.mu.Unlock()
		if _, err := c.Conn.Write(buf); err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			// The connection is unusable: closed now, and failed (once
			// the flush ends) ends the socket.
			_ = c.Conn.Close()
			continue
		}
		spare = buf
	}
}

// Close implements net.Conn. With a rest still being written, the
// connection closes once it is written, at most closeGrace from now (a
// client that stopped reading would otherwise hold it for ever).
func (c *wsNetConn) Close() error {
	c.mu.Lock()
	if c.flushed != nil && !c.closed {
		c.closed = true
		c.mu.Unlock()
		return c.Conn.SetWriteDeadline(time.Now().Add(c.grace))
	}
	c.closed = true
	c.mu.Unlock()
	return c.Conn.Close()
}

// SetWriteDeadline implements net.Conn; a zero deadline on a connection
// without one changes nothing and is not passed on.
func (c *wsNetConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.IsZero() && !c.deadline {
		return nil
	}
	c.deadline, c.dl = !t.IsZero(), t
	return c.Conn.SetWriteDeadline(t)
}

// SetDeadline implements net.Conn.
func (c *wsNetConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = !t.IsZero()
	return c.Conn.SetDeadline(t)
}
