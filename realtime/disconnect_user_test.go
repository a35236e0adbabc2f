package realtime_test

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/quire/quire/internal/nodetest"
	"github.com/quire/quire/realtime"
)

// DisconnectUser drops every live socket of that account at once and no
// other; Stop then closes the rest, within its deadline, on both
// transports.
func TestDisconnectUser(t *testing.T) {
	t.Parallel()
	eachTransport(t, func(t *testing.T, transport string) {
		b := setup(t, func(c *realtime.Config) { c.EnablePolling = transport == "polling" })
		s := nodetest.Start(t, filepath.Join("testdata", "revoke.mjs"), b.url, b.tokens["writer"], b.tokens["reader"], transport)
		s.Ready()
		b.srv.DisconnectUser(b.users["writer"].ID)
		var res struct {
			A1, A2, B bool
			A1Reason  string
			BEvents   int
		}
		s.Next(&res)
		if res.A1 || res.A2 || !res.B || res.BEvents != 0 {
			t.Errorf("after DisconnectUser: %+v", res)
		}
		// B's socket may still count: a polling server only notices a
		// vanished client at the ping timeout. Stop (in Cleanup) must not
		// hang on it.
		waitFor(t, "the account's sockets to be cleaned up", 20*time.Second, func() bool {
			return b.metric(t, "quire_realtime_connected_sockets", nil) <= 1
		})
	})
}

// A kicked socket.io-client hears why: "io server disconnect" (it does not
// reconnect by itself), on polling as on a websocket, also when the kick
// finds no long-poll pending (one was just answered with a relay). The
// library's polling transport put its CLOSE packet in the same response as
// the DISCONNECT, and the client, which handles a decoded packet a tick
// later, took the CLOSE first: "transport close", and it reconnected.
func TestKickedPollingClientHearsWhy(t *testing.T) {
	t.Parallel()
	eachTransport(t, func(t *testing.T, transport string) {
		b := setup(t, func(c *realtime.Config) { c.EnablePolling = transport == "polling" })
		doc := "note:" + b.note.ID
		const n = 4
		s := nodetest.Start(t, filepath.Join("testdata", "kicked.mjs"), b.url, b.tokens["writer"], doc, transport, strconv.Itoa(n))
		s.Ready()
		if transport == "polling" {
			waitFor(t, "every client's poll", 10*time.Second, func() bool { return realtime.PollsInFlight(b.srv) == n })
		}
		// The relay answers each pending poll; the kick follows at once.
		b.srv.Broadcast(doc, textUpdate(9, "x"), "")
		b.srv.DisconnectUser(b.users["writer"].ID)
		var res struct {
			Sockets []struct {
				Reason  string
				Relayed bool
			}
		}
		if s.Next(&res); len(res.Sockets) != n {
			t.Fatalf("report of %d sockets, want %d", len(res.Sockets), n)
		}
		for i, r := range res.Sockets {
			if !r.Relayed || r.Reason != "io server disconnect" {
				t.Errorf("socket %d: relayed %v, disconnect %q; want the relay, then io server disconnect", i, r.Relayed, r.Reason)
			}
		}
	})
}
