package realtime_test

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/quire/quire/internal/nodetest"
	"github.com/quire/quire/realtime"
)

// Stop closes each websocket with what was queued for it, then the close
// frame 1001 "going away": a client behind on its reads still gets every
// frame before the close, and a client idle at Stop sees 1001 too. Stop
// closed them without a close frame: clients saw 1006 (abnormal). The
// close's bound is lengthened here: the client behind reads 12 MB once
// Stop began, and under load (-race, parallel tests) that took longer than
// closeGrace (21 of 24 relays, then 1006), which is the bound working, not
// what this checks (TestStopNotHeldByAStuckClient does).
func TestStopClosesWebSocketsGoingAway(t *testing.T) {
	t.Parallel()
	b := setup(t)
	realtime.SetWebSocketCloseBound(b.srv, time.Minute)
	doc := "note:" + b.note.ID
	w := dialRaw(t, b.url, b.tokens["writer"])
	behind := dialRaw(t, b.url, b.tokens["reader"]) // reads only once Stop began
	idle := dialRaw(t, b.url, b.tokens["owner"])    // in no room
	const n = 24
	fillBehind(t, b, doc, w, behind, n)

	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		stopped <- b.srv.Stop(ctx)
	}()
	relays := 0
	var closeErr *websocket.CloseError
	for {
		mt, msg, err := behind.read()
		if err != nil {
			if !errors.As(err, &closeErr) {
				t.Fatalf("after %d relays: %v, want a close frame", relays, err)
			}
			break
		}
		if mt == websocket.TextMessage && strings.HasPrefix(string(msg), `42["ydoc:document:update"`) {
			relays++
		}
	}
	if relays != n || closeErr.Code != websocket.CloseGoingAway || closeErr.Text != "server shutting down" {
		t.Errorf("the client behind got %d of %d relays, then close %d %q; want all, then 1001 \"server shutting down\"",
			relays, n, closeErr.Code, closeErr.Text)
	}
	for name, s := range map[string]*rawSocket{"idle": idle, "writer": w} {
		var err error
		for err == nil {
			_, _, err = s.read()
		}
		if !errors.As(err, &closeErr) || closeErr.Code != websocket.CloseGoingAway {
			t.Errorf("%s: closed with %v, want 1001", name, err)
		}
	}
	if err := <-stopped; err != nil {
		t.Errorf("Stop: %v", err)
	}
}

// A client that stopped reading cannot hold Stop past its bound
// (closeGrace): Stop returns, within its context, with the client's
// frames still queued.
func TestStopNotHeldByAStuckClient(t *testing.T) {
	t.Parallel()
	b := setup(t)
	doc := "note:" + b.note.ID
	w := dialRaw(t, b.url, b.tokens["writer"])
	stuck := dialRaw(t, b.url, b.tokens["reader"]) // never reads again
	fillBehind(t, b, doc, w, stuck, 24)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.srv.Stop(ctx); err != nil {
		t.Errorf("Stop with a client that stopped reading: %v", err)
	}
	if n := realtime.WSCount(b.srv); n != 0 {
		t.Errorf("%d websockets left after Stop", n)
	}
}

// fillBehind joins w and reader to doc, then has w send n large updates:
// their relays to reader, which does not read, fill its socket and wait in
// the server's queues.
func fillBehind(t *testing.T, b *testBundle, doc string, w, reader *rawSocket, n int) {
	t.Helper()
	for _, s := range []*rawSocket{w, reader} {
		s.text(`421["ydoc:document:join",{"document_id":"` + doc + `"}]`)
		s.next("431[")
	}
	text := strings.Repeat("q", 128<<10)
	for i := range n {
		w.text(`42` + strconv.Itoa(100+i) + `["ydoc:document:update",{"document_id":"` + doc + `","update":` + intsJSON(textUpdate(byte(10+i), text)) + `}]`)
	}
	for i := range n { // stored and relayed: none is left for Stop to refuse
		w.next(`43` + strconv.Itoa(100+i) + `[`)
	}
	waitFor(t, "writes to find the reader's socket full", 20*time.Second, func() bool {
		return b.metric(t, "quire_realtime_socket_full_total", nil) >= 1
	})
}

// A real socket.io-client sees the server's stop as a clean close: on a
// websocket the close code 1001 (was 1006), on polling the Engine.IO CLOSE
// packet answering its pending poll; "transport close" on both.
func TestStopSeenBySocketIOClient(t *testing.T) {
	t.Parallel()
	eachTransport(t, func(t *testing.T, transport string) {
		b := setup(t, func(c *realtime.Config) { c.EnablePolling = transport == "polling" })
		s := nodetest.Start(t, filepath.Join("testdata", "shutdown.mjs"), b.url, b.tokens["writer"], transport)
		s.Ready()
		if transport == "polling" { // its long-poll is pending (a later one would find the server stopped)
			waitFor(t, "the client's poll", 10*time.Second, func() bool { return realtime.PollsInFlight(b.srv) == 1 })
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := b.srv.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		var res struct {
			Reason string
			Code   int
		}
		s.Next(&res)
		want := 1001
		if transport == "polling" {
			want = 0 // no close code: the CLOSE packet
		}
		if res.Reason != "transport close" || res.Code != want {
			t.Errorf("disconnect %+v, want transport close with code %d\n%s", res, want, s.Stderr())
		}
	})
}
