package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
)

// Over REST, with real socket.io-client sockets: a rename reaches the
// sockets in note:<id> as events:note; revoking a reader's grant removes
// it from the note's rooms before the next events:note; deleting the note
// removes everyone from its live document, whose updates are then refused
// and not stored.
func TestNoteEventsOverREST(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		alice, bob, carol := s.SignUp("Alice"), s.SignUp("Bob"), s.SignUp("Carol")
		id := s.CreateNote(alice.Token, "first", "some text")
		s.Share(alice.Token, id, bob.ID, "read")

		cmd := exec.Command("node", filepath.Join("testdata", "notesocket.mjs"), "ws"+s.URL[len("http"):], id,
			alice.Token, bob.Token, carol.Token)
		in, err := cmd.StdinPipe()
		require.NoError(t, err)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		var stderr bytes.Buffer // read only after Wait
		cmd.Stderr = &stderr
		require.NoError(t, cmd.Start())
		t.Cleanup(func() {
			in.Close()
			_ = cmd.Wait()
			if stderr.Len() > 0 { // e.g. "# stalled connect retried" (realtime/testdata/lib.mjs)
				t.Logf("node stderr: %s", stderr.String())
			}
		})
		lines := bufio.NewScanner(stdout)
		step := func(signal string) map[string]any {
			t.Helper()
			if signal != "" {
				_, err := io.WriteString(in, signal+"\n")
				require.NoError(t, err)
			}
			require.True(t, lines.Scan(), "script ended")
			var m map[string]any
			require.NoError(t, json.Unmarshal(lines.Bytes(), &m), lines.Text())
			return m
		}
		require.Equal(t, true, step("")["ready"])

		s.JSON("POST", "/api/v1/notes/"+id+"/update", alice.Token, map[string]any{"title": "renamed"}, http.StatusOK, nil)
		got := step("renamed")
		require.Equal(t, []any{"renamed"}, got["owner"])
		require.Equal(t, []any{"renamed"}, got["reader"])
		require.Equal(t, float64(0), got["other"], "a socket that did not join-note")

		s.JSON("POST", "/api/v1/notes/"+id+"/access/update", alice.Token, map[string]any{"access_grants": []any{}}, http.StatusOK, nil)
		got = step("revoked")
		require.Equal(t, []any{"renamed", "renamed"}, got["owner"])
		require.Equal(t, []any{"renamed"}, got["reader"], "no events:note after losing access")
		require.Equal(t, map[string]any{"ok": false, "error": "not_joined"}, got["readerUpdate"])

		s.JSON("DELETE", "/api/v1/notes/"+id+"/delete", alice.Token, nil, http.StatusOK, nil)
		got = step("deleted")
		require.Equal(t, map[string]any{"ok": false, "error": "unknown_document"}, got["ownerUpdate"])
		st, err := s.Store().LoadDocument(context.Background(), "note:"+id)
		require.NoError(t, err)
		require.Empty(t, st.Records)
	})
}
