package realtime_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/quire/quire/internal/nodetest"
	"github.com/quire/quire/realtime"
	"github.com/quire/quire/storage"
)

// Each socket gets what is sent to it in the order it was sent, whichever
// way it went: the room fan-out (one frame queued on each connection
// directly, transport_ws.go) or the library's own emit (its engine socket,
// then the transport's Send), with several publishers at once (each
// publisher's own order, at every socket). And a server-side close waits
// for what was queued before it: every socket gets the last event, then
// the server's disconnect, not a cut connection.
func TestFanoutKeepsOrder(t *testing.T) {
	t.Parallel()
	const sockets, publishers, per = 40, 4, 150
	tb := setup(t)
	owner := tb.users["writer"]
	ch := tb.privateGroup(t, "order", storage.ChannelMember{UserID: owner.ID})
	s := nodetest.Start(t, filepath.Join("testdata", "order.mjs"), tb.url, tb.tokens["writer"],
		strconv.Itoa(sockets), strconv.Itoa(publishers*per), "close")
	var ready struct{ Ready int }
	if s.Next(&ready); ready.Ready != sockets {
		t.Fatalf("ready: %d sockets", ready.Ready)
	}
	waitFor(t, "every socket authenticated", 30*time.Second, func() bool { return tb.presence.Sockets() == sockets })
	tb.srv.JoinChannel(ch.ID, []string{owner.ID})

	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for i := range per {
				payload := fmt.Appendf(nil, `{"p":%d,"i":%d}`, p, i)
				if i%3 == 2 {
					realtime.EmitEachSocket(tb.srv, ch.ID, "events:channel", payload)
				} else {
					tb.srv.EmitChannel(ch.ID, payload, owner.ID)
				}
			}
		})
	}
	wg.Wait()
	var got struct{ Received, OutOfOrder, Complete int }
	s.Next(&got)
	if got.Received != sockets*publishers*per || got.OutOfOrder != 0 || got.Complete != sockets {
		t.Errorf("got %+v, want %d events, none out of order, %d sockets complete", got, sockets*publishers*per, sockets)
	}
	switch n := tb.metric(t, "quire_realtime_batched_sends_total", nil); {
	case realtime.IOUringForbidden() && (realtime.BatchedSendsOn() || n != 0):
		t.Errorf("io_uring forbidden, yet batching is on (%v) and %v frames were batched: the fallback was not tested", realtime.BatchedSendsOn(), n)
	case realtime.BatchedSendsOn() && n == 0:
		t.Error("no frame went through a batched fan-out: the batch path was not tested")
	}

	tb.srv.EmitChannel(ch.ID, []byte(`{"p":-1,"i":0}`), owner.ID)
	tb.srv.DisconnectUser(owner.ID)
	var closed struct{ ServerDisconnects, FinalFirst int }
	s.Next(&closed)
	if closed.ServerDisconnects != sockets || closed.FinalFirst != sockets {
		t.Errorf("closed %+v: want all %d sockets to get the last event, then the server's disconnect", closed, sockets)
	}
}

// A client that stops reading holds up no one else: the room fan-out writes
// each recipient's frames from the sender's goroutine while the
// connection's socket takes them, and once one is full its rest waits on a
// goroutine of that connection only (netconn_ws.go). 120 updates of 24 KB
// of text are ~11 MB of frames per recipient, far past the socket buffers
// of the stalled one, which then reads again and must get them all, intact.
func TestStalledClientDoesNotHoldFanout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var r struct {
		Updates, Received, StalledBefore, StalledReceived int
		StalledInOrder                                    bool
	}
	node(t, &r, "stalled.mjs", b.url, b.note.ID, b.tokens["writer"], "120", "24")
	if r.Updates == 0 || r.Received != r.Updates {
		t.Fatalf("the reading client got %d of %d updates", r.Received, r.Updates)
	}
	if r.StalledBefore == r.Updates || r.StalledReceived != r.Updates || !r.StalledInOrder {
		t.Errorf("the stalled client had %d updates while stalled, then %d of %d (in order: %v): want what was kept for it, whole and in order",
			r.StalledBefore, r.StalledReceived, r.Updates, r.StalledInOrder)
	}
	if got := b.metric(t, "quire_realtime_socket_full_total", nil); got < 1 {
		t.Errorf("socket_full_total = %v: the stalled client's socket never filled, nothing was tested", got)
	}
}

// Where io_uring is forbidden (its setup fails), the first fan-out finds
// out and every fan-out writes socket by socket: order, the close after
// the last event, and a stalled client's kept rest are as with batching.
// Run in a child process of this test binary, whose ring setups all fail
// (the switch is process-wide).
func TestFanoutWithoutIOUring(t *testing.T) {
	if realtime.IOUringForbidden() || !realtime.BatchedSendsOn() {
		t.Skip("fan-outs here write socket by socket already")
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^(TestFanoutKeepsOrder|TestStalledClientDoesNotHoldFanout)$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), realtime.ForbidIOUringEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || bytes.Count(out, []byte("--- PASS")) != 2 {
		t.Fatalf("without io_uring: %v\n%s", err, out)
	}
}
