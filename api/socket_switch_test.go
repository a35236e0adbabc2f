package api_test

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/internal/nodetest"
	"github.com/quire/quire/quiretest"
)

// socketSet runs realtime/testdata/sockets.mjs with one socket per token on s.
type socketSet struct {
	t    *testing.T
	step func(string) map[string]any
}

func openSockets(t *testing.T, s *quiretest.Server, tokens ...string) socketSet {
	t.Helper()
	script := nodetest.Start(t, filepath.Join("..", "realtime", "testdata", "sockets.mjs"), append([]string{"ws" + s.URL[len("http"):]}, tokens...)...)
	script.Ready()
	return socketSet{t, script.Step}
}

func (ss socketSet) do(op ...any) map[string]any {
	ss.t.Helper()
	b, err := json.Marshal(op)
	require.NoError(ss.t, err)
	got := ss.step(string(b))
	require.Nil(ss.t, got["error"], "sockets.mjs %s", b)
	return got
}

// call sends one event from socket i and returns its ack.
func (ss socketSet) call(i int, event string, payload any) any {
	return ss.do("call", i, event, payload)["ack"]
}

// wait returns socket i's n-th event of that name.
func (ss socketSet) wait(i int, event string, n int) any { return ss.do("wait", i, event, n)["data"] }

// seen lists the names of the events socket i received since the last
// look, after a round trip on it.
func (ss socketSet) seen(i int) []string {
	names := []string{}
	for _, e := range ss.do("seen", i)["events"].([]any) {
		names = append(names, e.(map[string]any)["name"].(string))
	}
	return names
}

// openNote joins socket i to channels, the note's room and its document.
func (ss socketSet) openNote(i int, noteID string) {
	ss.t.Helper()
	okAck := map[string]any{"ok": true}
	require.Equal(ss.t, okAck, ss.call(i, "join-channels", map[string]any{}))
	require.Equal(ss.t, okAck, ss.call(i, "join-note", map[string]any{"note_id": noteID}))
	require.Equal(ss.t, okAck, ss.call(i, "ydoc:document:join", map[string]any{"document_id": "note:" + noteID}))
}

func textUpdate(docID, text string) map[string]any {
	return map[string]any{"document_id": docID, "update": map[string]any{"$text": text}}
}

