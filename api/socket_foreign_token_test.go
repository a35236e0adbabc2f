package api_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
)

// TestSocketEventsRefuseAnotherAccountsToken: join-channels and join-note
// with another account's token in auth are refused as forbidden: the
// socket (Alice's) would join Bob's rooms, where Bob's sign-out and his
// removal from a channel or note never reach it (they look for Bob's
// sockets). The same events with the socket's own token still work.
func TestSocketEventsRefuseAnotherAccountsToken(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		alice, bob := s.SignUp("Alice"), s.SignUp("Bob")
		bobsNote := s.CreateNote(bob.Token, "private", "m")
		aliceNote := s.CreateNote(alice.Token, "own", "m")
		step := socketCalls(t, s, alice.Token)
		forbidden := map[string]any{"ok": false, "error": "forbidden"}
		withToken := func(tok string) string { return `"auth":{"token":"` + tok + `"}` }
		require.Equal(t, forbidden, step(`["join-channels",{` + withToken(bob.Token) + `}]`)["ack"])
		require.Equal(t, forbidden, step(`["join-note",{"note_id":"` + bobsNote + `",` + withToken(bob.Token) + `}]`)["ack"])
		okAck := map[string]any{"ok": true}
		require.Equal(t, okAck, step(`["join-channels",{` + withToken(alice.Token) + `}]`)["ack"])
		require.Equal(t, okAck, step(`["join-note",{"note_id":"` + aliceNote + `",` + withToken(alice.Token) + `}]`)["ack"])
		require.Equal(t, okAck, step(`["join-channels",{}]`)["ack"])
	})
}
