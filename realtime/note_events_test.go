package realtime_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/quire/quire/storage"
)

// noteScript runs testdata/noteevents.mjs and lets the test drive it: each
// step writes a line to the script and decodes the line it prints back.
type noteScript struct {
	t     *testing.T
	in    io.WriteCloser
	lines *bufio.Scanner
}

func startNoteScript(t *testing.T, b *testBundle) *noteScript {
	t.Helper()
	s := startScript(t, filepath.Join("testdata", "noteevents.mjs"), b.url, b.note.ID,
		b.tokens["owner"], b.tokens["reader"], b.tokens["writer"])
	var ready struct{ Ready bool }
	s.read(&ready)
	if !ready.Ready {
		t.Fatal("script not ready")
	}
	return s
}

// startScript runs a node script that the test drives line by line.
func startScript(t *testing.T, script string, args ...string) *noteScript {
	t.Helper()
	cmd := exec.Command("node", append([]string{script}, args...)...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = testWriter{t, nil}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); _ = cmd.Wait() })
	s := &noteScript{t: t, in: in, lines: bufio.NewScanner(stdout)}
	s.lines.Buffer(nil, 1<<20)
	return s
}

func (s *noteScript) read(out any) {
	s.t.Helper()
	if !s.lines.Scan() {
		s.t.Fatalf("script ended: %v", s.lines.Err())
	}
	if err := json.Unmarshal(s.lines.Bytes(), out); err != nil {
		s.t.Fatalf("bad script line %q: %v", s.lines.Text(), err)
	}
}

func (s *noteScript) step(signal string, out any) {
	s.t.Helper()
	if _, err := io.WriteString(s.in, signal+"\n"); err != nil {
		s.t.Fatal(err)
	}
	s.read(out)
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
	s.step("revoked", &rev)
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
	s.step("deleted", &del)
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
