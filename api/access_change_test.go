package api_test

import (
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/internal/nodetest"
	"github.com/quire/quire/quiretest"
)

// Over REST, with real socket.io-client sockets that joined the note's
// document and never rejoin: a writer made a reader (access/update) gets
// error acks for its updates from then on, and nothing of them is stored
// or relayed, while the reader made a writer may write; the same again
// through notes/update with access_grants. The sockets cache their
// permission at join (realtime/access.go); this is the REST path that must
// invalidate it. Role changes and sign-out drop the account's sockets
// instead (TestRevocation, realtime's TestDisconnectUser).
func TestAccessChangeReachesJoinedSockets(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		alice, bob, carol := s.SignUp("Alice"), s.SignUp("Bob"), s.SignUp("Carol")
		id := s.CreateNote(alice.Token, "shared", "some text")
		grants := func(writer, reader quiretest.User) []map[string]string {
			return []map[string]string{
				{"principal_type": "user", "principal_id": writer.ID, "permission": "write"},
				{"principal_type": "user", "principal_id": reader.ID, "permission": "read"},
			}
		}
		s.JSON("POST", "/api/v1/notes/"+id+"/access/update", alice.Token,
			map[string]any{"access_grants": grants(bob, carol)}, http.StatusOK, nil)

		script := nodetest.Start(t, filepath.Join("..", "realtime", "testdata", "accesschange.mjs"), s.URL, id,
			bob.Token, carol.Token, alice.Token)
		step, send := script.Step, script.Send
		ready := step("")
		require.Equal(t, true, ready["ready"])
		require.Equal(t, map[string]any{"writer": map[string]any{"ok": true},
			"reader": map[string]any{"ok": false, "error": "forbidden"}}, ready["warm"])

		forbidden := map[string]any{"ok": false, "error": "forbidden"}
		okAck := map[string]any{"ok": true}
		for round, change := range []func(){
			func() { // bob → read, carol → write
				s.JSON("POST", "/api/v1/notes/"+id+"/access/update", alice.Token,
					map[string]any{"access_grants": grants(carol, bob)}, http.StatusOK, nil)
			},
			func() { // and back, along with a rename
				s.JSON("POST", "/api/v1/notes/"+id+"/update", alice.Token,
					map[string]any{"title": "renamed", "access_grants": grants(bob, carol)}, http.StatusOK, nil)
			},
		} {
			change()
			r := step("swap")
			require.Equal(t, float64(round+1), r["round"], "%v", r)
			require.Equal(t, forbidden, r["oldWriterAck"], "round %d: the downgraded writer's update", round+1)
			require.Equal(t, okAck, r["newWriterAck"], "round %d: the upgraded reader's update", round+1)
			require.Equal(t, okAck, r["oldWriterAwareness"], "round %d: the downgraded writer still reads", round+1)
			require.Equal(t, true, r["oldWriterGotNew"], "round %d: the downgraded writer still reads", round+1)
			require.Equal(t, float64(0), r["relayedFromOld"], "round %d: refused updates relayed", round+1)
			require.Contains(t, r["text"], r["newText"], "round %d", round+1)
			require.NotContains(t, r["text"], r["oldText"], "round %d: a refused update was stored", round+1)
		}
		send("done")
	})
}
