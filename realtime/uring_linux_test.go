package realtime

import (
	"bytes"
	"io"
	"net"
	"slices"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// ringPair is tcpPair's server side as a descriptor (for the ring) and a
// *net.TCPConn, and its client end.
func ringPair(t *testing.T) (int32, *net.TCPConn, net.Conn) {
	t.Helper()
	w, client := tcpPair(t)
	var fd int32
	_ = w.raw.Control(func(f uintptr) { fd = int32(f) })
	return fd, w.Conn.(*net.TCPConn), client
}

// One submission sends the buffer to every socket and reports each one's
// result as send(2) would: whole, short or refused when the socket is
// full, an error for a socket whose peer left, EBADF for no
// descriptor, without holding up the others.
func TestSendRingResults(t *testing.T) {
	r, err := newSendRing()
	if err != nil {
		t.Skipf("io_uring unavailable here: %v", err)
	}
	defer r.close()
	msg := bytes.Repeat([]byte("frame "), 200)

	okFD, _, okPeer := ringPair(t)
	fullFD, full, _ := ringPair(t)
	// Fill the socket whose peer never reads, until it takes nothing.
	if err := full.SetWriteBuffer(4096); err != nil {
		t.Fatal(err)
	}
	filler := make([]byte, 1<<16)
	for {
		// Sendto, not SYS_SENDTO, which linux/386 lacks (socketcall).
		e := syscall.Sendto(int(fullFD), filler, syscall.MSG_DONTWAIT, nil)
		if e == syscall.EAGAIN {
			break
		}
		if e != nil {
			t.Fatal(e)
		}
	}
	goneFD, gone, _ := ringPair(t)
	if err := gone.CloseWrite(); err != nil { // sending on it is EPIPE
		t.Fatal(err)
	}
	fds := []int32{okFD, fullFD, goneFD, -1, okFD}
	res := make([]int32, len(fds))
	if !r.send(fds, msg, res) {
		t.Fatal("the ring failed")
	}
	if res[0] != int32(len(msg)) || res[4] != int32(len(msg)) {
		t.Errorf("the reading socket: %d and %d, want %d each", res[0], res[4], len(msg))
	}
	if res[1] != -int32(syscall.EAGAIN) {
		t.Errorf("the full socket: %d, want -EAGAIN", res[1])
	}
	if res[2] != -int32(syscall.EPIPE) {
		t.Errorf("the socket shut for writing: %d, want -EPIPE", res[2])
	}
	if res[3] != -int32(syscall.EBADF) {
		t.Errorf("no descriptor: %d, want -EBADF", res[3])
	}
	got := make([]byte, 2*len(msg))
	if _, err := io.ReadFull(okPeer, got); err != nil || !bytes.Equal(got, append(append([]byte{}, msg...), msg...)) {
		t.Errorf("the reading socket's peer got %q (%v)", got, err)
	}

	// The ring is reusable: more submissions than it has entries in all.
	for range 3 * ringEntries / len(fds) {
		if !r.send(fds[:1], msg[:10], res[:1]) || res[0] != 10 {
			t.Fatalf("reuse: %d", res[0])
		}
		if _, err := io.ReadFull(okPeer, got[:10]); err != nil || !bytes.Equal(got[:10], msg[:10]) {
			t.Fatalf("reuse: the peer got %q (%v)", got[:10], err)
		}
	}
}

// A connection whose flush failed is closed by that flush before the
// socket hears of it (wsNetConn.failed): no batch may claim it then, or
// it sends on a descriptor number a new connection may already have,
// into a stranger's stream.
func TestBatchSkipsConnectionItsFlushClosed(t *testing.T) {
	if r, err := newSendRing(); err != nil {
		t.Skipf("io_uring unavailable here: %v", err)
	} else {
		r.close()
	}
	srv := bareServer(t)
	wc, client := tcpPair(t)
	ws := newWSSocket(srv, wc.Conn)
	told, release := make(chan error, 1), make(chan struct{})
	ws.wnc.failed = func(err error) { told <- err; <-release; ws.writeFailed(err) }
	defer close(release)

	// More than the sockets hold, to a client that does not read: the
	// rest is the connection's flush's, which fails once the client resets.
	ws.push(wsItem{wire: make([]byte, 16<<20), shared: true})
	if !ws.wnc.busy() {
		t.Fatal("16 MB to a client that does not read left nothing to flush")
	}
	_ = client.(*net.TCPConn).SetLinger(0)
	_ = client.Close()
	if err := <-told; err == nil {
		t.Fatal("the flush failed without an error")
	}

	// A new connection likely has the closed descriptor's number.
	stranger, peer := tcpPair(t)
	var strangerFD int32
	_ = stranger.raw.Control(func(fd uintptr) { strangerFD = int32(fd) })
	other, _ := tcpPair(t) // a batch of one is written without the ring
	frame := newSharedFrame([]byte(`2["x",{}]`))
	var b *wsBatch
	ws.sendShared(frame, &b)
	newWSSocket(srv, other.Conn).sendShared(frame, &b)
	claimed := b != nil && slices.Contains(b.socks, ws)
	if b != nil {
		b.write(frame.wire)
	}
	if !claimed {
		return
	}
	t.Errorf("a batch claimed a connection its flush had closed (fd %d; a new connection's: %d)", ws.fd, strangerFD)
	if strangerFD == ws.fd {
		// What the stranger's peer reads first: its own bytes, or the frame.
		if _, err := stranger.Conn.Write([]byte("mine")); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 4)
		if _, err := io.ReadFull(peer, got); err != nil {
			t.Fatal(err)
		}
		if string(got) != "mine" {
			t.Errorf("the new connection's peer read %q before its own bytes", got)
		}
	}
}

