package realtime_test

import (
	"bytes"
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/quire/quire/realtime"
)

// Stop with clients that do not answer its close frame waits for their
// replies through the poller, with no goroutine each: it started one per
// connection, blocked in a read for up to closeReplyWait (20,000 sockets,
// 20,000 goroutines and their stacks at once). The waits leave nothing
// behind in the poller. Not parallel: the counts are the process's.
func TestStopAwaitsRepliesWithoutAGoroutineEach(t *testing.T) {
	b := setup(t)
	polled := realtime.PolledCount()
	const n = 40
	for range n {
		dialRaw(t, b.url, b.tokens["owner"]) // never reads again: no close reply
	}
	if realtime.PolledCount() < polled+n {
		t.Skip("the poller does not read these connections")
	}
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		stopped <- b.srv.Stop(ctx)
	}()
	most, buf := 0, make([]byte, 8<<20)
	for {
		select {
		case err := <-stopped:
			if err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if most > 0 {
				t.Errorf("%d goroutines at once were parked awaiting close replies, want none", most)
			}
			if p := realtime.PolledCount(); p != polled {
				t.Errorf("the poller holds %d connections after Stop, want %d as before", p, polled)
			}
			return
		case <-time.After(5 * time.Millisecond):
		}
		most = max(most, lingering(buf))
	}
}

// lingering counts the goroutines parked in a read of a closed websocket,
// awaiting its client's close reply.
func lingering(buf []byte) int {
	n := 0
	for _, g := range bytes.Split(buf[:runtime.Stack(buf, true)], []byte("\n\n")) {
		if bytes.Contains(g, []byte("[IO wait")) && bytes.Contains(g, []byte("(*wsSocket).linger(")) {
			n++
		}
	}
	return n
}
