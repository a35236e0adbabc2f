package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
	"github.com/quire/quire/server"
	"github.com/quire/quire/storage"
)

// snapshot is everything bad requests must leave untouched.
type snapshot struct {
	Users []storage.User
	Notes []storage.Note
}

func take(t *testing.T, s *quiretest.Server) snapshot {
	t.Helper()
	ctx := context.Background()
	users, err := s.Store().ListUsers(ctx)
	require.NoError(t, err)
	notes, err := s.Store().ListNotes(ctx, storage.ListNotesOptions{All: true})
	require.NoError(t, err)
	return snapshot{Users: users, Notes: notes}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		admin := s.SignUp("Admin")
		bob := s.SignUp("Bob")
		var n note
		s.JSON("POST", "/api/v1/notes/create", bob.Token, map[string]any{
			"title": "t", "data": map[string]any{"content": map[string]any{"md": "m"}},
		}, http.StatusOK, &n)
		notePath := "/api/v1/notes/" + n.ID
		big := `{"title":"` + strings.Repeat("x", 9<<20) + `"}`
		bigAuth := `{"name":"n","email":"a@b.co","password":"` + strings.Repeat("x", 70<<10) + `"}`
		grants := func(g string) string { return `{"access_grants":[` + g + `]}` }

		cases := []struct {
			name, method, path, token string
			body                      string
			want                      int
		}{
			// Accounts.
			{"signup malformed", "POST", "/api/v1/auths/signup", "", `{"name":`, 400},
			{"signup empty body", "POST", "/api/v1/auths/signup", "", ``, 415}, // no body, so no JSON label
			{"signup array", "POST", "/api/v1/auths/signup", "", `[]`, 400},
			{"signup trailing", "POST", "/api/v1/auths/signup", "", `{"name":"n","email":"x@y.co","password":"12345678"} {}`, 400},
			{"signup wrong type", "POST", "/api/v1/auths/signup", "", `{"name":1,"email":"x@y.co","password":"12345678"}`, 400},
			{"signup bad email", "POST", "/api/v1/auths/signup", "", `{"name":"n","email":"not-an-email","password":"12345678"}`, 400},
			{"signup display-name email", "POST", "/api/v1/auths/signup", "", `{"name":"n","email":"X <x@y.co>","password":"12345678"}`, 400},
			{"signup no dot", "POST", "/api/v1/auths/signup", "", `{"name":"n","email":"x@localhost","password":"12345678"}`, 400},
			{"signup short password", "POST", "/api/v1/auths/signup", "", `{"name":"n","email":"x@y.co","password":"1234567"}`, 400},
			{"signup empty name", "POST", "/api/v1/auths/signup", "", `{"name":"  ","email":"x@y.co","password":"12345678"}`, 400},
			{"signup long name", "POST", "/api/v1/auths/signup", "", `{"name":"` + strings.Repeat("n", 101) + `","email":"x@y.co","password":"12345678"}`, 400},
			{"signup NUL name", "POST", "/api/v1/auths/signup", "", `{"name":"a\u0000b","email":"x@y.co","password":"12345678"}`, 400},
			{"signup duplicate", "POST", "/api/v1/auths/signup", "", `{"name":"n","email":"` + strings.ToUpper(bob.Email) + `","password":"12345678"}`, 400},
			{"signup oversize", "POST", "/api/v1/auths/signup", "", bigAuth, 413},
			{"signin wrong password", "POST", "/api/v1/auths/signin", "", `{"email":"` + bob.Email + `","password":"wrong password"}`, 401},
			{"signin unknown", "POST", "/api/v1/auths/signin", "", `{"email":"who@example.com","password":"12345678"}`, 401},
			{"signin wrong type", "POST", "/api/v1/auths/signin", "", `{"email":["x"],"password":"12345678"}`, 400},
			{"role unknown id", "POST", "/api/v1/users/nope/update/role", admin.Token, `{"role":"user"}`, 404},
			{"role bad role", "POST", "/api/v1/users/" + bob.ID + "/update/role", admin.Token, `{"role":"root"}`, 400},
			{"role wrong type", "POST", "/api/v1/users/" + bob.ID + "/update/role", admin.Token, `{"role":true}`, 400},

			// Notes.
			{"create malformed", "POST", "/api/v1/notes/create", bob.Token, `{"title":"x",`, 400},
			{"create no title", "POST", "/api/v1/notes/create", bob.Token, `{"data":{}}`, 400},
			{"create title type", "POST", "/api/v1/notes/create", bob.Token, `{"title":5}`, 400},
			{"create data type", "POST", "/api/v1/notes/create", bob.Token, `{"title":"x","data":"text"}`, 400},
			{"create meta type", "POST", "/api/v1/notes/create", bob.Token, `{"title":"x","meta":[1]}`, 400},
			{"create content type", "POST", "/api/v1/notes/create", bob.Token, `{"title":"x","data":{"content":"md"}}`, 400},
			{"create md type", "POST", "/api/v1/notes/create", bob.Token, `{"title":"x","data":{"content":{"md":1}}}`, 400},
			{"create bad pm json", "POST", "/api/v1/notes/create", bob.Token, `{"title":"x","data":{"content":{"json":{"type":"paragraph"}}}}`, 400},
			{"create NUL in data", "POST", "/api/v1/notes/create", bob.Token, `{"title":"x","data":{"k":"a\u0000"}}`, 400},
			{"create huge number", "POST", "/api/v1/notes/create", bob.Token, `{"title":"x","meta":{"n":1e400}}`, 400},
			{"create underflowing number", "POST", "/api/v1/notes/create", bob.Token, `{"title":"x","data":{"n":[1e-400]}}`, 400},
			{"create long title", "POST", "/api/v1/notes/create", bob.Token, `{"title":"` + strings.Repeat("t", 1001) + `"}`, 400},
			{"create oversize", "POST", "/api/v1/notes/create", bob.Token, big, 413},
			{"create grants type", "POST", "/api/v1/notes/create", bob.Token, `{"title":"x","access_grants":{}}`, 400},
			{"create grant group", "POST", "/api/v1/notes/create", bob.Token, `{"title":"x",` + grants(`{"principal_type":"group","principal_id":"g","permission":"read"}`)[1:], 400},
			{"create grant unknown user", "POST", "/api/v1/notes/create", bob.Token, `{"title":"x",` + grants(`{"principal_type":"user","principal_id":"ghost","permission":"read"}`)[1:], 400},
			{"create grant bad perm", "POST", "/api/v1/notes/create", bob.Token, `{"title":"x",` + grants(`{"principal_type":"user","principal_id":"` + admin.ID + `","permission":"admin"}`)[1:], 400},
			{"get unknown", "GET", "/api/v1/notes/no-such-note", bob.Token, ``, 404},
			{"get invalid utf8 id", "GET", "/api/v1/notes/%ff%fe", bob.Token, ``, 404},
			{"update unknown", "POST", "/api/v1/notes/no-such-note/update", bob.Token, `{"title":"x"}`, 404},
			{"update malformed", "POST", notePath + "/update", bob.Token, `{"title":`, 400},
			{"update title type", "POST", notePath + "/update", bob.Token, `{"title":{}}`, 400},
			{"update data type", "POST", notePath + "/update", bob.Token, `{"data":[]}`, 400},
			{"update oversize", "POST", notePath + "/update", bob.Token, big, 413},
			{"update bad grant", "POST", notePath + "/update", bob.Token, grants(`{"principal_type":"user","principal_id":"ghost","permission":"read"}`), 400},
			{"access missing", "POST", notePath + "/access/update", bob.Token, `{}`, 400},
			{"access type", "POST", notePath + "/access/update", bob.Token, `{"access_grants":"all"}`, 400},
			{"access item type", "POST", notePath + "/access/update", bob.Token, `{"access_grants":[{"principal_id":3}]}`, 400},
			{"access unknown note", "POST", "/api/v1/notes/ghost/access/update", bob.Token, grants(``), 404},
			{"delete unknown", "DELETE", "/api/v1/notes/ghost/delete", bob.Token, ``, 404},
			{"list bad page", "GET", "/api/v1/notes/?page=0", bob.Token, ``, 400},
			{"list page not a number", "GET", "/api/v1/notes/?page=x", bob.Token, ``, 400},
			{"list bad limit", "GET", "/api/v1/notes/?limit=-1", bob.Token, ``, 400},
			{"list bad skip", "GET", "/api/v1/notes/?skip=abc", bob.Token, ``, 400},
			{"unknown api path", "GET", "/api/v1/nothing", bob.Token, ``, 404},
		}
		before := take(t, s)
		for _, c := range cases {
			var body any
			if c.body != "" {
				body = c.body
			}
			r := s.Do(c.method, c.path, c.token, body)
			require.Equal(t, c.want, r.Status, "%s: %s", c.name, r.Body)
			require.NotEmpty(t, r.Detail(), "%s: error body has a detail: %s", c.name, r.Body)
			require.Equal(t, "application/json", r.Header.Get("Content-Type"), c.name)
		}
		require.Equal(t, before, take(t, s), "no bad request changed anything")
	})
}

