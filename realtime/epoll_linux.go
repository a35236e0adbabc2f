package realtime

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// wsPoller reads idle websocket connections without a goroutine each: one
// epoll instance (its own, beside the runtime's netpoller) reports a
// connection readable, and only then does a goroutine read it, drain what
// arrived into the connection's push parser, and re-arm it. Registered
// EPOLLONESHOT, so one connection is read by one goroutine at a time.
// An idle connection costs no stack and no read buffer (docs/design.md,
// "Idle connections": the read goroutine's 4 KB stack and its buffer).
type wsPoller struct {
	epfd int
	file *os.File // epfd, waited on through the runtime's netpoller (loop)
	// viaNetpoller: pollLoop has taken events (tests: the fallback, a
	// goroutine blocked in epoll_wait, would pass every other test).
	viaNetpoller atomic.Bool

	mu     sync.Mutex
	conns  map[uint64]*wsSocket // registration id → connection
	nextID uint64
}

// wsReadBufs are the read buffers, taken only while a connection is read.
var wsReadBufs = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

var (
	pollerOnce sync.Once
	poller     *wsPoller
	pollerErr  error
)

// sharedPoller is the process's poller, started on first use; nil (and
// connections get a reader goroutine each) if epoll is not available.
func sharedPoller() *wsPoller {
	pollerOnce.Do(func() {
		fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			pollerErr = err
			return
		}
		poller = &wsPoller{epfd: fd, conns: make(map[uint64]*wsSocket)}
		go poller.loop()
	})
	return poller
}

const pollEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT

// add registers ws; false if its connection offers no raw access.
func (p *wsPoller) add(ws *wsSocket) bool {
	if ws.raw == nil {
		return false
	}
	id := p.register(ws)
	var cerr error
	err := ws.raw.Control(func(fd uintptr) {
		ev := unix.EpollEvent{Events: pollEvents}
		setEventID(&ev, id)
		cerr = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if err != nil || cerr != nil {
		p.remove(id)
		return false
	}
	// A close before the id was stored did not remove it (its fd may still
	// be open while its writer finishes): nothing is read from it anymore.
	// close sets ending before it loads the id, and this reads it after
	// storing the id, so one of the two removes it.
	if ws.closing() {
		p.remove(id)
	}
	return true
}

// register maps ws under a new id and unmaps the one it had (if any): a
// readiness of the old id still coming finds nothing.
func (p *wsPoller) register(ws *wsSocket) uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nextID++
	id := p.nextID
	p.conns[id] = ws
	delete(p.conns, ws.pollID.Swap(id))
	return id
}

func (p *wsPoller) remove(id uint64) {
	p.mu.Lock()
	delete(p.conns, id)
	p.mu.Unlock()
}

// rearm asks for the next readiness of ws. Inside Control the fd cannot
// be closed, so its number cannot be another connection's meanwhile.
func (p *wsPoller) rearm(ws *wsSocket) error {
	var cerr error
	err := ws.raw.Control(func(fd uintptr) {
		ev := unix.EpollEvent{Events: pollEvents}
		setEventID(&ev, ws.pollID.Load())
		// Raw (it never blocks): see rawsys_linux.go.
		_, _, e := syscall.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(p.epfd), unix.EPOLL_CTL_MOD, fd, uintptr(unsafe.Pointer(&ev)), 0, 0)
		if e != 0 {
			cerr = e
		}
	})
	return errors.Join(err, cerr)
}

// setEventID stores id in the event's 64 bits of user data (Fd and Pad).
func setEventID(ev *unix.EpollEvent, id uint64) {
	ev.Fd = int32(uint32(id))
	ev.Pad = int32(uint32(id >> 32))
}

func eventID(ev *unix.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}

// loop hands each readable connection to a goroutine. The epoll fd is
// itself readable while it has events, so it is waited on through the
// runtime's netpoller and drained without blocking: a goroutine blocked in
// epoll_wait held a P in a syscall between updates, which sysmon took back
// after 10 ms, resetting its polling to every 20 µs (docs/design.md,
// "Fan-out"). Without a pollable epoll fd it blocks in epoll_wait as before.
func (p *wsPoller) loop() {
	events := make([]unix.EpollEvent, 256)
	if p.pollLoop(events) {
		return
	}
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			panic("realtime: epoll_wait: " + err.Error()) // the epoll fd is ours: cannot happen
		}
		p.dispatch(events[:n])
	}
}

