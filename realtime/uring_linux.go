package realtime

import (
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// sendRing is an io_uring instance that sends one buffer to many sockets
// in one system call (IORING_OP_SEND with MSG_DONTWAIT: each send takes
// what the socket buffer holds and completes during the submission, as a
// non-blocking write(2) would). On this machine's virtualised kernel a
// system call's entry and exit alone cost ~1.5–2 µs, a third of a small
// loopback write, and a room frame goes to every recipient
// (docs/design.md, "Fan-out in one system call").
type sendRing struct {
	fd                     int
	sqHead, sqTail, sqMask *uint32
	sqArray, sqes          unsafe.Pointer
	cqHead, cqTail, cqMask *uint32
	cqes                   unsafe.Pointer
	size                   int // SQ entries: the most sends per submission
	mem                    [][]byte
}

const (
	sysIOUringSetup = 425 // the same number on every architecture Go supports
	sysIOUringEnter = 426

	ioringOpSend         = 26
	ioringEnterGetEvents = 1
	ioringSetupSubmitAll = 1 << 7
	ioringOffSQEs        = 0x10000000

	ringEntries = 256
)

// ioUringParams is struct io_uring_params.
type ioUringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  [10]uint32 // head, tail, ring_mask, ring_entries, flags, dropped, array, resv1, user_addr
	cqOff                                                                  [10]uint32 // head, tail, ring_mask, ring_entries, overflow, cqes, flags, resv1, user_addr
}

// ioUringSQE is struct io_uring_sqe (64 bytes).
type ioUringSQE struct {
	opcode, flags uint8
	ioprio        uint16
	fd            int32
	off, addr     uint64
	len, msgFlags uint32
	userData      uint64
	bufIndex      uint16
	personality   uint16
	spliceFDIn    int32
	addr3, pad    uint64
}

// ioUringCQE is struct io_uring_cqe (16 bytes).
type ioUringCQE struct {
	userData uint64
	res      int32
	flags    uint32
}

func newSendRing() (*sendRing, error) {
	var p ioUringParams
	p.flags = ioringSetupSubmitAll // one failed send must not stop the rest
	fd, _, e := syscall.Syscall(sysIOUringSetup, ringEntries, uintptr(unsafe.Pointer(&p)), 0)
	if e != 0 {
		return nil, e
	}
	r := &sendRing{fd: int(fd), size: int(p.sqEntries)}
	ringLen := max(p.sqOff[6]+p.sqEntries*4, p.cqOff[5]+p.cqEntries*uint32(unsafe.Sizeof(ioUringCQE{})))
	rings, err := syscall.Mmap(r.fd, 0, int(ringLen), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		r.close()
		return nil, err
	}
	r.mem = append(r.mem, rings)
	sqes, err := syscall.Mmap(r.fd, ioringOffSQEs, int(p.sqEntries)*int(unsafe.Sizeof(ioUringSQE{})), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		r.close()
		return nil, err
	}
	r.mem = append(r.mem, sqes)
	base := unsafe.Pointer(&rings[0])
	at := func(off uint32) *uint32 { return (*uint32)(unsafe.Add(base, off)) }
	r.sqHead, r.sqTail, r.sqMask = at(p.sqOff[0]), at(p.sqOff[1]), at(p.sqOff[2])
	r.sqArray = unsafe.Add(base, p.sqOff[6])
	r.sqes = unsafe.Pointer(&sqes[0])
	r.cqHead, r.cqTail, r.cqMask = at(p.cqOff[0]), at(p.cqOff[1]), at(p.cqOff[2])
	r.cqes = unsafe.Add(base, p.cqOff[5])
	return r, nil
}

func (r *sendRing) close() {
	for _, m := range r.mem {
		_ = syscall.Munmap(m)
	}
	r.mem = nil
	_ = syscall.Close(r.fd)
}

