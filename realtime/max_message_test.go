package realtime_test

import (
	"context"
	"testing"
	"time"

	"github.com/quire/quire/realtime"
)

// A message over MaxMessageBytes gets an error ack "too_large" and is
// neither applied, stored nor relayed; the socket stays. A frame over the
// engine's hard limit (MaxMessageBytes + max(MaxMessageBytes, 1 MiB))
// closes that connection only.
func TestMaxMessageBytes(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *realtime.Config) { c.MaxMessageBytes = 64 << 10 })
	var r struct {
		BigAck, AfterAck, OtherAck map[string]any
		HardDisconnected           string
		OtherConnected             bool
		OtherUpdates               int
	}
	// 40,000 characters: an update of ~40 kB, ~160 kB as a JSON number
	// array; 400,000: ~1.6 MB, over 64 KiB + 1 MiB.
	node(t, &r, "maxsize.mjs", b.url, b.note.ID, b.tokens["writer"], b.tokens["owner"], "40000", "400000")
	if !equalJSON(r.BigAck, map[string]any{"ok": false, "error": "too_large"}) || !equalJSON(r.AfterAck, map[string]any{"ok": true}) {
		t.Errorf("over the limit: ack %v, then %v", r.BigAck, r.AfterAck)
	}
	if r.HardDisconnected == "" {
		t.Errorf("over the hard limit: not disconnected")
	}
	if !equalJSON(r.OtherAck, map[string]any{"ok": true}) || !r.OtherConnected || r.OtherUpdates != 0 {
		t.Errorf("other client: ack %v connected %v updates relayed %d", r.OtherAck, r.OtherConnected, r.OtherUpdates)
	}
	if got := b.metric(t, "quire_realtime_rejected_total", map[string]string{"reason": "too_large"}); got != 1 {
		t.Errorf("rejected too_large = %v, want 1", got)
	}
	st, err := b.store.LoadDocument(context.Background(), "note:"+b.note.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Records) != 1 { // the other client's small update
		t.Errorf("stored rows = %d, want 1", len(st.Records))
	}
	waitFor(t, "sockets to be cleaned up", 20*time.Second, func() bool {
		return b.metric(t, "quire_realtime_connected_sockets", nil) == 0
	})
}

// A frame past the engine's hard limit ends with the close code 1009 as
// the client sees it, even while the client is still sending the frame:
// the faults bench's ws client saw 1006 (the close lost to a reset).
func TestHardLimitCloseReachesTheSender(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *realtime.Config) { c.MaxMessageBytes = 64 << 10 }) // hard limit 1.06 MiB
	var r struct{ Code int }
	node(t, &r, "hardclose.mjs", b.url, b.tokens["writer"], "4000000")
	if r.Code != 1009 {
		t.Errorf("close code %d, want 1009", r.Code)
	}
}
