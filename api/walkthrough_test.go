package api_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
)

// note is the NoteModel as clients decode it.
type note struct {
	ID           string           `json:"id"`
	UserID       string           `json:"user_id"`
	Title        string           `json:"title"`
	Data         map[string]any   `json:"data"`
	Meta         map[string]any   `json:"meta"`
	AccessGrants []map[string]any `json:"access_grants"`
	CreatedAt    int64            `json:"created_at"`
	UpdatedAt    int64            `json:"updated_at"`
	WriteAccess  *bool            `json:"write_access"`
	User         *struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"user"`
}

func md(n note) string {
	c, _ := n.Data["content"].(map[string]any)
	s, _ := c["md"].(string)
	return s
}

// eachBackend runs fn on SQLite and (when configured) PostgreSQL.
func eachBackend(t *testing.T, fn func(t *testing.T, s *quiretest.Server)) {
	t.Helper()
	for _, b := range quiretest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s := quiretest.New(t, b.Opts...)
			fn(t, s)
			require.Zero(t, s.InternalErrors(), "the server answered 500 or panicked")
		})
	}
}

func TestWalkthrough(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		admin := s.SignUp("Ada")
		require.Equal(t, "admin", admin.Role)
		bob := s.SignUp("Bob")
		require.Equal(t, "user", bob.Role)
		require.NotEmpty(t, bob.Token)

		// Sign in again and ask who we are.
		tok := s.SignIn(bob.Email)
		var me quiretest.User
		s.JSON("GET", "/api/v1/auths/", tok, nil, http.StatusOK, &me)
		require.Equal(t, bob.ID, me.ID)
		require.Equal(t, bob.Email, me.Email)
		require.Equal(t, "user", me.Role)

		// Create three notes; the listing is newest first.
		var ids []string
		for i := range 3 {
			var n note
			s.JSON("POST", "/api/v1/notes/create", tok, map[string]any{
				"title": fmt.Sprintf("note %d", i),
				"data":  map[string]any{"content": map[string]any{"md": fmt.Sprintf("# body %d", i)}},
				"meta":  map[string]any{"tag": i},
			}, http.StatusOK, &n)
			require.Equal(t, bob.ID, n.UserID)
			require.Equal(t, fmt.Sprintf("# body %d", i), md(n))
			require.NotNil(t, n.WriteAccess)
			require.True(t, *n.WriteAccess)
			require.Empty(t, n.AccessGrants)
			ids = append(ids, n.ID)
		}
		var list []note
		s.JSON("GET", "/api/v1/notes/", tok, nil, http.StatusOK, &list)
		require.Len(t, list, 3)
		for i, n := range list {
			require.Equal(t, ids[2-i], n.ID, "newest first")
			require.Equal(t, map[string]any{"content": map[string]any{"md": fmt.Sprintf("# body %d", 2-i)}}, n.Data)
			require.NotNil(t, n.User)
			require.Equal(t, "Bob", n.User.Name)
		}
		s.JSON("GET", "/api/v1/notes/?skip=1&limit=1", tok, nil, http.StatusOK, &list)
		require.Len(t, list, 1)
		require.Equal(t, ids[1], list[0].ID)
		s.JSON("GET", "/api/v1/notes/?page=1", tok, nil, http.StatusOK, &list)
		require.Len(t, list, 3)
		s.JSON("GET", "/api/v1/notes/?page=2", tok, nil, http.StatusOK, &list)
		require.Empty(t, list)

		// Get one, update it (shallow merge of data and meta).
		var got note
		s.JSON("GET", "/api/v1/notes/"+ids[0], tok, nil, http.StatusOK, &got)
		require.Equal(t, "note 0", got.Title)
		require.Equal(t, map[string]any{"tag": float64(0)}, got.Meta)
		var upd note
		s.JSON("POST", "/api/v1/notes/"+ids[0]+"/update", tok, map[string]any{
			"title": "renamed",
			"data":  map[string]any{"files": []any{}},
			"meta":  map[string]any{"color": "red"},
		}, http.StatusOK, &upd)
		require.Equal(t, "renamed", upd.Title)
		require.Equal(t, "# body 0", md(upd), "data.content survives a merge that does not name it")
		require.Equal(t, []any{}, upd.Data["files"])
		require.Equal(t, map[string]any{"tag": float64(0), "color": "red"}, upd.Meta)
		require.Greater(t, upd.UpdatedAt, got.UpdatedAt)
		s.JSON("GET", "/api/v1/notes/", tok, nil, http.StatusOK, &list)
		require.Equal(t, ids[0], list[0].ID, "the updated note is now the newest")

		// Share it with a third user, read only.
		carol := s.SignUp("Carol")
		s.JSON("GET", "/api/v1/notes/"+ids[0], carol.Token, nil, http.StatusNotFound, nil)
		var shared note
		s.JSON("POST", "/api/v1/notes/"+ids[0]+"/access/update", tok, map[string]any{
			"access_grants": []map[string]string{{"principal_type": "user", "principal_id": carol.ID, "permission": "read"}},
		}, http.StatusOK, &shared)
		require.Len(t, shared.AccessGrants, 1)
		s.JSON("GET", "/api/v1/notes/"+ids[0], carol.Token, nil, http.StatusOK, &got)
		require.False(t, *got.WriteAccess)
		s.JSON("GET", "/api/v1/notes/", carol.Token, nil, http.StatusOK, &list)
		require.Len(t, list, 1)

		// The admin sees everything and lists every account.
		s.JSON("GET", "/api/v1/notes/", admin.Token, nil, http.StatusOK, &list)
		require.Len(t, list, 3)
		var users struct {
			Users []quiretest.User `json:"users"`
			Total int              `json:"total"`
		}
		s.JSON("GET", "/api/v1/users/", admin.Token, nil, http.StatusOK, &users)
		require.Equal(t, 3, users.Total)
		for _, u := range users.Users {
			require.NotContains(t, strings.ToLower(fmt.Sprint(u)), "argon2")
		}

		// Delete.
		s.JSON("DELETE", "/api/v1/notes/"+ids[1]+"/delete", tok, nil, http.StatusOK, nil)
		s.JSON("GET", "/api/v1/notes/"+ids[1], tok, nil, http.StatusNotFound, nil)
		s.JSON("GET", "/api/v1/notes/", tok, nil, http.StatusOK, &list)
		require.Len(t, list, 2)

		// Sign out: that token is dead.
		s.JSON("GET", "/api/v1/auths/signout", tok, nil, http.StatusOK, nil)
		s.JSON("GET", "/api/v1/auths/", tok, nil, http.StatusUnauthorized, nil)
	})
}

// TestREADMEWalkthroughRunsTwice runs the README's curl walk-through, as
// written, against a real server, twice: the second run signs in instead
// of signing up, and every step (Bob's id included) succeeds.
func TestREADMEWalkthroughRunsTwice(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (a stated prerequisite)", tool)
		}
	}
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(readme), "## A walk-through with curl")
	require.True(t, ok)
	_, rest, ok = strings.Cut(rest, "```sh\n")
	require.True(t, ok)
	script, _, ok := strings.Cut(rest, "```")
	require.True(t, ok)

	s := quiretest.New(t)
	for run := range 2 {
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
		cmd.Env = append(os.Environ(), "Q="+s.URL)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "run %d:\n%s", run+1, out)
		require.Regexp(t, `Ada's token: [\w-]+\.[\w-]+\.[\w-]+; Bob's id: [0-9a-f-]{8,}`, string(out), "run %d", run+1)
		require.Contains(t, string(out), `"Plan v2"`)
		require.Contains(t, string(out), `"permission":"write"`)
		require.NotContains(t, string(out), "detail", "run %d:\n%s", run+1, out)
	}
	users, err := s.Store().ListUsers(context.Background())
	require.NoError(t, err)
	require.Len(t, users, 2, "the second run signed in")
	require.Zero(t, s.InternalErrors())
}