// Where io_uring is forbidden, the first fan-out learns it after taking
// its recipients' turns: it writes to each of them as push would, ends
// their turns, and later fan-outs no longer batch. Not parallel: it
// swaps the process's ring setup (no parallel test runs meanwhile).
func TestSendRingSetupFails(t *testing.T) {
	failRingSetup(t, syscall.EPERM)
	srv := bareServer(t)
	var socks []*wsSocket
	var peers []net.Conn
	for range 3 {
		wc, peer := tcpPair(t)
		socks, peers = append(socks, newWSSocket(srv, wc.Conn)), append(peers, peer)
	}
	var frames [][]byte
	for i, pkt := range []string{`2["a",1]`, `2["b",2]`} {
		frame := newSharedFrame([]byte(pkt))
		frames = append(frames, frame.wire)
		var b *wsBatch
		for _, ws := range socks {
			ws.sendShared(frame, &b)
		}
		if (b != nil) != (i == 0) {
			t.Fatalf("fan-out %d batched: %v; want only the first to try", i, b != nil)
		}
		if b != nil {
			b.write(frame.wire)
		}
		for j, ws := range socks {
			if ws.mu.Lock(); ws.running {
				t.Errorf("fan-out %d, socket %d: its writer turn was not given back", i, j)
			}
			ws.mu.Unlock()
		}
	}
	// Read after both: a frame lost by the first shows as the second's.
	for j, p := range peers {
		for i, want := range frames {
			got := make([]byte, len(want))
			if _, err := io.ReadFull(p, got); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("socket %d, frame %d: got %q (%v), want %q", j, i, got, err, want)
			}
		}
	}
}

// The ring's structures are the kernel's (include/uapi/linux/io_uring.h):
// a field at another offset would be read or written as a different one.
func TestRingABILayout(t *testing.T) {
	var p ioUringParams
	var s ioUringSQE
	var c ioUringCQE
	for _, f := range []struct {
		name      string
		got, want uintptr
	}{
		{"sizeof(io_uring_params)", unsafe.Sizeof(p), 120},
		{"io_uring_params.sq_off", unsafe.Offsetof(p.sqOff), 40},
		{"io_uring_params.cq_off", unsafe.Offsetof(p.cqOff), 80},
		{"sizeof(io_uring_sqe)", unsafe.Sizeof(s), 64},
		{"io_uring_sqe.fd", unsafe.Offsetof(s.fd), 4},
		{"io_uring_sqe.addr", unsafe.Offsetof(s.addr), 16},
		{"io_uring_sqe.len", unsafe.Offsetof(s.len), 24},
		{"io_uring_sqe.msg_flags", unsafe.Offsetof(s.msgFlags), 28},
		{"io_uring_sqe.user_data", unsafe.Offsetof(s.userData), 32},
		{"io_uring_sqe.addr3", unsafe.Offsetof(s.addr3), 48},
		{"sizeof(io_uring_cqe)", unsafe.Sizeof(c), 16},
		{"io_uring_cqe.res", unsafe.Offsetof(c.res), 8},
	} {
		if f.got != f.want {
			t.Errorf("%s = %d, want %d", f.name, f.got, f.want)
		}
	}
}

// A ring setup that fails for want of descriptors or memory (a connection
// flood) does not turn batching off for the life of the process: a later
// fan-out tries again. Not parallel: see TestSendRingSetupFails.
func TestSendRingSetupOutOfDescriptors(t *testing.T) {
	failRingSetup(t, syscall.EMFILE)
	if r := getSendRing(); r != nil {
		t.Fatal("a ring from a failing setup")
	}
	if !sendRingsOn() {
		t.Error("batching is off for good after EMFILE")
	}
}

// failRingSetup makes ring setups fail with err, with no free ring to
// lend, until the test ends.
func failRingSetup(t *testing.T, err error) {
	sendRings.mu.Lock() // getSendRing reads ringSetup under it
	free, setup, wasOff := sendRings.free, ringSetup, sendRingsOff.Load()
	sendRings.free = nil
	ringSetup = func() (*sendRing, error) { return nil, err }
	sendRingsOff.Store(false)
	sendRings.mu.Unlock()
	t.Cleanup(func() {
		sendRings.mu.Lock()
		ringSetup = setup
		sendRingsOff.Store(wasOff)
		sendRings.free = append(sendRings.free, free...)
		sendRings.mu.Unlock()
	})
}

// A batched send whose result is lost (resUnknown: part of the frame may
// be on the wire) ends the connection: nothing queued behind the frame is
// written after it, and the client sees the connection close.
func TestBatchLostResultEndsConnection(t *testing.T) {
	srv := bareServer(t)
	wc, client := tcpPair(t)
	ws := newWSSocket(srv, wc.Conn)
	if !ws.claimInline() {
		t.Fatal("an idle connection was not claimed")
	}
	ws.push(wsItem{wire: []byte("queued behind the batch"), shared: true}) // waits for the turn
	ws.sent([]byte("frame"), resUnknown)
	_ = client.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(client)
	if len(got) != 0 || err != nil {
		t.Errorf("the client read %q (%v), want the connection closed with nothing written", got, err)
	}
}

// bareServer is enough of a Server for a wsSocket made by hand.
func bareServer(t *testing.T) *Server {
	t.Helper()
	met, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &Server{cfg: Config{MaxMessageBytes: 1 << 20}, met: met}
}
