package realtime_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/quire/quire/internal/nodetest"
	"github.com/quire/quire/storage"
)

// startNoteScript runs testdata/noteevents.mjs and lets the test drive
// it: each step writes a line to the script and decodes the line it prints
// back.
func startNoteScript(t *testing.T, b *testBundle) *nodetest.Script {
	t.Helper()
	s := nodetest.Start(t, filepath.Join("testdata", "noteevents.mjs"), b.url, b.note.ID,
		b.tokens["owner"], b.tokens["reader"], b.tokens["writer"])
	s.Ready()
	return s
}

// EmitNote: sockets in note:<id> get events:note (the NoteModel); a reader
// whose grant was revoked leaves the note's rooms first, through the leave
// path (awareness removal and ydoc:user:left), and gets no events:note; a
// socket that never sent join-note gets none either. Then NoteDeleted
// removes everyone from the deleted note's document.
func TestNoteEventsAndRevocation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	s := startNoteScript(t, b)
	doc := "note:" + b.note.ID

	// The owner renames the note and keeps only the writer's grant.
	writerOnly := []storage.AccessGrant{b.note.AccessGrants[1]}
	if err := b.store.SetNoteAccess(ctx, b.note.ID, writerOnly); err != nil {
		t.Fatal(err)
	}
	n, err := b.store.UpdateNote(ctx, b.note.ID, func(n *storage.Note) error { n.Title = "renamed"; return nil })
	if err != nil {
		t.Fatal(err)
	}
	b.srv.EmitNote(n)
	var rev map[string]any
	s.Send("revoked")
	s.Next(&rev)
	want := map[string]any{
		"ownerNote": map[string]any{"id": n.ID, "user_id": n.UserID, "title": "renamed", "data": map[string]any{}, "meta": map[string]any{},
			"access_grants": writerOnly, "created_at": n.CreatedAt, "updated_at": n.UpdatedAt},
		"removal":             map[string]any{"7": map[string]any{}},
		"left":                map[string]any{"document_id": doc, "user_id": b.users["reader"].ID},
		"readerLeft":          map[string]any{"document_id": doc, "user_id": b.users["reader"].ID},
		"readerAck":           map[string]any{"ok": false, "error": "not_joined"},
		"readerNotes":         0,
		"writerNotes":         0,
		"ownerAwarenessAfter": 2, // the reader's state, then its removal; nothing after
	}
	for k, v := range want {
		if !equalJSON(rev[k], v) {
			t.Errorf("%s = %v, want %v", k, rev[k], v)
		}
	}

	// Deleted while live: the owner is removed from the document; its next
	// update is refused as unknown_document and nothing is stored.
	if err := b.store.DeleteNote(ctx, b.note.ID); err != nil {
		t.Fatal(err)
	}
	if err := b.docs.Forget(ctx, doc); err != nil {
		t.Fatal(err)
	}
	b.srv.NoteDeleted(b.note.ID)
	var del map[string]any
	s.Send("deleted")
	s.Next(&del)
	for k, v := range map[string]any{
		"ownerLeft": map[string]any{"document_id": doc, "user_id": b.users["owner"].ID},
		"updateAck": map[string]any{"ok": false, "error": "unknown_document"},
		"joinAck":   map[string]any{"ok": false, "error": "unknown_document"},
	} {
		if !equalJSON(del[k], v) {
			t.Errorf("%s = %v, want %v", k, del[k], v)
		}
	}
	st, err := b.store.LoadDocument(ctx, doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Records) != 0 {
		t.Errorf("deleted note's document has %d stored rows", len(st.Records))
	}
}
