package api_test

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/internal/nodetest"
	"github.com/quire/quire/quiretest"
)

// Over REST, with real socket.io-client sockets: a rename reaches the
// sockets in note:<id> as events:note, without data.content (the frontend
// would replace its shared document with it) unless the request changed
// the content; revoking a reader's grant removes
// it from the note's rooms before the next events:note; deleting the note
// removes everyone from its live document, whose updates are then refused
// and not stored.
func TestNoteEventsOverREST(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		alice, bob, carol := s.SignUp("Alice"), s.SignUp("Bob"), s.SignUp("Carol")
		id := s.CreateNote(alice.Token, "first", "some text")
		s.Share(alice.Token, id, bob.ID, "read")

		script := nodetest.Start(t, filepath.Join("testdata", "notesocket.mjs"), "ws"+s.URL[len("http"):], id,
			alice.Token, bob.Token, carol.Token)
		script.Ready()
		step := script.Step

		// A rename that echoes the stored content back: no content event.
		s.JSON("POST", "/api/v1/notes/"+id+"/update", alice.Token, map[string]any{
			"title": "renamed", "data": map[string]any{"content": map[string]any{"md": "some text"}},
		}, http.StatusOK, nil)
		got := step("renamed")
		require.Equal(t, []any{"renamed"}, got["owner"])
		require.Equal(t, []any{"renamed"}, got["reader"])
		require.Equal(t, float64(0), got["other"], "a socket that did not join-note")
		require.Equal(t, []any{nil}, got["ownerContent"], "no data.content: the content did not change")

		s.JSON("POST", "/api/v1/notes/"+id+"/update", alice.Token, map[string]any{
			"data": map[string]any{"content": map[string]any{"md": "new text"}},
		}, http.StatusOK, nil)
		got = step("edited")
		require.Equal(t, []any{nil, map[string]any{"md": "new text"}}, got["ownerContent"], "a content edit carries it")

		s.JSON("POST", "/api/v1/notes/"+id+"/access/update", alice.Token, map[string]any{"access_grants": []any{}}, http.StatusOK, nil)
		got = step("revoked")
		require.Equal(t, []any{"renamed", "renamed", "renamed"}, got["owner"])
		require.Equal(t, []any{"renamed", "renamed"}, got["reader"], "no events:note after losing access")
		require.Nil(t, got["ownerContent"].([]any)[2], "a grant change carries no content")
		require.Equal(t, map[string]any{"ok": false, "error": "not_joined"}, got["readerUpdate"])

		s.JSON("DELETE", "/api/v1/notes/"+id+"/delete", alice.Token, nil, http.StatusOK, nil)
		got = step("deleted")
		require.Equal(t, map[string]any{"ok": false, "error": "unknown_document"}, got["ownerUpdate"])
		st, err := s.Store().LoadDocument(context.Background(), "note:"+id)
		require.NoError(t, err)
		require.Empty(t, st.Records)
	})
}