// TestUserJoinAnotherAccountLeavesItsRooms: a socket that joined a
// channel, a note and its document as Alice and then user-joins as Bob
// leaves them all: it was there as Alice, and Alice's removal from the
// channel, the note's access change and her sign-out look for Alice's
// sockets (user:<alice>), so they would never reach it. Before the fix it
// kept getting the channel's messages, the document's updates and the
// note's events, also after Alice lost access to both.
func TestUserJoinAnotherAccountLeavesItsRooms(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		s.SignUp("Admin") // admins read more; nobody below is one
		alice, bob, carol := s.SignUp("Alice"), s.SignUp("Bob"), s.SignUp("Carol")
		group := createChannel(s, carol.Token, map[string]any{"name": "pals", "type": "group", "user_ids": []string{alice.ID}})
		note := s.CreateNote(carol.Token, "shared", "text")
		s.Share(carol.Token, note, alice.ID, "write")
		doc := "note:" + note

		// 0 switches from Alice to Bob; 1 is Carol, who writes; 2 is
		// Alice's other tab, which sees what Alice's sockets get.
		ss := openSockets(t, s, alice.Token, carol.Token, alice.Token)
		for i := range 3 {
			ss.openNote(i, note)
		}
		post(s, carol.Token, group.ID, map[string]any{"content": "before"})
		ss.wait(2, "events:channel", 1)
		require.Contains(t, ss.seen(0), "events:channel", "as Alice, socket 0 is in the channel")

		// Queued back to back: the update before user-join runs as Alice
		// (who may write), the one after as Bob, who joined nothing.
		acks := ss.do("calls", 0, [][2]any{
			{"ydoc:document:update", textUpdate(doc, "as alice")},
			{"user-join", map[string]any{"auth": map[string]any{"token": bob.Token}}},
			{"ydoc:document:update", textUpdate(doc, "as bob")},
			{"ydoc:awareness:update", map[string]any{"document_id": doc, "update": []int{0}}},
		})["acks"].([]any)
		require.Equal(t, map[string]any{"ok": true}, acks[0])
		require.Equal(t, map[string]any{"ok": true, "id": bob.ID, "name": "Bob", "role": "user"}, acks[1])
		notJoined := map[string]any{"ok": false, "error": "not_joined"}
		require.Equal(t, notJoined, acks[2], "Bob never joined the document")
		require.Equal(t, notJoined, acks[3])
		// The document's room hears Alice's socket leave, as on ydoc:document:leave.
		left := ss.wait(1, "ydoc:user:left", 1).(map[string]any)
		require.Equal(t, map[string]any{"document_id": doc, "user_id": alice.ID}, left)
		require.Equal(t, alice.ID, ss.wait(1, "ydoc:document:update", 1).(map[string]any)["user_id"])
		require.Equal(t, []string{}, ss.seen(0))

		// The channel, the document and the note carry on without socket 0.
		post(s, carol.Token, group.ID, map[string]any{"content": "after the switch"})
		ss.wait(2, "events:channel", 2)
		require.Equal(t, map[string]any{"ok": true}, ss.call(1, "ydoc:document:update", textUpdate(doc, "carol")))
		ss.wait(2, "ydoc:document:update", 2) // its own, then Carol's
		s.JSON("POST", "/api/v1/notes/"+note+"/update", carol.Token, map[string]any{"title": "renamed"}, http.StatusOK, nil)
		ss.wait(2, "events:note", 1)
		require.Equal(t, []string{}, ss.seen(0), "socket 0 is Bob's now")

		// Alice loses both and signs out: nothing of it reaches socket 0.
		s.JSON("POST", chans+group.ID+"/members/remove", carol.Token, map[string]any{"user_ids": []string{alice.ID}}, http.StatusOK, nil)
		s.JSON("POST", "/api/v1/notes/"+note+"/access/update", carol.Token, map[string]any{"access_grants": []any{}}, http.StatusOK, nil)
		s.JSON("GET", "/api/v1/auths/signout", alice.Token, nil, http.StatusOK, nil)
		ss.wait(2, "disconnect", 1)
		post(s, carol.Token, group.ID, map[string]any{"content": "after the removal"})
		ss.wait(1, "events:channel", 3) // before, after the switch, now
		require.Equal(t, []string{}, ss.seen(0))

		// And it gets what is Bob's: a group Carol opens with him.
		bobs := createChannel(s, carol.Token, map[string]any{"name": "bob", "type": "group", "user_ids": []string{bob.ID}})
		post(s, carol.Token, bobs.ID, map[string]any{"content": "hi Bob"})
		ss.wait(0, "events:channel", 2) // channel:created, the message
		require.Equal(t, []string{"events:channel", "events:channel"}, ss.seen(0))
	})
}

// TestUserJoinSameAccountKeepsRooms: user-join with a fresh token of the
// socket's own account (a token refresh) keeps its channels, note and
// document: it still gets their events and may still edit.
func TestUserJoinSameAccountKeepsRooms(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		s.SignUp("Admin")
		alice, carol := s.SignUp("Alice"), s.SignUp("Carol")
		group := createChannel(s, carol.Token, map[string]any{"name": "pals", "type": "group", "user_ids": []string{alice.ID}})
		note := s.CreateNote(carol.Token, "shared", "text")
		s.Share(carol.Token, note, alice.ID, "write")
		doc := "note:" + note

		ss := openSockets(t, s, alice.Token, carol.Token)
		ss.openNote(0, note)
		ss.openNote(1, note)
		require.Equal(t, map[string]any{"ok": true, "id": alice.ID, "name": "Alice", "role": "user"},
			ss.call(0, "user-join", map[string]any{"auth": map[string]any{"token": s.SignIn(alice.Email)}}))

		post(s, carol.Token, group.ID, map[string]any{"content": "hi"})
		ss.wait(0, "events:channel", 1)
		require.Equal(t, map[string]any{"ok": true}, ss.call(1, "ydoc:document:update", textUpdate(doc, "carol")))
		require.Equal(t, carol.ID, ss.wait(0, "ydoc:document:update", 1).(map[string]any)["user_id"])
		s.JSON("POST", "/api/v1/notes/"+note+"/update", carol.Token, map[string]any{"title": "renamed"}, http.StatusOK, nil)
		ss.wait(0, "events:note", 1)
		require.Equal(t, map[string]any{"ok": true}, ss.call(0, "ydoc:document:update", textUpdate(doc, "alice")))
		require.Equal(t, alice.ID, ss.wait(1, "ydoc:document:update", 1).(map[string]any)["user_id"])
		require.NotContains(t, ss.seen(1), "ydoc:user:left")
	})
}
