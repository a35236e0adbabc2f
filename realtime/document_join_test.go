package realtime_test

import (
	"testing"
)

// ydoc:document:join, join-note and the write check of
// ydoc:document:update, by access level.
func TestDocumentJoinAccess(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var r struct {
		StrangerJoin, StrangerNoteJoin, StrangerState, StrangerUpdate map[string]any
		StrangerGotState                                              int
		ReaderJoin, ReaderNoteJoin, WriterJoin, UnderscoreJoin        map[string]any
		OtherDoc, Missing                                             map[string]any
		ReaderUpdate, ReaderContentOnly, WriterUpdate                 map[string]any
		WriterContentOnly                                             map[string]any
		ReaderGotState                                                []struct {
			DocumentID string `json:"document_id"`
			State      []int
			Sessions   int
		}
		WriterGotUpdates int
		RelayedMatches   bool
		Relayed          struct {
			DocumentID string `json:"document_id"`
			SocketID   bool   `json:"socket_id"`
			UserID     string `json:"user_id"`
		}
		Joined   []map[string]any
		LateText string
	}
	node(t, &r, "access.mjs", b.url, b.note.ID, b.tokens["reader"], b.tokens["stranger"], b.tokens["writer"])

	okAck := map[string]any{"ok": true}
	errAck := func(reason string) map[string]any { return map[string]any{"ok": false, "error": reason} }
	for _, c := range []struct {
		name      string
		got, want map[string]any
	}{
		{"stranger join", r.StrangerJoin, errAck("forbidden")},
		{"stranger join-note", r.StrangerNoteJoin, errAck("forbidden")},
		{"stranger state", r.StrangerState, errAck("not_joined")},
		{"stranger update", r.StrangerUpdate, errAck("not_joined")},
		{"reader join", r.ReaderJoin, okAck},
		{"reader join-note", r.ReaderNoteJoin, okAck},
		{"writer join", r.WriterJoin, okAck},
		{"note_ spelling", r.UnderscoreJoin, okAck},
		{"non-note document", r.OtherDoc, errAck("unknown_document")},
		{"missing note", r.Missing, errAck("unknown_document")},
		{"reader update", r.ReaderUpdate, errAck("forbidden")},
		{"reader content-only update", r.ReaderContentOnly, okAck},
		{"writer update", r.WriterUpdate, okAck},
		{"writer content-only update", r.WriterContentOnly, okAck},
	} {
		if !equalJSON(c.got, c.want) {
			t.Errorf("%s: ack %v, want %v", c.name, c.got, c.want)
		}
	}
	doc := "note:" + b.note.ID
	if r.StrangerGotState != 0 {
		t.Errorf("stranger got %d states", r.StrangerGotState)
	}
	if len(r.ReaderGotState) != 1 || r.ReaderGotState[0].DocumentID != doc || r.ReaderGotState[0].Sessions != 1 {
		t.Errorf("reader states: %+v", r.ReaderGotState)
	}
	if r.LateText != "writer" {
		t.Errorf("late joiner text %q, want only the writer's edit", r.LateText)
	}
	if r.WriterGotUpdates != 0 {
		t.Errorf("writer received %d updates, want 0 (reader's refused, own not echoed)", r.WriterGotUpdates)
	}
	if !r.RelayedMatches || r.Relayed.DocumentID != doc || !r.Relayed.SocketID || r.Relayed.UserID != b.users["writer"].ID {
		t.Errorf("relayed: %+v matches=%v", r.Relayed, r.RelayedMatches)
	}
	// The stored name, not the "n" the client claimed.
	want := map[string]any{"document_id": doc, "user_id": b.users["writer"].ID, "user_name": "writer", "user_color": "#123456"}
	if len(r.Joined) < 1 || !equalJSON(r.Joined[0], want) {
		t.Errorf("reader saw user:joined %v, want first %v", r.Joined, want)
	}
	if got := b.metric(t, "quire_realtime_rejected_total", map[string]string{"reason": "forbidden"}); got != 3 {
		t.Errorf("rejected forbidden = %v, want 3", got)
	}
}
