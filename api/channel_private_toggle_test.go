package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
)

// TestChannelMadePrivateDropsNonMembers: a public channel's room holds
// every account's sockets (join-channels enters the public channels); once
// its manager makes it private, the sockets of accounts that may no longer
// read it leave the room, so its messages reach members only (§9.7).
// Before the fix a non-member's open socket kept receiving them until it
// reconnected.
func TestChannelMadePrivateDropsNonMembers(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		admin, bob, eve := s.SignUp("Admin"), s.SignUp("Bob"), s.SignUp("Eve")
		town := createChannel(s, admin.Token, map[string]any{"name": "town", "user_ids": []string{bob.ID}})

		// 0 is Bob (a member), 1 is Eve (not one).
		ss := openSockets(t, s, bob.Token, eve.Token)
		okAck := map[string]any{"ok": true}
		for i := range 2 {
			require.Equal(t, okAck, ss.call(i, "join-channels", map[string]any{}))
		}
		post(s, admin.Token, town.ID, map[string]any{"content": "public"})
		ss.wait(0, "events:channel", 1)
		ss.wait(1, "events:channel", 1)
		require.Equal(t, []string{"events:channel"}, ss.seen(1), "Eve reads the public channel")

		s.JSON("POST", chans+town.ID+"/update", admin.Token, map[string]any{"is_private": true}, http.StatusOK, nil)
		s.JSON("GET", chans+town.ID+"/messages", eve.Token, nil, http.StatusForbidden, nil)
		post(s, admin.Token, town.ID, map[string]any{"content": "secret"})
		got := ss.wait(0, "events:channel", 2).(map[string]any)
		require.Equal(t, "secret", got["data"].(map[string]any)["data"].(map[string]any)["content"])
		require.Equal(t, []string{}, ss.seen(1), "Eve's socket hears nothing of the private channel")
	})
}
