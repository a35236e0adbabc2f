package realtime

import (
	"errors"
	"math"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
)

// wsBatch is a room frame's websocket recipients whose writer turn the
// sender took (claimInline), as push does for one inline write: the frame
// goes to all of them in one io_uring submission (sendRing) instead of one
// write(2) each. What a socket does not take at once is kept and flushed
// by its connection, as after an inline write.
type wsBatch struct {
	socks []*wsSocket
	fds   []int32
	res   []int32
}

var wsBatches = sync.Pool{New: func() any { return new(wsBatch) }}

// minBatch: fewer recipients are written one by one (one system call
// each either way).
const minBatch = 2

// sendShared hands frame to ws, taking its writer turn into b when the
// connection is idle (b is made on first use); the batch is written by
// b.write.
func (ws *wsSocket) sendShared(f *sharedFrame, b **wsBatch) {
	if ws.fd < 0 || !sendRingsOn() || !ws.claimInline() {
		ws.sendFrame(f, nil)
		return
	}
	if *b == nil {
		*b = wsBatches.Get().(*wsBatch)
	}
	(*b).socks = append((*b).socks, ws)
	(*b).fds = append((*b).fds, ws.fd)
}

// write sends frame to every socket of the batch and ends their turns,
// then returns the batch to its pool.
func (b *wsBatch) write(frame []byte) {
	var r *sendRing
	if len(b.socks) >= minBatch {
		r = getSendRing()
	}
	done := 0
	if r != nil {
		ok, sent := true, 0
		for done < len(b.socks) && ok {
			end := min(done+r.size, len(b.socks))
			if cap(b.res) < end-done {
				b.res = make([]int32, r.size)
			}
			res := b.res[:end-done]
			ok = r.send(b.fds[done:end], frame, res)
			for i, ws := range b.socks[done:end] {
				if res[i] != resNotSent {
					sent++
				}
				ws.sent(frame, res[i])
			}
			done = end
		}
		putSendRing(r, ok)
		b.socks[0].srv.met.batchedSends.Add(float64(sent))
	}
	for _, ws := range b.socks[done:] {
		ws.writeInline(wsItem{wire: frame, shared: true})
	}
	clear(b.socks)
	b.socks, b.fds = b.socks[:0], b.fds[:0]
	wsBatches.Put(b)
}

// sent ends a batched send's turn given its result (sendRing.send).
func (ws *wsSocket) sent(frame []byte, res int32) {
	switch {
	case res == resNotSent:
		ws.writeInline(wsItem{wire: frame, shared: true})
		return
	case int(res) == len(frame):
	case res >= 0 || res == -int32(syscall.EAGAIN) || res == -int32(syscall.EINTR):
		ws.wnc.keepRest(frame[max(res, 0):]) // the socket is full: as an inline write's rest
	case res == resUnknown:
		// Part of the frame may be on the wire: nothing more may follow
		// it, and the connection closes as the turn ends (endInline).
		ws.mu.Lock()
		ws.broken, ws.queue = true, nil
		ws.mu.Unlock()
		go ws.writeFailed(&net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", errUnknownSend)})
	default:
		go ws.writeFailed(&net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.Errno(-res))})
	}
	ws.endInline()
}

// sendRing.send's results besides send(2)'s.
const (
	resNotSent = math.MinInt32     // not sent: write it another way
	resUnknown = math.MinInt32 + 1 // sent, result lost: the stream is in doubt
)

var errUnknownSend = errors.New("batched send lost its result")

// sendRingsOff is set once io_uring proved missing or forbidden.
var sendRingsOff atomic.Bool

// sendRingsOn reports whether a fan-out may batch.
func sendRingsOn() bool { return !sendRingsOff.Load() }
