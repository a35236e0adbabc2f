package realtime_test

import (
	"strings"
	"testing"
)

// Two clients editing one Y.XmlFragment concurrently converge, and a late
// joiner gets the same full state.
func TestConverge(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var r struct {
		AcksOk, Acks int
		A, B, Late   string
	}
	node(t, &r, "converge.mjs", b.url, b.note.ID, b.tokens["writer"], b.tokens["owner"], b.tokens["reader"])
	if r.Acks == 0 || r.AcksOk != r.Acks {
		t.Errorf("%d of %d updates acknowledged ok", r.AcksOk, r.Acks)
	}
	if r.A != r.B || r.A != r.Late {
		t.Errorf("diverged:\nA    %s\nB    %s\nlate %s", r.A, r.B, r.Late)
	}
	if !strings.Contains(r.A, "a29") || !strings.Contains(r.A, "b29") {
		t.Errorf("edits missing: %s", r.A)
	}
}
