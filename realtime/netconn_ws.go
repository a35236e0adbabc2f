package realtime

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// wsNetConn is a websocket connection's socket as gorilla sees it (the
// hijacked TCP connection, wrapped by the upgrade). Its Write never
// blocks: it writes what the kernel takes at once (one non-blocking
// write(2)) and, should the socket buffer be full, keeps the rest and lets
// one goroutine write it, blocking as a plain write would; every later
// Write queues behind that rest until it is written. So the room fan-out
// can write each recipient's frame from its own goroutine
// (wsTransport.push) instead of starting a writer goroutine per recipient
// and message, and a client that stops reading holds up only its own
// connection. Bytes leave in Write order (gorilla serialises its writes,
// control frames included).
//
// It also passes a write deadline on only when it changes: gorilla sets
// one (zero, normally) before every frame, and each setting took the
// runtime's poll descriptor lock (pprof, bench S1: ~8% of server CPU).
type wsNetConn struct {
	net.Conn // reads, addresses, and the rest's blocking writes
	raw      syscall.RawConn

	mu       sync.Mutex
	rest     []byte // what the kernel did not take yet; written by flush
	flushing bool   // a flush goroutine owns the socket's writes
	closed   bool   // Close was called
	err      error  // a flush failed: the connection is gone
	deadline bool   // a write deadline is set on Conn
}

// newWSNetConn wraps c, whose writes go to tcp's socket; c itself when tcp
// offers no raw access (then writes block as before).
func newWSNetConn(c net.Conn, tcp net.Conn) net.Conn {
	sc, ok := tcp.(syscall.Conn)
	if !ok {
		return c
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	return &wsNetConn{Conn: c, raw: raw}
}

// Write implements net.Conn: all of b is written or queued when it
// returns, unless the connection failed.
func (c *wsNetConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.err != nil:
		return 0, c.err
	case c.closed:
		return 0, net.ErrClosed
	case c.flushing:
		c.rest = append(c.rest, b...)
		return len(b), nil
	}
	n, err := c.tryWrite(b)
	if err != nil {
		return n, err
	}
	if n < len(b) {
		c.rest = append(c.rest[:0], b[n:]...)
		c.flushing = true
		go c.flush()
	}
	return len(b), nil
}

// tryWrite writes what the socket takes without waiting.
func (c *wsNetConn) tryWrite(b []byte) (int, error) {
	n := 0
	var werr error
	err := c.raw.Write(func(fd uintptr) bool {
		for n < len(b) {
			m, e := syscall.Write(int(fd), b[n:])
			if m > 0 {
				n += m
			}
			switch {
			case e == syscall.EINTR:
				continue
			case e == syscall.EAGAIN:
				return true // full: the rest goes to flush
			case e != nil:
				werr = os.NewSyscallError("write", e)
				return true
			case m == 0:
				werr = io.ErrUnexpectedEOF
				return true
			}
		}
		return true
	})
	if err == nil {
		err = werr
	}
	if err != nil {
		return n, &net.OpError{Op: "write", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	}
	return n, nil
}

// flush writes the rest, and what joins it meanwhile, blocking.
func (c *wsNetConn) flush() {
	var spare []byte
	for {
		c.mu.Lock()
		buf := c.rest
		if len(buf) == 0 || c.err != nil {
			c.rest, c.flushing = nil, false
			closeNow := c.closed
			c.mu.Unlock()
			if closeNow {
				_ = c.Conn.Close()
			}
			return
		}
		c.rest = spare[:0]
		c.mu.Unlock()
		if _, err := c.Conn.Write(buf); err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			// As a failed write of gorilla's: the connection is unusable;
			// closing it ends the reader too, and with it the socket.
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
	if c.flushing && !c.closed {
		c.closed = true
		c.mu.Unlock()
		return c.Conn.SetWriteDeadline(time.Now().Add(closeGrace))
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
	c.deadline = !t.IsZero()
	return c.Conn.SetWriteDeadline(t)
}

// SetDeadline implements net.Conn.
func (c *wsNetConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = !t.IsZero()
	return c.Conn.SetDeadline(t)
}
