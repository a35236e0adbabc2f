package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
	"github.com/quire/quire/server"
)

// raw sends a request with exactly these headers (no token unless given)
// and returns the answer read in full.
func raw(t *testing.T, s *quiretest.Server, method, path string, header map[string]string, body string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	require.NoError(t, err)
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := s.Client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

func tokenCookie(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == "token" {
			return c
		}
	}
	t.Fatalf("no token cookie in %v", resp.Header.Values("Set-Cookie"))
	return nil
}

func cookieHeader(tok string) map[string]string { return map[string]string{"Cookie": "token=" + tok} }

// TestAppConfig: GET /api/config answers everyone; onboarding only while
// no account exists; a signed-in user (cookie or Bearer) gets the app's
// fields, which the frontend reads without guards; a token that does not
// verify counts as none (the app must still boot).
func TestAppConfig(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		var cfg map[string]any
		s.JSON("GET", "/api/config", "", nil, http.StatusOK, &cfg)
		require.Equal(t, true, cfg["onboarding"], "no account yet")
		require.Equal(t, true, cfg["status"])
		require.Equal(t, "Quire", cfg["name"])
		require.Equal(t, "dev", cfg["version"])
		require.Equal(t, map[string]any{"providers": map[string]any{}}, cfg["oauth"])
		features := cfg["features"].(map[string]any)
		for _, k := range []string{"auth", "enable_signup", "enable_login_form", "enable_websocket"} {
			require.Equal(t, true, features[k], k)
		}
		require.NotContains(t, features, "enable_notes", "the app's features only for the signed-in")
		require.NotContains(t, cfg, "audio")

		admin := s.SignUp("Admin")
		cfg = map[string]any{}
		s.JSON("GET", "/api/config", "", nil, http.StatusOK, &cfg)
		require.NotContains(t, cfg, "onboarding", "an account exists")

		for name, header := range map[string]map[string]string{
			"cookie": cookieHeader(admin.Token),
			"bearer": {"Authorization": "Bearer " + admin.Token},
		} {
			resp, body := raw(t, s, "GET", "/api/config", header, "")
			require.Equal(t, http.StatusOK, resp.StatusCode, name)
			cfg = map[string]any{}
			require.NoError(t, json.Unmarshal(body, &cfg))
			features = cfg["features"].(map[string]any)
			require.Equal(t, true, features["enable_notes"], name)
			require.Equal(t, true, features["enable_channels"], name)
			require.Equal(t, false, features["enable_folders"], name)
			require.Equal(t, float64(1), cfg["user_count"], name) // before Pat signs up
			require.Equal(t, "", cfg["audio"].(map[string]any)["tts"].(map[string]any)["engine"], name)
			require.Contains(t, cfg["file"], "image_compression", name)
			require.Equal(t, true, cfg["permissions"].(map[string]any)["features"].(map[string]any)["notes"], name)
			require.Equal(t, "", cfg["default_models"], name)
		}

		// A pending account gets its overlay's texts, not the app's fields.
		pat := s.SignUp("Pat")
		s.JSON("POST", "/api/v1/users/"+pat.ID+"/update/role", admin.Token, map[string]string{"role": "pending"}, http.StatusOK, nil)
		cfg = map[string]any{}
		s.JSON("GET", "/api/config", s.SignIn(pat.Email), nil, http.StatusOK, &cfg)
		require.Equal(t, map[string]any{"pending_user_overlay_title": "", "pending_user_overlay_content": ""}, cfg["ui"])
		require.NotContains(t, cfg["features"], "enable_notes")
		require.NotContains(t, cfg, "permissions")

		// A revoked or forged token is no error: the sign-in page's config.
		stale := s.SignIn(admin.Email)
		s.JSON("POST", "/api/v1/auths/signout", stale, nil, http.StatusOK, nil)
		for _, tok := range []string{stale, "not-a-token"} {
			resp, body := raw(t, s, "GET", "/api/config", cookieHeader(tok), "")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			cfg = map[string]any{}
			require.NoError(t, json.Unmarshal(body, &cfg))
			require.NotContains(t, cfg["features"], "enable_notes")
		}

		var v map[string]string
		s.JSON("GET", "/api/version", "", nil, http.StatusOK, &v)
		require.Equal(t, map[string]string{"version": "dev", "deployment_id": "quire-dev"}, v)
	})
}

