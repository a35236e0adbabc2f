package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
	"github.com/quire/quire/storage"
)

// TestNullBodyIsRefused: a body that is the JSON null is no object, like
// [] or 1: every route that reads a JSON body answers 400 and changes
// nothing. (encoding/json decodes a top-level null into a struct without
// an error and leaves it zero, so an update ran as if {} was sent: a note
// or channel was "updated" and its updated_at moved, a chat was cloned.)
func TestNullBodyIsRefused(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		admin, bob := s.SignUp("Admin"), s.SignUp("Bob")
		noteID := s.CreateNote(bob.Token, "kept", "text")
		grp := createChannel(s, bob.Token, map[string]any{"name": "g", "type": "group"})
		m := post(s, bob.Token, grp.ID, map[string]any{"content": "kept"})
		chatID := newChatID(s, bob.Token, map[string]any{"title": "kept"})
		mpath := chans + grp.ID + "/messages/" + m.ID

		readBack := func() (*storage.Channel, []chatTitle) {
			c, err := s.Store().GetChannel(context.Background(), grp.ID)
			require.NoError(t, err)
			var chats []chatTitle
			s.JSON("GET", "/api/v1/chats/", bob.Token, nil, http.StatusOK, &chats)
			return c, chats
		}
		chanBefore, chatsBefore := readBack()
		snap := take(t, s)

		for _, r := range []struct{ path, token string }{
			{"/api/v1/auths/signup", ""},
			{"/api/v1/auths/signin", ""},
			{"/api/v1/users/" + bob.ID + "/update/role", admin.Token},
			{"/api/v1/notes/create", bob.Token},
			{"/api/v1/notes/" + noteID + "/update", bob.Token},
			{"/api/v1/notes/" + noteID + "/access/update", bob.Token},
			{"/api/v1/auths/update/timezone", bob.Token},
			{"/api/v1/users/user/settings/update", bob.Token},
			{chans + "create", bob.Token},
			{chans + grp.ID + "/update", bob.Token},
			{chans + grp.ID + "/members/add", bob.Token},
			{chans + grp.ID + "/members/remove", bob.Token},
			{chans + grp.ID + "/messages/post", bob.Token},
			{mpath + "/update", bob.Token},
			{mpath + "/reactions/add", bob.Token},
			{mpath + "/pin", bob.Token},
			{"/api/v1/chats/new", bob.Token},
			{"/api/v1/chats/" + chatID, bob.Token},
			{"/api/v1/chats/" + chatID + "/clone", bob.Token},
			{"/api/v1/chats/" + chatID + "/fork", bob.Token},
			{"/api/v1/events/emit", admin.Token},
			{"/api/chat/completions", bob.Token},
		} {
			for _, body := range []string{"null", " \n null \n"} {
				resp := s.Do("POST", r.path, r.token, body)
				require.Equal(t, http.StatusBadRequest, resp.Status, "%s %q: %s", r.path, body, resp.Body)
				require.Equal(t, "request body must be a JSON object", resp.Detail(), r.path)
			}
		}

		chanAfter, chatsAfter := readBack()
		require.Equal(t, chanBefore, chanAfter, "the channel is as it was")
		require.Equal(t, chatsBefore, chatsAfter, "no chat was cloned or forked")
		require.Equal(t, snap, take(t, s), "no account or note changed")
		got := messages(s, bob.Token, grp.ID, "")
		require.Len(t, got, 1)
		require.Equal(t, "kept", got[0].Content)
		require.False(t, got[0].IsPinned)
	})
}
