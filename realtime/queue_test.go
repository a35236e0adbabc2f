package realtime_test

import (
	"testing"
	"time"

	"github.com/quire/quire/realtime"
)

// A socket whose events pile up past QueueSize is disconnected (each update
// waits for a durable commit, so a burst outruns a queue of 2).
func TestQueueOverflowDisconnects(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *realtime.Config) { c.QueueSize = 2 })
	var r struct{ Reason string }
	node(t, &r, "overflow.mjs", b.url, b.note.ID, b.tokens["writer"], "200")
	if r.Reason == "" {
		t.Fatal("not disconnected")
	}
	if got := b.metric(t, "quire_realtime_rejected_total", map[string]string{"reason": "queue_overflow"}); got < 1 {
		t.Errorf("rejected queue_overflow = %v", got)
	}
	waitFor(t, "socket cleanup", 20*time.Second, func() bool {
		return b.metric(t, "quire_realtime_connected_sockets", nil) == 0
	})
}
