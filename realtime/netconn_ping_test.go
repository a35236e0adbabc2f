package realtime_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/quire/quire/storage"
)

// A client's websocket PING gets its PONG, and a room frame written inline
// more than 1 s later still goes out. With gorilla, the pong left a 1 s
// write deadline on the connection, which the inline writer clears when
// expired (wsNetConn.Write); it used to fail with a timeout, and the
// connection was closed as a transport error.
func TestClientPingKeepsInlineWrites(t *testing.T) {
	tb := setup(t)
	owner := tb.users["owner"]
	ch := tb.privateGroup(t, "x", storage.ChannelMember{UserID: owner.ID})
	c := dialEngine(t, tb)
	waitFor(t, "auth", 30*time.Second, func() bool { return tb.presence.Sockets() == 1 })
	tb.srv.JoinChannel(ch.ID, []string{owner.ID})
	tb.srv.EmitChannel(ch.ID, []byte(`{"n":1}`), owner.ID)
	c.read(`42["events:channel",{"n":1`)

	if err := c.conn.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	// Past the pong's deadline (gorilla's 1 s): a slower machine only
	// waits longer, which the old code fails the same way.
	time.Sleep(1500 * time.Millisecond)
	tb.srv.EmitChannel(ch.ID, []byte(`{"n":2}`), owner.ID)
	for {
		_, msg, err := c.conn.ReadMessage()
		if err != nil {
			t.Fatalf("connection lost instead of event 2: %v", err)
		}
		if strings.HasPrefix(string(msg), `42["events:channel",{"n":2`) {
			return
		}
	}
}
