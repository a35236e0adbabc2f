package realtime

import (
	"errors"
	"sync"
	"syscall"

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
	p.mu.Lock()
	p.nextID++
	id := p.nextID
	p.conns[id] = ws
	ws.pollID.Store(id)
	p.mu.Unlock()
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
		cerr = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, int(fd), &ev)
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

func (p *wsPoller) loop() {
	events := make([]unix.EpollEvent, 256)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			panic("realtime: epoll_wait: " + err.Error()) // the epoll fd is ours: cannot happen
		}
		p.mu.Lock()
		for i := range n {
			if ws := p.conns[eventID(&events[i])]; ws != nil {
				go ws.readReady()
			}
		}
		p.mu.Unlock()
	}
}

// readReady reads what the connection has (the poller saw it readable),
// then re-arms it, or ends it on EOF or a read error.
func (ws *wsSocket) readReady() {
	if !ws.readOnce() {
		return
	}
	if ws.rearm() != nil {
		ws.close("transport close", nil)
	}
}

// readOnce drains the connection into its parser; false when it ended.
// readMu orders one readiness's parsing before the next one's (EPOLLONESHOT
// already keeps them apart, through the kernel, which the race detector
// cannot see).
func (ws *wsSocket) readOnce() bool {
	ws.readMu.Lock()
	defer ws.readMu.Unlock()
	bp := wsReadBufs.Get().(*[]byte)
	defer wsReadBufs.Put(bp)
	buf := *bp
	for {
		var n int
		var rerr error
		err := ws.raw.Read(func(fd uintptr) bool {
			for {
				n, rerr = syscall.Read(int(fd), buf)
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
