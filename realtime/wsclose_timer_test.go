package realtime_test

import (
	"context"
	"testing"
	"time"

	"github.com/quire/quire/realtime"
)

// A websocket close that ends by itself stops its hardClose timer: the
// timer held the socket (and all it references) until the bound passed,
// for every socket closed. Checked for a kick that waits for the writer
// (a client behind on its reads) and for Stop's closes, whose close frame
// is answered (idle clients, in no room or in one).
func TestWebSocketCloseStopsItsTimer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	realtime.SetWebSocketCloseBound(b.srv, time.Hour) // fires only if left armed
	doc := "note:" + b.note.ID
	w := dialRaw(t, b.url, b.tokens["writer"])
	behind := dialRaw(t, b.url, b.tokens["reader"])
	idle := dialRaw(t, b.url, b.tokens["owner"])
	fillBehind(t, b, doc, w, behind, 24)

	b.srv.DisconnectUser(b.users["reader"].ID) // the writer is busy: the close waits for it
	if err := behind.closed(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the kicked socket's close timer stopped", 10*time.Second, func() bool {
		return realtime.PendingCloseTimers(b.srv) == 0
	})

	for _, s := range []*rawSocket{w, idle} {
		go func() { _ = s.closed() }() // reads through to the close frame, then answers it
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.srv.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if n := realtime.PendingCloseTimers(b.srv); n != 0 {
		t.Errorf("%d close timers still armed after Stop closed every websocket", n)
	}
}
