package api_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/internal/nodetest"
	"github.com/quire/quire/quiretest"
)

// TestSocketIDsStorageCannotHold: a socket event whose note, chat, channel
// or message id holds NUL is refused as invalid_payload on either backend.
// PostgreSQL refuses such a query parameter with an error, and the handlers
// answered it as a server fault (unavailable), logging an error per event;
// events:channel answered not_joined for such a channel id and relayed
// such a message id to the channel.
func TestSocketIDsStorageCannotHold(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		bob := s.SignUp("Bob")
		note := s.CreateNote(bob.Token, "n", "m")
		var chat struct{ ID string }
		s.JSON("POST", "/api/v1/chats/new", bob.Token, map[string]any{"chat": map[string]any{"title": "c"}}, 200, &chat)
		ch := createChannel(s, bob.Token, map[string]any{"type": "group", "name": "g"})
		step := socketCalls(t, s, bob.Token)
		require.Equal(t, map[string]any{"ok": true}, step(`["join-channels",{}]`)["ack"])
		refused := map[string]any{"ok": false, "error": "invalid_payload"}
		for _, c := range []string{
			`["join-note",{"note_id":"` + note + `\u0000"}]`,
			`["events:chat",{"chat_id":"` + chat.ID + `\u0000","data":{"type":"last_read_at"}}]`,
			`["events:channel",{"channel_id":"` + ch.ID + `\u0000","data":{"type":"last_read_at"}}]`,
			`["events:channel",{"channel_id":"` + ch.ID + `","message_id":"m\u0000","data":{"type":"typing","data":{"typing":true}}}]`,
		} {
			require.Equal(t, refused, step(c)["ack"], c)
		}
		// The same events with the real ids still work.
		require.Equal(t, map[string]any{"ok": true}, step(`["join-note",{"note_id":"` + note + `"}]`)["ack"])
		require.Equal(t, map[string]any{"ok": true}, step(`["events:chat",{"chat_id":"` + chat.ID + `","data":{"type":"last_read_at"}}]`)["ack"])
		require.Equal(t, map[string]any{"ok": true}, step(`["events:channel",{"channel_id":"` + ch.ID + `","data":{"type":"last_read_at"}}]`)["ack"])
	})
}

// socketCalls starts testdata/socketcalls.mjs, one socket of token's
// account on s, and returns its step: a line [event, payload] in, the
// ack out (under "ack").
func socketCalls(t *testing.T, s *quiretest.Server, token string) func(string) map[string]any {
	t.Helper()
	script := nodetest.Start(t, filepath.Join("testdata", "socketcalls.mjs"), "ws"+s.URL[len("http"):], token)
	script.Ready()
	return script.Step
}