func TestBadTokens(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		bob := s.SignUp("Bob")
		ctx := context.Background()
		u, err := s.Store().GetUser(ctx, bob.ID)
		require.NoError(t, err)
		sign := func(m jwt.SigningMethod, key any, edit func(jwt.MapClaims)) string {
			c := jwt.MapClaims{"id": u.ID, "jti": "00000000-0000-4000-8000-000000000000", "session_stamp": u.SessionStamp,
				"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
			edit(c)
			tok, err := jwt.NewWithClaims(m, c).SignedString(key)
			require.NoError(t, err)
			return tok
		}
		secret := []byte(s.Config.Secret)
		ok := sign(jwt.SigningMethodHS256, secret, func(jwt.MapClaims) {})
		s.JSON("GET", "/api/v1/auths/", ok, nil, http.StatusOK, nil) // the forgery kit works

		_, revokedClaims, err := s.Auth().IssueClaims(ctx, u)
		require.NoError(t, err)
		revoked := sign(jwt.SigningMethodHS256, secret, func(c jwt.MapClaims) { c["jti"] = revokedClaims.ID })
		require.NoError(t, s.Store().RevokeToken(ctx, revokedClaims.ID, time.Now().Add(time.Hour).Unix()))

		bad := map[string]string{
			"garbage":      "garbage",
			"alg none":     sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, func(jwt.MapClaims) {}),
			"wrong key":    sign(jwt.SigningMethodHS256, []byte("not-the-server-secret-123"), func(jwt.MapClaims) {}),
			"expired":      sign(jwt.SigningMethodHS256, secret, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() }),
			"no exp":       sign(jwt.SigningMethodHS256, secret, func(c jwt.MapClaims) { delete(c, "exp") }),
			"wrong stamp":  sign(jwt.SigningMethodHS256, secret, func(c jwt.MapClaims) { c["session_stamp"] = "stale" }),
			"unknown user": sign(jwt.SigningMethodHS256, secret, func(c jwt.MapClaims) { c["id"] = "ghost" }),
			"id not text":  sign(jwt.SigningMethodHS256, secret, func(c jwt.MapClaims) { c["id"] = 7 }),
			"revoked jti":  revoked,
		}
		before := take(t, s)
		for name, tok := range bad {
			for _, req := range [][2]string{{"GET", "/api/v1/auths/"}, {"GET", "/api/v1/notes/"}, {"POST", "/api/v1/notes/create"}, {"GET", "/api/v1/auths/signout"}} {
				r := s.Do(req[0], req[1], tok, `{"title":"sneaky"}`)
				require.Equal(t, http.StatusUnauthorized, r.Status, "%s %s", name, req[1])
			}
		}
		// No header at all, or another scheme.
		require.Equal(t, http.StatusUnauthorized, s.Do("GET", "/api/v1/auths/", "", nil).Status)
		req, err := http.NewRequest("GET", s.URL+"/api/v1/auths/", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Basic "+ok)
		resp, err := s.Client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

		require.Equal(t, before, take(t, s), "no bad token changed anything")
		s.JSON("GET", "/api/v1/auths/", ok, nil, http.StatusOK, nil)
	})
}