// TestAppConfigSignupDisabled: with sign-up off the sign-in page offers it
// only for the first account.
func TestAppConfigSignupDisabled(t *testing.T) {
	t.Parallel()
	s := quiretest.New(t, quiretest.WithConfig(func(c *server.Config) { c.SignupDisabled = true }))
	var cfg map[string]any
	s.JSON("GET", "/api/config", "", nil, http.StatusOK, &cfg)
	require.Equal(t, true, cfg["features"].(map[string]any)["enable_signup"], "the first account may sign up")
	s.SignUp("Admin")
	cfg = map[string]any{}
	s.JSON("GET", "/api/config", "", nil, http.StatusOK, &cfg)
	require.Equal(t, false, cfg["features"].(map[string]any)["enable_signup"])
}

// TestSessionFields: sign-up, sign-in and GET /auths/ answer the session
// user as the frontend stores it; unknown sign-up fields are ignored.
func TestSessionFields(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		s.SignUp("Admin")
		var u map[string]any
		s.JSON("POST", "/api/v1/auths/signup", "", map[string]string{
			"name": "Bob", "email": "bob@example.com", "password": quiretest.Password, "profile_image_url": "data:image/png;base64,xyz",
		}, http.StatusOK, &u)
		id := u["id"].(string)
		check := func(u map[string]any) {
			t.Helper()
			require.Equal(t, "user", u["role"])
			require.Equal(t, "/api/v1/users/"+id+"/profile/image", u["profile_image_url"])
			require.Greater(t, u["expires_at"].(float64), float64(0))
			require.Equal(t, "Bearer", u["token_type"])
			perms := u["permissions"].(map[string]any)
			require.Equal(t, true, perms["features"].(map[string]any)["notes"])
			require.Equal(t, true, perms["sharing"].(map[string]any)["notes"])
			require.Equal(t, false, perms["sharing"].(map[string]any)["public_notes"])
			require.Equal(t, true, perms["access_grants"].(map[string]any)["allow_users"])
		}
		check(u)
		s.JSON("POST", "/api/v1/auths/signin", "", map[string]string{"email": "bob@example.com", "password": quiretest.Password},
			http.StatusOK, &u)
		check(u)
		s.JSON("GET", "/api/v1/auths/", u["token"].(string), nil, http.StatusOK, &u)
		check(u)
	})
}

