package realtime_test

import (
	"testing"
	"time"

	"github.com/quire/quire/realtime"
)

// A message over MaxMessageBytes closes that connection only.
func TestMaxMessageBytes(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *realtime.Config) { c.MaxMessageBytes = 64 << 10 })
	var r struct {
		BigDisconnected string
		OtherAck        map[string]any
		OtherConnected  bool
	}
	// 40,000 characters: an update of ~40 kB, ~160 kB as a JSON number array.
	node(t, &r, "maxsize.mjs", b.url, b.note.ID, b.tokens["writer"], b.tokens["owner"], "40000")
	if r.BigDisconnected == "" {
		t.Errorf("big sender was not disconnected")
	}
	if !equalJSON(r.OtherAck, map[string]any{"ok": true}) || !r.OtherConnected {
		t.Errorf("other client: ack %v connected %v", r.OtherAck, r.OtherConnected)
	}
	waitFor(t, "sockets to be cleaned up", 5*time.Second, func() bool {
		return b.metric(t, "quire_realtime_connected_sockets", nil) == 0
	})
}
