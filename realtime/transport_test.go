package realtime_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/quire/quire/realtime"
)

// Websocket only by default; EnablePolling: polling only, no upgrade
// offered (shared/protocol.md §1.1).
func TestTransports(t *testing.T) {
	t.Parallel()
	get := func(t *testing.T, url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url + "/ws/socket.io/?EIO=4&transport=polling")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	t.Run("websocket only", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		if code, body := get(t, b.url); code != http.StatusBadRequest {
			t.Errorf("polling handshake: %d %s, want 400", code, body)
		}
	})
	t.Run("polling only", func(t *testing.T) {
		t.Parallel()
		skipPollingUnderRace(t)
		b := setup(t, func(c *realtime.Config) { c.EnablePolling = true })
		code, body := get(t, b.url)
		if code != http.StatusOK || !strings.Contains(body, `"upgrades":[]`) || !strings.Contains(body, `"pingInterval":25000`) ||
			!strings.Contains(body, `"pingTimeout":20000`) || !strings.Contains(body, `"maxPayload":33554432`) { // the engine's hard limit: 2 × 16 MiB
			t.Errorf("polling handshake: %d %s", code, body)
		}
	})
}
