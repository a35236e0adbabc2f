package realtime_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quire/quire/realtime"
)

// DisconnectUser drops every live socket of that account at once and no
// other; Stop then closes the rest, within its deadline, on both
// transports.
func TestDisconnectUser(t *testing.T) {
	t.Parallel()
	eachTransport(t, func(t *testing.T, transport string) {
		b := setup(t, func(c *realtime.Config) { c.EnablePolling = transport == "polling" })
		cmd := exec.Command("node", filepath.Join("testdata", "revoke.mjs"), b.url, b.tokens["writer"], b.tokens["reader"], transport)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer // read only after Wait
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(stdout)
		var ready, res struct {
			Ready     bool
			A1, A2, B bool
			A1Reason  string
			BEvents   int
		}
		if !lines.Scan() || json.Unmarshal(lines.Bytes(), &ready) != nil || !ready.Ready {
			t.Fatalf("client not ready: %q", lines.Text())
		}
		b.srv.DisconnectUser(b.users["writer"].ID)
		if !lines.Scan() || json.Unmarshal(lines.Bytes(), &res) != nil {
			t.Fatalf("bad report %q", lines.Text())
		}
		_ = cmd.Wait()
		if stderr.Len() > 0 { // e.g. "# stalled connect retried" (testdata/lib.mjs)
			t.Logf("revoke.mjs stderr: %s", stderr.String())
		}
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
		cmd := exec.Command("node", filepath.Join("testdata", "kicked.mjs"), b.url, b.tokens["writer"], doc, transport, strconv.Itoa(n))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		lines := bufio.NewScanner(stdout)
		if !lines.Scan() || !strings.Contains(lines.Text(), `"ready":true`) {
			t.Fatalf("client not ready: %q %s", lines.Text(), stderr.String())
		}
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
		if !lines.Scan() || json.Unmarshal(lines.Bytes(), &res) != nil || len(res.Sockets) != n {
			t.Fatalf("bad report %q %s", lines.Text(), stderr.String())
		}
		for i, s := range res.Sockets {
			if !s.Relayed || s.Reason != "io server disconnect" {
				t.Errorf("socket %d: relayed %v, disconnect %q; want the relay, then io server disconnect", i, s.Relayed, s.Reason)
			}
		}
	})
}
