package realtime_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// An event sent the moment the CONNECT reply arrives is answered, not met
// with a closed connection. The library sends the reply before it records
// the namespace, and force-closed connections whose first event fell in
// between (realtime/server.go, gatedConn). The window is a few instructions
// wide, so this finds it only on a loaded machine; gate_test.go checks the
// gate itself.
func TestEventRightAfterConnect(t *testing.T) {
	t.Parallel()
	b := setup(t)
	wsURL := "ws" + strings.TrimPrefix(b.url, "http") + "/ws/socket.io/?EIO=4&transport=websocket"
	const cycles, workers = 300, 6
	cycle := func() error {
		conn, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
		if err != nil {
			return err
		}
		defer conn.Close()
		_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
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
		if err := conn.WriteMessage(websocket.TextMessage, []byte(`40{"token":"`+b.tokens["owner"]+`"}`)); err != nil {
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
		t.Errorf("%d of %d connections failed, e.g. %v", len(failures), cycles, failures[:min(5, len(failures))])
	}
}