// send sends buf to each of fds (at most r.size) without blocking and
// sets res[i] to what send(2) would have returned for fds[i]: the bytes
// taken or -errno; resNotSent if it was not sent (write it another way);
// resUnknown if it was sent but its result is lost (the connection's
// stream is in doubt). The caller keeps every fd open until it returns.
// false: the ring failed and must not be used again.
func (r *sendRing) send(fds []int32, buf []byte, res []int32) bool {
	n := uint32(len(fds))
	for i := range res {
		res[i] = resNotSent
	}
	tail := atomic.LoadUint32(r.sqTail)
	mask := *r.sqMask
	addr := uint64(uintptr(unsafe.Pointer(unsafe.SliceData(buf))))
	for i, fd := range fds {
		idx := (tail + uint32(i)) & mask
		*(*ioUringSQE)(unsafe.Add(r.sqes, uintptr(idx)*unsafe.Sizeof(ioUringSQE{}))) = ioUringSQE{
			opcode: ioringOpSend, fd: fd, addr: addr, len: uint32(len(buf)),
			msgFlags: syscall.MSG_DONTWAIT | syscall.MSG_NOSIGNAL, userData: uint64(i),
		}
		*(*uint32)(unsafe.Add(r.sqArray, uintptr(idx)*4)) = idx
	}
	atomic.StoreUint32(r.sqTail, tail+n) // publishes the entries to the kernel
	// Sends with MSG_DONTWAIT complete within the submission, so this
	// call neither waits nor hands the P off (RawSyscall). An error means
	// nothing was submitted.
	var submitted uintptr
	e := syscall.EINTR
	for e == syscall.EINTR {
		submitted, _, e = syscall.RawSyscall6(sysIOUringEnter, uintptr(r.fd), uintptr(n), 0, ioringEnterGetEvents, 0, 0)
	}
	if e != 0 {
		return false // the entries stay queued in the ring: drop it
	}
	for i := range res[:submitted] {
		res[i] = resUnknown
	}
	// Should any still be pending, wait for it as a blocking call.
	for got := r.reap(res); got < uint32(submitted); got += r.reap(res) {
		_, _, e := syscall.Syscall6(sysIOUringEnter, uintptr(r.fd), 0, uintptr(uint32(submitted)-got), ioringEnterGetEvents, 0, 0)
		if e != 0 && e != syscall.EINTR {
			return false
		}
	}
	return uint32(submitted) == n
}

// reap moves the completions there are into res and returns their number.
func (r *sendRing) reap(res []int32) uint32 {
	head := atomic.LoadUint32(r.cqHead)
	tail := atomic.LoadUint32(r.cqTail)
	for i := head; i != tail; i++ {
		c := (*ioUringCQE)(unsafe.Add(r.cqes, uintptr(i&*r.cqMask)*unsafe.Sizeof(ioUringCQE{})))
		res[c.userData] = c.res
	}
	atomic.StoreUint32(r.cqHead, tail)
	return tail - head
}

// sendRings lends rings to concurrent fan-outs: as many as there are
// senders at once (few: the goroutines that broadcast), each kept for
// reuse. None once io_uring proved missing or forbidden here
// (sendRingsOff): then every fan-out writes socket by socket.
var sendRings struct {
	mu    sync.Mutex
	free  []*sendRing
	count int
}

// ringSetup makes a ring (tests: one that fails, as where io_uring is
// forbidden).
var ringSetup = newSendRing

// maxSendRings bounds the rings (a fan-out finding none free writes
// socket by socket).
const maxSendRings = 8

// getSendRing lends a ring, or nil.
func getSendRing() *sendRing {
	sendRings.mu.Lock()
	defer sendRings.mu.Unlock()
	if n := len(sendRings.free); n > 0 {
		r := sendRings.free[n-1]
		sendRings.free = sendRings.free[:n-1]
		return r
	}
	if sendRings.count >= maxSendRings {
		return nil
	}
	r, err := ringSetup()
	if err != nil {
		// Missing or forbidden (no such call, seccomp, io_uring_disabled,
		// a kernel without SUBMIT_ALL) is for good; out of descriptors or
		// memory (a connection flood) is for now: a later fan-out retries.
		switch err {
		case syscall.ENOSYS, syscall.EPERM, syscall.EACCES, syscall.EINVAL:
			sendRingsOff.Store(true)
		}
		return nil
	}
	sendRings.count++
	return r
}

// putSendRing returns a lent ring; a failed one is closed.
func putSendRing(r *sendRing, ok bool) {
	sendRings.mu.Lock()
	defer sendRings.mu.Unlock()
	if !ok {
		sendRings.count--
		r.close()
		return
	}
	sendRings.free = append(sendRings.free, r)
}
