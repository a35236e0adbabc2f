package realtime_test

import (
	"testing"
)

// ydoc:awareness:update: relayed to the others with the sender's account id,
// remembered for joiners, removed on leave and on disconnect with {} (never
// null: the stock editor's cursor plugin throws on it); a client id is the
// account's that sent it first; ydoc:user:joined has the stored name.
func TestAwareness(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var r map[string]any
	node(t, &r, "awareness.mjs", b.url, b.note.ID, b.tokens["writer"], b.tokens["reader"], b.tokens["owner"])
	doc := "note:" + b.note.ID
	okAck := map[string]any{"ok": true}
	forbidden := map[string]any{"ok": false, "error": "forbidden"}
	a, rd := b.users["writer"].ID, b.users["reader"].ID
	for _, c := range []struct {
		key  string
		want any
	}{
		{"aAck", okAck}, {"bAck", okAck}, {"cAck", okAck}, {"leaveAck", okAck},
		{"relayToB", map[string]any{"document_id": doc, "user_id": a, "states": map[string]any{"101": map[string]any{"user": map[string]any{"name": "a"}, "cursor": nil}}}},
		{"aEchoed", 0},
		{"snapshotToC", map[string]any{"101": map[string]any{"user": map[string]any{"name": "a"}, "cursor": nil}, "202": map[string]any{"user": map[string]any{"name": "b"}}}},
		{"cOrder", []string{"ydoc:document:state", "ydoc:awareness:update"}},
		{"joinedName", "reader"}, // the account's stored name, not the claimed "Mallory"
		{"removalOnLeave", map[string]any{"user_id": a, "states": map[string]any{"101": map[string]any{}}}},
		{"leftOnLeave", map[string]any{"document_id": doc, "user_id": a}},
		{"aAfterLeave", map[string]any{"ok": false, "error": "not_joined"}},
		{"removalOnDisconnect", map[string]any{"user_id": rd, "states": map[string]any{"202": map[string]any{}}}},
		{"leftOnDisconnect", map[string]any{"document_id": doc, "user_id": rd}},
		{"snapshotToD", map[string]any{"303": map[string]any{"user": map[string]any{"name": "c"}}}},
		{"dAwareness", []any{
			map[string]any{"303": map[string]any{"user": map[string]any{"name": "c"}}},
			map[string]any{"303": map[string]any{"user": map[string]any{"name": "c2"}}},
		}},
		{"foreignState", forbidden}, {"foreignRemoval", forbidden}, {"foreignMixed", forbidden},
		{"takeBack", okAck}, {"ownNull", okAck},
		// All C got since B2 came: the take-back and the {} removal, nothing of B2's.
		{"cSince", []any{
			map[string]any{"101": map[string]any{"user": map[string]any{"name": "a again"}}},
			map[string]any{"101": map[string]any{}},
		}},
	} {
		if !equalJSON(r[c.key], c.want) {
			t.Errorf("%s = %v, want %v", c.key, r[c.key], c.want)
		}
	}
}