// pollLoop is loop through the netpoller; false if the epoll fd cannot be
// waited on there.
func (p *wsPoller) pollLoop(events []unix.EpollEvent) bool {
	if unix.SetNonblock(p.epfd, true) != nil {
		return false
	}
	p.file = os.NewFile(uintptr(p.epfd), "epoll")
	rc, err := p.file.SyscallConn()
	if err != nil {
		return false
	}
	err = rc.Read(func(fd uintptr) bool {
		for {
			n, e := epollWaitNow(int(fd), events)
			switch {
			case e == syscall.EINTR:
				continue
			case e != nil:
				panic("realtime: epoll_wait: " + e.Error()) // the epoll fd is ours: cannot happen
			}
			if n > 0 {
				p.viaNetpoller.Store(true)
			}
			p.dispatch(events[:n])
			if n < len(events) {
				return false // drained: wait for the next readiness (edge-triggered)
			}
		}
	})
	// Only an fd the netpoller refused gets here (what fn took was
	// dispatched); the blocking loop takes over.
	_ = err
	return false
}

// epollWaitNow is epoll_wait with a zero timeout: it never blocks, so it
// is a raw syscall (rawsys_linux.go).
func epollWaitNow(epfd int, events []unix.EpollEvent) (int, error) {
	n, _, e := syscall.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func (p *wsPoller) dispatch(events []unix.EpollEvent) {
	p.mu.Lock()
	for i := range events {
		if ws := p.conns[eventID(&events[i])]; ws != nil {
			go ws.readReady()
		}
	}
	p.mu.Unlock()
}

// readReady reads what the connection has (the poller saw it readable),
// then re-arms it, or ends it on EOF or a read error. readMu orders one
// readiness's parsing and re-arming before the next one's (EPOLLONESHOT
// already keeps them apart, through the kernel, which the race detector
// cannot see), and before a wait for the close reply takes the connection
// over (awaitClose).
func (ws *wsSocket) readReady() {
	ws.readMu.Lock()
	defer ws.readMu.Unlock()
	if ws.awaitingReply.Load() {
		ws.replyReady()
		return
	}
	if !ws.readOnce() {
		return
	}
	if ws.awaitingReply.Load() {
		return // a close frame sent meanwhile: awaitClose re-arms it
	}
	if ws.rearm() != nil {
		ws.close("transport close", nil)
	}
}

// awaitClose has the poller wait for the client's close reply and end on
// ws, whose close frame is written and sending side shut (linger):
// replyReady drops what arrives and closes the connection at its end, a
// timer at closeReplyWait. False when the poller does not read ws (it has
// a reader goroutine): the caller waits in a read.
func (p *wsPoller) awaitClose(ws *wsSocket) bool {
	if p == nil || ws.pollID.Load() == 0 {
		return false
	}
	ws.readMu.Lock() // a read already under way ends first
	defer ws.readMu.Unlock()
	id := p.register(ws) // a new id (close removed the old one already)
	ws.awaitingReply.Store(true)
	if ws.rearm() != nil { // not registered with the poller after all
		p.remove(id)
		ws.awaitingReply.Store(false)
		return false
	}
	ws.mu.Lock()
	if !ws.lingerEnded {
		ws.replyTimer = time.AfterFunc(closeReplyWait, ws.endLinger)
	}
	ws.mu.Unlock()
	return true
}

// replyReady (under readMu) drops what the client sent after the close
// frame; at its end (or a failed read) the connection closes, else the
// poller is asked again.
func (ws *wsSocket) replyReady() {
	var buf [512]byte
	ended := false
	err := ws.raw.Read(func(fd uintptr) bool {
		for {
			n, rerr := rawRead(int(fd), buf[:])
			switch {
			case rerr == syscall.EINTR:
			case rerr == syscall.EAGAIN:
				return true // never wait in the runtime's poller
			case rerr != nil || n <= 0:
				ended = true
				return true
			}
		}
	})
	if ended || err != nil || ws.rearm() != nil {
		ws.endLinger()
	}
}

// readOnce (under readMu) drains the connection into its parser; false
// when it ended.
func (ws *wsSocket) readOnce() bool {
	bp := wsReadBufs.Get().(*[]byte)
	defer wsReadBufs.Put(bp)
	buf := *bp
	for {
		var n int
		var rerr error
		err := ws.raw.Read(func(fd uintptr) bool {
			for {
				n, rerr = rawRead(int(fd), buf)
				if rerr != syscall.EINTR {
					return true // never wait in the runtime's poller
				}
			}
		})
		if err == nil {
			err = rerr
		}
		switch {
		case err == syscall.EAGAIN:
			return true
		case err != nil || n <= 0:
			ws.close("transport close", nil)
			return false
		}
		if perr := ws.parser.feed(buf[:n], ws); perr != nil {
			ws.fail(perr)
			return false
		}
		if n < len(buf) {
			return true // most likely drained; if not, the re-armed poller says so
		}
	}
}
