package realtime_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// A client's first event, sent the moment the CONNECT reply arrives, is
// answered, not met with a closed connection: the library sends the reply
// before it records the namespace, and force-closed connections whose event
// fell in between (realtime/decoder.go). The hold must end when the
// namespace is recorded, never by the fallback wait, whatever the CONNECT
// looks like on the wire: small, over the 1 KB websocket read buffer, or
// split into many websocket fragments (and so many reads).
func TestEventRightAfterConnect(t *testing.T) {
	t.Parallel()
	b := setup(t)
	wsURL := socketURL(b.url)
	token := b.tokens["owner"]
	cases := []struct {
		name    string
		connect string
		dialer  websocket.Dialer
	}{
		{"small", `40{"token":"` + token + `"}`, websocket.Dialer{}},
		{"over 1 KB", `40{"token":"` + token + `","pad":"` + strings.Repeat("x", 1500) + `"}`, websocket.Dialer{}},
		// A 64-byte write buffer sends the CONNECT as several fragments.
		{"fragmented", `40{"token":"` + token + `"}`, websocket.Dialer{WriteBufferSize: 64}},
	}
	const cycles, workers = 60, 4
	for _, tc := range cases {
		cycle := func() error {
			conn, _, err := tc.dialer.Dial(wsURL, nil)
			if err != nil {
				return err
			}
			defer conn.Close()
			// Longer than the 10 s fallback: a hold that waits it out is
			// caught by the metric below, not by this deadline.
			_ = conn.SetReadDeadline(time.Now().Add(60 * time.Second))
			read := func(prefix string) error {
				for {
					_, msg, err := conn.ReadMessage()
					if err != nil {
						return fmt.Errorf("waiting for %q: %w", prefix, err)
					}
					if strings.HasPrefix(string(msg), prefix) {
						return nil
					}
				}
			}
			if err := read("0{"); err != nil {
				return err
			}
			if err := conn.WriteMessage(websocket.TextMessage, []byte(tc.connect)); err != nil {
				return err
			}
			if err := read("40{"); err != nil {
				return err
			}
			if err := conn.WriteMessage(websocket.TextMessage, []byte(`427["heartbeat",{}]`)); err != nil {
				return err
			}
			return read(`437[{"ok":true}]`)
		}
		var mu sync.Mutex
		var failures []string
		var wg sync.WaitGroup
		next := make(chan int)
		for range workers {
			wg.Go(func() {
				for i := range next {
					if err := cycle(); err != nil {
						mu.Lock()
						failures = append(failures, fmt.Sprintf("%d: %v", i, err))
						mu.Unlock()
					}
				}
			})
		}
		for i := range cycles {
			next <- i
		}
		close(next)
		wg.Wait()
		if len(failures) > 0 {
			t.Errorf("%s: %d of %d connections failed, e.g. %v", tc.name, len(failures), cycles, failures[:min(5, len(failures))])
		}
		for _, gate := range []string{"engine", "connect"} {
			if n := b.metric(t, "quire_realtime_gate_timeouts_total", map[string]string{"gate": gate}); n != 0 {
				t.Errorf("%s: %v %s gate(s) ran out instead of opening", tc.name, n, gate)
			}
		}
	}
}
