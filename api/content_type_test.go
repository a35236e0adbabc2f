package api_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
)

// TestJSONEndpointsRefuseOtherContentTypes: a body not labelled
// application/json is refused with 415 and a detail, and changes nothing, so
// a hostile page cannot post to the API without a CORS preflight. The
// charset parameter is fine.
func TestJSONEndpointsRefuseOtherContentTypes(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		bob := s.SignUp("Bob")
		var n note
		s.JSON("POST", "/api/v1/notes/create", bob.Token, map[string]any{"title": "kept"}, http.StatusOK, &n)
		c := newChat(s, bob.Token, map[string]any{"title": "kept"})
		post := func(path, token, ctype, body string) (int, string, string) {
			req, err := http.NewRequest("POST", s.URL+path, strings.NewReader(body))
			require.NoError(t, err)
			if ctype != "" {
				req.Header.Set("Content-Type", ctype)
			}
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := s.Client.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
		}
		before := take(t, s)
		for _, ctype := range []string{"text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "", "application/jsonx"} {
			for _, c := range []struct{ path, token, body string }{
				{"/api/v1/auths/signup", "", `{"name":"Eve","email":"eve@example.com","password":"12345678"}`},
				{"/api/v1/auths/signin", "", `{"email":"` + bob.Email + `","password":"` + quiretest.Password + `"}`},
				{"/api/v1/notes/create", bob.Token, `{"title":"planted"}`},
				{"/api/v1/notes/" + n.ID + "/update", bob.Token, `{"title":"changed"}`},
				{"/api/v1/notes/" + n.ID + "/access/update", bob.Token, `{"access_grants":[]}`},
				{"/api/v1/chats/new", bob.Token, `{"chat":{"title":"planted"}}`},
				{"/api/v1/chats/" + c.ID, bob.Token, `{"chat":{"title":"changed"}}`},
			} {
				code, rtype, body := post(c.path, c.token, ctype, c.body)
				require.Equal(t, http.StatusUnsupportedMediaType, code, "%s %q: %s", c.path, ctype, body)
				require.Equal(t, "application/json", rtype)
				require.Contains(t, body, `"detail":`)
			}
		}
		require.Equal(t, before, take(t, s), "no refused request changed anything")
		var chats []chatTitle
		s.JSON("GET", "/api/v1/chats/", bob.Token, nil, http.StatusOK, &chats)
		require.Len(t, chats, 1)
		require.Equal(t, "kept", chats[0].Title)

		code, _, body := post("/api/v1/notes/"+n.ID+"/update", bob.Token, "application/json; charset=utf-8", `{"title":"changed"}`)
		require.Equal(t, http.StatusOK, code, body)
		code, _, body = post("/api/v1/auths/signin", "", "Application/JSON", `{"email":"`+bob.Email+`","password":"`+quiretest.Password+`"}`)
		require.Equal(t, http.StatusOK, code, body)
	})
}
