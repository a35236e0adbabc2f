package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
)

// TestFormBodiesExactKeysAndUTF8: chat, clone/fork, account, role,
// time zone, settings, event and completion bodies were read by plain
// encoding/json, which matches a struct's keys in any case, the last
// winning, and reads a byte that is not UTF-8 as U+FFFD: {"chat":{…},
// "Chat":{…}} stored the second chat, {"title":"a","Title":"b"} cloned a
// chat titled "b", {"role":"user","Role":"admin"} made an admin, and a
// settings text with a stray byte was stored as another text. Every route
// refuses both with 400 and a detail, and nothing changes (as notes and
// channels: TestNoteBodiesExactKeysAndUTF8). Settings and completions are
// read into maps, which keep each key as sent, so only UTF-8 applies.
func TestFormBodiesExactKeysAndUTF8(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		admin, bob, carol := s.SignUp("Admin"), s.SignUp("Bob"), s.SignUp("Carol")
		c := newChat(s, bob.Token, frontendChat("Kept"))
		s.JSON("POST", "/api/v1/users/user/settings/update", bob.Token, map[string]any{"ui": map[string]any{"a": "b"}},
			http.StatusOK, nil)
		state := func() any {
			ctx := context.Background()
			users, err := s.Store().ListUsers(ctx)
			require.NoError(t, err)
			settings := map[string]string{}
			for _, u := range users {
				raw, err := s.Store().GetUserSettings(ctx, u.ID)
				require.NoError(t, err)
				settings[u.ID] = string(raw)
			}
			return []any{users, settings, chatSnapshot(t, s, true)}
		}
		before := state()
		chat := chatsPath + c.ID
		const pw = `"password":"` + quiretest.Password + `"`
		for _, r := range []struct{ path, token, body string }{
			{chatsPath + "new", bob.Token, `{"chat":{"title":"a"},"Chat":{"title":"b"}}`},
			{chatsPath + "new", bob.Token, "{\"chat\":{\"title\":\"a\"},\"x\xff\":1}"},
			{chat, bob.Token, `{"chat":{"title":"a"},"CHAT":{"title":"b"}}`},
			{chat, bob.Token, `{"chat":{"title":"a"},"folder_id":null,"Folder_ID":"f"}`},
			{chat, bob.Token, "{\"chat\":{\"title\":\"a\"},\"folder_id\":null,\"x\":\"\xc3(\"}"},
			{chat + "/clone", bob.Token, `{"title":"a","Title":"b"}`},
			{chat + "/clone", bob.Token, "{\"title\":\"a\xff\"}"},
			{chat + "/fork", bob.Token, `{"message_id":"u1","Message_ID":"nope"}`},
			{chat + "/fork", bob.Token, "{\"title\":\"\xed\xa0\x80\"}"}, // a surrogate in UTF-8 form
			{"/api/v1/auths/signup", "", `{"name":"n","email":"a@example.com",` + pw + `,"Email":"b@example.com"}`},
			{"/api/v1/auths/signup", "", "{\"name\":\"n\xff\",\"email\":\"c@example.com\"," + pw + "}"},
			{"/api/v1/auths/signin", "", `{"email":"` + bob.Email + `","password":"wrong","Password":"` + quiretest.Password + `"}`},
			{"/api/v1/auths/signin", "", `{"email":"` + bob.Email + `",` + pw + ",\"x\":\"\xf0\x9f\"}"},
			{"/api/v1/users/" + carol.ID + "/update/role", admin.Token, `{"role":"user","Role":"admin"}`},
			{"/api/v1/users/" + carol.ID + "/update/role", admin.Token, "{\"role\":\"admin\",\"x\":\"\xff\"}"},
			{"/api/v1/auths/update/timezone", bob.Token, `{"timezone":"no zone!","TimeZone":"Europe/Paris"}`},
			{"/api/v1/auths/update/timezone", bob.Token, "{\"timezone\":\"Europe/Paris\",\"x\":\"\xff\"}"},
			{"/api/v1/users/user/settings/update", bob.Token, "{\"ui\":{\"a\":\"b\xff\"}}"},
			{"/api/v1/events/emit", admin.Token, `{"user_id":"nobody","User_ID":"` + bob.ID + `","data":{"type":"x"}}`},
			{"/api/v1/events/emit", admin.Token, `{"user_id":"` + bob.ID + "\",\"data\":{\"type\":\"x\",\"data\":\"\xff\"}}"},
			{"/api/chat/completions", bob.Token, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\xff\"}]}"},
		} {
			got := s.Do("POST", r.path, r.token, r.body)
			require.Equal(t, http.StatusBadRequest, got.Status, "%s %q: %s", r.path, r.body, got.Body)
			require.NotEmpty(t, got.Detail(), "%s %q", r.path, r.body)
		}
		require.Equal(t, before, state(), "nothing was made or changed")

		// A map body keeps keys in any case, each as sent.
		s.JSON("POST", "/api/v1/users/user/settings/update", bob.Token, `{"ui":{},"UI":1}`, http.StatusOK, nil)
		var settings map[string]any
		s.JSON("GET", "/api/v1/users/user/settings", bob.Token, nil, http.StatusOK, &settings)
		require.Equal(t, map[string]any{"ui": map[string]any{}, "UI": 1.0}, settings)
	})
}
