package realtime_test

import (
	"strconv"
	"testing"
)

// A burst of updates is handled, acknowledged and relayed in the order sent;
// the last one arrives as a binary attachment and is relayed as numbers.
func TestDocumentUpdateBurstInOrder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const n = 200
	var r struct {
		AcksOk      int
		AcksInOrder bool
		Received    int
		InOrder     bool
		AllInts     bool
		Text, Want  string
		LateText    string
	}
	node(t, &r, "burst.mjs", b.url, b.note.ID, b.tokens["writer"], b.tokens["reader"], strconv.Itoa(n))
	if r.AcksOk != n || !r.AcksInOrder {
		t.Errorf("acks: %d ok, in order %v", r.AcksOk, r.AcksInOrder)
	}
	if r.Received != n || !r.InOrder || !r.AllInts {
		t.Errorf("relay: received %d, in order %v, all int arrays %v", r.Received, r.InOrder, r.AllInts)
	}
	if r.Text != r.Want || len(r.Want) != n {
		t.Errorf("reader text %q, want %q", r.Text, r.Want)
	}
	if r.LateText != r.Want {
		t.Errorf("late joiner text %q, want %q", r.LateText, r.Want)
	}
}