// TestTokenCookie: sign-in, sign-up and GET /auths/ set the token cookie
// (HttpOnly, Path=/, SameSite=Lax, expiring with the token; Secure behind
// https); the cookie authenticates; sign-out with the cookie alone signs
// out and clears it; a cookie-authenticated change must be labelled
// application/json, so another site's form cannot make one.
func TestTokenCookie(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		resp, body := raw(t, s, "POST", "/api/v1/auths/signup", map[string]string{"Content-Type": "application/json"},
			`{"name":"Ada","email":"ada@example.com","password":"`+quiretest.Password+`"}`)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
		var ada quiretest.User
		require.NoError(t, json.Unmarshal(body, &ada))
		c := tokenCookie(t, resp)
		require.Equal(t, ada.Token, c.Value)
		require.True(t, c.HttpOnly)
		require.Equal(t, "/", c.Path)
		require.Equal(t, http.SameSiteLaxMode, c.SameSite)
		require.False(t, c.Secure, "plain http")
		require.False(t, c.Expires.IsZero(), "expires with the token")
		setCookie := strings.Join(resp.Header.Values("Set-Cookie"), "\n")
		require.Contains(t, setCookie, "HttpOnly")
		require.Contains(t, setCookie, "SameSite=Lax")

		resp, _ = raw(t, s, "POST", "/api/v1/auths/signin", map[string]string{"Content-Type": "application/json", "X-Forwarded-Proto": "https"},
			`{"email":"ada@example.com","password":"`+quiretest.Password+`"}`)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.True(t, tokenCookie(t, resp).Secure, "behind an https proxy")
		second := tokenCookie(t, resp).Value

		resp, body = raw(t, s, "GET", "/api/v1/auths/", cookieHeader(ada.Token), "")
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
		require.Equal(t, ada.Token, tokenCookie(t, resp).Value, "GET /auths/ sets the cookie too")
		resp, _ = raw(t, s, "GET", "/api/v1/notes/", cookieHeader(ada.Token), "")
		require.Equal(t, http.StatusOK, resp.StatusCode, "the cookie authenticates reads")
		resp, _ = raw(t, s, "GET", "/api/v1/notes/", cookieHeader("forged"), "")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		// The Authorization header wins, even a bad one (Open WebUI's rule).
		resp, _ = raw(t, s, "GET", "/api/v1/notes/", map[string]string{"Cookie": "token=" + ada.Token, "Authorization": "Bearer undefined"}, "")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

		// Another site's page can send the cookie only with a form or a
		// simple request: refused, nothing created, still signed in.
		before := take(t, s)
		for _, c := range []struct{ method, path, ctype, body string }{
			{"POST", "/api/v1/notes/create", "application/x-www-form-urlencoded", "title=planted"},
			{"POST", "/api/v1/notes/create", "text/plain", `{"title":"planted"}`},
			{"POST", "/api/v1/notes/create", "", `{"title":"planted"}`},
			{"POST", "/api/v1/auths/signout", "application/x-www-form-urlencoded", ""},
			{"POST", "/api/v1/auths/signout", "", ""},
			{"GET", "/api/v1/auths/signout", "", ""}, // a link or a top-level navigation
			{"POST", "/api/v1/users/user/settings/update", "text/plain", `{"ui":{"x":1}}`},
		} {
			h := cookieHeader(ada.Token)
			h["Origin"] = "http://evil.example"
			h["Sec-Fetch-Site"] = "cross-site"
			if c.ctype != "" {
				h["Content-Type"] = c.ctype
			}
			resp, body := raw(t, s, c.method, c.path, h, c.body)
			require.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode, "%s %s %q: %s", c.method, c.path, c.ctype, body)
			require.Contains(t, string(body), `"detail":`)
		}
		require.Equal(t, before, take(t, s), "no refused request changed anything")
		resp, _ = raw(t, s, "GET", "/api/v1/auths/", cookieHeader(ada.Token), "")
		require.Equal(t, http.StatusOK, resp.StatusCode, "still signed in")
		var settings map[string]any
		s.JSON("GET", "/api/v1/users/user/settings", ada.Token, nil, http.StatusOK, &settings)
		require.Equal(t, map[string]any{"ui": map[string]any{}}, settings)

		// The frontend's sign-out: POST, JSON label, cookie only.
		h := cookieHeader(ada.Token)
		h["Content-Type"] = "application/json"
		resp, body = raw(t, s, "POST", "/api/v1/auths/signout", h, "")
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
		cleared := tokenCookie(t, resp)
		require.Equal(t, "", cleared.Value)
		require.Less(t, cleared.MaxAge, 0, "the cookie is deleted")
		s.JSON("GET", "/api/v1/auths/", ada.Token, nil, http.StatusUnauthorized, nil)
		s.JSON("GET", "/api/v1/auths/", second, nil, http.StatusUnauthorized, nil)
	})
}

