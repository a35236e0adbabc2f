package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
	"github.com/quire/quire/storage"
)

// TestChannelBodiesExactKeysAndUTF8 (found by FuzzChannelMessagePost): a
// channel body's fields were decoded into structs, whose keys
// encoding/json matches in any case, the last winning, and whose strings
// it reads with U+FFFD for bytes that are not UTF-8. {"content":"a",
// "Content":"b"} stored "b", which neither JSON.parse nor Open WebUI's
// server reads there, and a content with a stray byte was stored as
// another text than the one sent. Every channel route refuses both with
// 400 and a detail, and nothing changes.
func TestChannelBodiesExactKeysAndUTF8(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		admin, bob := s.SignUp("Admin"), s.SignUp("Bob")
		ch := createChannel(s, admin.Token, map[string]any{"name": "general"})
		m := post(s, admin.Token, ch.ID, map[string]any{"content": "hello"})
		msg := chans + ch.ID + "/messages/" + m.ID
		state := func() any {
			ctx := context.Background()
			chs, err := s.Store().ListChannels(ctx, storage.ListChannelsOptions{All: true})
			require.NoError(t, err)
			members, err := s.Store().ListChannelMembers(ctx, ch.ID)
			require.NoError(t, err)
			msgs, err := s.Store().ListMessages(ctx, ch.ID, 0, 0)
			require.NoError(t, err)
			reactions, err := s.Store().ListReactions(ctx, []string{m.ID})
			require.NoError(t, err)
			return []any{chs, members, msgs, reactions}
		}
		before := state()
		for _, c := range []struct{ path, body string }{
			{chans + "create", `{"name":"a","Name":""}`},
			{chans + "create", `{"name":"a","NAME":"b"}`},
			{chans + "create", "{\"name\":\"a\xff\"}"},
			{chans + ch.ID + "/update", `{"name":"a","nAme":"b"}`},
			{chans + ch.ID + "/update", "{\"description\":\"\xc3(\"}"},
			{chans + ch.ID + "/update", `{"is_private":false,"Is_Private":true}`},
			{chans + ch.ID + "/members/add", `{"user_ids":[],"User_IDs":["` + bob.ID + `"]}`},
			{chans + ch.ID + "/messages/post", `{"content":"a","Content":"b"}`},
			{chans + ch.ID + "/messages/post", `{"Content":"b"}`},
			{chans + ch.ID + "/messages/post", `{"content":"a","meſſage":1,"Data":{}}`}, // ſ folds to s; Data is data
			{chans + ch.ID + "/messages/post", "{\"content\":\"a\xf9\"}"},
			{chans + ch.ID + "/messages/post", "{\"content\":\"a\",\"\xf9\":\"\"}"},
			{msg + "/update", `{"content":"a","CONTENT":"b"}`},
			{msg + "/update", "{\"content\":\"\xed\xa0\x80\"}"}, // a surrogate in UTF-8 form is not UTF-8
			{msg + "/reactions/add", `{"name":"x","Name":"y"}`},
			{msg + "/reactions/add", "{\"name\":\"\xf0\x9f\"}"},
			{msg + "/pin", `{"is_pinned":true,"Is_pinned":false}`},
		} {
			r := s.Do("POST", c.path, admin.Token, c.body)
			require.Equal(t, http.StatusBadRequest, r.Status, "%s %q: %s", c.path, c.body, r.Body)
			require.NotEmpty(t, r.Detail(), "%s %q", c.path, c.body)
		}
		require.Equal(t, before, state(), "nothing was made or changed")

		// Other keys in any case, and text in any script, are fine.
		got := post(s, admin.Token, ch.ID, map[string]any{"content": "é😀", "Temp": 1, "DATA_x": 2})
		require.Equal(t, "é😀", got.Content)
	})
}
