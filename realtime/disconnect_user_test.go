package realtime_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
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