// TestSecureCookieBehindHTTPSPublicURL: with an https --public-url every
// cookie is Secure, whatever the request says.
func TestSecureCookieBehindHTTPSPublicURL(t *testing.T) {
	t.Parallel()
	s := quiretest.New(t, quiretest.WithConfig(func(c *server.Config) { c.PublicURL = "https://notes.example.com" }))
	resp, body := raw(t, s, "POST", "/api/v1/auths/signup", map[string]string{"Content-Type": "application/json", "Host": "notes.example.com"},
		`{"name":"Ada","email":"ada@example.com","password":"`+quiretest.Password+`"}`)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	require.True(t, tokenCookie(t, resp).Secure)
}

// TestUserSettings: {"ui": {}} until stored; the update stores the whole
// object and answers it; per account; bad input is a 4xx and changes
// nothing.
func TestUserSettings(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		ada, bob := s.SignUp("Ada"), s.SignUp("Bob")
		get := func(token string) map[string]any {
			t.Helper()
			var m map[string]any
			s.JSON("GET", "/api/v1/users/user/settings", token, nil, http.StatusOK, &m)
			return m
		}
		require.Equal(t, map[string]any{"ui": map[string]any{}}, get(ada.Token))
		stored := map[string]any{"ui": map[string]any{"version": "dev", "models": []any{"m1"}, "notes": map[string]any{"view": "grid"}}, "tools": nil}
		var answer map[string]any
		s.JSON("POST", "/api/v1/users/user/settings/update", ada.Token, stored, http.StatusOK, &answer)
		require.Equal(t, stored, answer)
		require.Equal(t, stored, get(ada.Token))
		require.Equal(t, map[string]any{"ui": map[string]any{}}, get(bob.Token), "per account")

		for _, c := range []struct {
			body string
			want int
		}{
			{`[]`, http.StatusBadRequest},
			{`"ui"`, http.StatusBadRequest},
			{`null`, http.StatusBadRequest},
			{`{"ui": []}`, http.StatusBadRequest},
			{`{"ui": "x"}`, http.StatusBadRequest},
			{`{"ui": {"a": "b\u0000"}}`, http.StatusBadRequest},
			{`{"ui": {"n": 1e400}}`, http.StatusBadRequest},
			{`{"ui": {}`, http.StatusBadRequest},
			{`{"ui": {}} {}`, http.StatusBadRequest},
			{`{"ui": {"big": "` + strings.Repeat("x", 300<<10) + `"}}`, http.StatusRequestEntityTooLarge},
		} {
			r := s.Do("POST", "/api/v1/users/user/settings/update", ada.Token, c.body)
			require.Equal(t, c.want, r.Status, "%.60s: %s", c.body, r.Body)
			require.NotEmpty(t, r.Detail())
		}
		s.JSON("GET", "/api/v1/users/user/settings", "", nil, http.StatusUnauthorized, nil)
		s.JSON("POST", "/api/v1/users/user/settings/update", "", stored, http.StatusUnauthorized, nil)
		require.Equal(t, stored, get(ada.Token), "no refused update changed anything")
	})
}