// TestShortTokenTTL uses the configured lifetime, not the default.
func TestShortTokenTTL(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64 // the server's clock runs this far ahead
	s := quiretest.New(t, quiretest.WithConfig(func(c *server.Config) {
		c.TokenTTL = time.Hour
		c.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	}))
	bob := s.SignUp("Bob")
	s.JSON("GET", "/api/v1/auths/", bob.Token, nil, http.StatusOK, nil)
	offset.Store(int64(time.Hour + time.Minute))
	s.JSON("GET", "/api/v1/auths/", bob.Token, nil, http.StatusUnauthorized, nil)
}

func TestListTruncatesMarkdown(t *testing.T) {
	t.Parallel()
	s := quiretest.New(t)
	bob := s.SignUp("Bob")
	long := strings.Repeat("é", 1500) // code points, not bytes
	var n note
	s.JSON("POST", "/api/v1/notes/create", bob.Token, map[string]any{
		"title": "long", "data": map[string]any{"content": map[string]any{"md": long, "html": "<p>x</p>"}, "files": []any{}},
	}, http.StatusOK, &n)
	var list []note
	s.JSON("GET", "/api/v1/notes/", bob.Token, nil, http.StatusOK, &list)
	require.Len(t, list, 1)
	require.Equal(t, map[string]any{"content": map[string]any{"md": strings.Repeat("é", 1000)}}, list[0].Data)
	var got note
	s.JSON("GET", "/api/v1/notes/"+n.ID, bob.Token, nil, http.StatusOK, &got)
	require.Equal(t, long, md(got), "a single note is not truncated")
	// Numbers and HTML survive byte-exactly enough to round-trip.
	var raw bytes.Buffer
	require.NoError(t, json.Compact(&raw, s.Do("GET", "/api/v1/notes/"+n.ID, bob.Token, nil).Body))
	require.Contains(t, raw.String(), `"html":"<p>x</p>"`)
}
