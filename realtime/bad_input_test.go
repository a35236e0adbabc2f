package realtime_test

import (
	"strings"
	"testing"
)

// Malformed events get error acks, are counted, and neither disconnect the
// sender nor disturb another client editing the same document.
func TestBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var r struct {
		Acks        map[string]map[string]any
		AStillWorks map[string]any
		AConnected  bool
		BAcksOk     int
		BText       string
		BGotUpdates int
	}
	node(t, &r, "garbage.mjs", b.url, b.note.ID, b.tokens["writer"], b.tokens["owner"])
	want := map[string]string{
		"updateString":        "invalid_payload",
		"updateNumber":        "invalid_payload",
		"updateNull":          "invalid_payload",
		"updateArray":         "invalid_payload",
		"docIdNumber":         "unknown_document",
		"docIdObject":         "unknown_document",
		"updateAsString":      "invalid_update",
		"updateOver255":       "invalid_update",
		"updateNegative":      "invalid_update",
		"updateFraction":      "invalid_update",
		"updateNested":        "invalid_update",
		"updateDeep":          "invalid_update",
		"updateHugeJunk":      "invalid_update",
		"updateHostileLength": "invalid_update",
		"updateNeither":       "invalid_payload",
		"awarenessNotJSON":    "invalid_awareness",
		"awarenessNotObject":  "invalid_awareness",
		"awarenessBadKey":     "invalid_awareness",
		"awarenessOver255":    "invalid_awareness",
		"awarenessMissing":    "invalid_awareness",
		"userJoinString":      "invalid_payload",
		"userJoinBadToken":    "unauthenticated",
		"joinNoteMissing":     "invalid_payload",
		"unknownEvent":        "unknown_event",
		"leaveNotJoined":      "not_joined",
	}
	total := 0.0
	for k, reason := range want {
		if w := (map[string]any{"ok": false, "error": reason}); !equalJSON(r.Acks[k], w) {
			t.Errorf("%s: ack %v, want %v", k, r.Acks[k], w)
		}
	}
	if len(r.Acks) != len(want) {
		t.Errorf("got %d acks, want %d", len(r.Acks), len(want))
	}
	for _, reason := range []string{"invalid_payload", "unknown_document", "invalid_update", "invalid_awareness", "unauthenticated", "unknown_event", "not_joined"} {
		total += b.metric(t, "quire_realtime_rejected_total", map[string]string{"reason": reason})
	}
	if total != float64(len(want)) {
		t.Errorf("rejected_total sums to %v, want %d", total, len(want))
	}
	if !equalJSON(r.AStillWorks, map[string]any{"ok": true}) || !r.AConnected {
		t.Errorf("sender after garbage: ack %v connected %v", r.AStillWorks, r.AConnected)
	}
	if r.BAcksOk != 20 || r.BText != strings.Repeat("b", 20) {
		t.Errorf("other client: %d acks ok, text %q", r.BAcksOk, r.BText)
	}
	if r.BGotUpdates != 0 {
		t.Errorf("other client received %d relayed updates; garbage must not be relayed", r.BGotUpdates)
	}
}

// An update that is not a valid Yjs update is logged once, with the
// validator's reason (protocol.md §9.5): the faults bench's F3 counted two
// Warn lines for each, one of them from the document manager.
func TestInvalidUpdateLoggedOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	doc := "note:" + b.note.ID
	w := dialRaw(t, b.url, b.tokens["writer"])
	w.text(`421["ydoc:document:join",{"document_id":"` + doc + `"}]`)
	w.next("431[")
	w.text(`422["ydoc:document:update",{"document_id":"` + doc + `","update":[255,255,255,255,255,255,255,255,127,0]}]`)
	if ack := w.next("432"); ack != `432[{"error":"invalid_update","ok":false}]` {
		t.Fatalf("ack %s", ack)
	}
	warns := b.logs.containing("level=WARN")
	if len(warns) != 1 || !strings.Contains(warns[0], "reason=invalid_update") || !strings.Contains(warns[0], "varint longer than 53 bits") {
		t.Errorf("Warn lines %q, want one with the reason and the validator's detail", warns)
	}
}