// TestAppShellAnswers: what the app shell asks for after sign-in answers a
// valid (empty) shape for a signed-in user, 401 for anyone else.
func TestAppShellAnswers(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		bob := s.SignUp("Bob")
		for path, want := range map[string]string{
			"/api/v1/configs/banners":    `[]`,
			"/api/v1/tools/":             `[]`,
			"/api/v1/terminals/":         `[]`,
			"/api/v1/groups/":            `[]`,
			"/api/v1/groups/?share=true": `[]`,
			"/api/v1/folders/":           `[]`,
			"/api/v1/notes/pinned":       `[]`,
			"/api/changelog":             `{}`,
			"/api/models":                `{"data":[]}`,
		} {
			r := s.Do("GET", path, bob.Token, nil)
			require.Equal(t, http.StatusOK, r.Status, path)
			require.JSONEq(t, want, string(r.Body), path)
			require.Equal(t, http.StatusUnauthorized, s.Do("GET", path, "", nil).Status, path)
		}
		r := s.Do("GET", "/api/v1/models/model/profile/image?id=undefined&lang=en-US", bob.Token, nil)
		require.Equal(t, http.StatusOK, r.Status)
		require.Equal(t, "image/svg+xml", r.Header.Get("Content-Type"))

		ok := s.Do("POST", "/api/v1/auths/update/timezone", bob.Token, map[string]string{"timezone": "America/Argentina/Buenos_Aires"})
		require.Equal(t, http.StatusOK, ok.Status, "%s", ok.Body)
		for _, body := range []string{`{}`, `{"timezone": 5}`, `{"timezone": ""}`, `{"timezone": "Europe/Paris; drop"}`,
			`{"timezone": "` + strings.Repeat("a", 65) + `"}`, `[]`} {
			r := s.Do("POST", "/api/v1/auths/update/timezone", bob.Token, body)
			require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", body, r.Body)
			require.NotEmpty(t, r.Detail())
		}

		// Unknown API routes: a JSON 404, never the app.
		for _, c := range [][2]string{{"GET", "/api/v1/nope"}, {"POST", "/api/nope"}, {"GET", "/api/v1/notes/x/y/z"}, {"DELETE", "/api/v1/groups/"}} {
			r := s.Do(c[0], c[1], bob.Token, nil)
			require.Contains(t, []int{http.StatusNotFound, http.StatusMethodNotAllowed}, r.Status, "%s %s", c[0], c[1])
			require.Equal(t, "application/json", r.Header.Get("Content-Type"), "%s %s", c[0], c[1])
			require.NotEmpty(t, r.Detail(), "%s %s", c[0], c[1])
		}
	})
}

// TestUserInfoAndAvatar: /users/{id}/info names the account (its email
// only to admins and itself); /users/{id}/profile/image draws its initial
// and works with the cookie alone (an <img>); unknown ids are 404.
func TestUserInfoAndAvatar(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		admin, bob := s.SignUp("Admin"), s.SignUp("Bob")
		var eve quiretest.User
		s.JSON("POST", "/api/v1/auths/signup", "", map[string]string{"name": "<Eve & co>", "email": "eve@example.com",
			"password": quiretest.Password}, http.StatusOK, &eve)
		info := func(token, id string) map[string]any {
			t.Helper()
			var m map[string]any
			s.JSON("GET", "/api/v1/users/"+id+"/info", token, nil, http.StatusOK, &m)
			return m
		}
		want := map[string]any{"id": bob.ID, "name": "Bob", "email": bob.Email, "role": "user",
			"profile_image_url": "/api/v1/users/" + bob.ID + "/profile/image"}
		require.Equal(t, want, info(admin.Token, bob.ID))
		require.Equal(t, want, info(bob.Token, bob.ID))
		want["email"] = ""
		require.Equal(t, want, info(eve.Token, bob.ID), "no email for others")
		for _, id := range []string{"nobody", strings.Repeat("x", 200), "a%00b"} {
			r := s.Do("GET", "/api/v1/users/"+id+"/info", bob.Token, nil)
			require.Equal(t, http.StatusNotFound, r.Status, id)
			require.NotEmpty(t, r.Detail())
			require.Equal(t, http.StatusNotFound, s.Do("GET", "/api/v1/users/"+id+"/profile/image", bob.Token, nil).Status, id)
		}
		require.Equal(t, http.StatusUnauthorized, s.Do("GET", "/api/v1/users/"+bob.ID+"/info", "", nil).Status)

		resp, body := raw(t, s, "GET", "/api/v1/users/"+eve.ID+"/profile/image", cookieHeader(bob.Token), "")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "image/svg+xml", resp.Header.Get("Content-Type"))
		require.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'none'")
		require.Contains(t, string(body), ">&lt;</text>", "the initial, escaped")
		require.NotContains(t, string(body), "<Eve")
		resp, _ = raw(t, s, "GET", "/api/v1/users/"+eve.ID+"/profile/image", nil, "")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	})
}
