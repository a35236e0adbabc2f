package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
)

type searchResult struct {
	Users []map[string]any `json:"users"`
	Total int              `json:"total"`
}

func search(s *quiretest.Server, token, query string, want int) searchResult {
	var res searchResult
	s.JSON("GET", "/api/v1/users/search?query="+url.QueryEscape(query), token, nil, want, &res)
	return res
}

func resultIDs(t *testing.T, res searchResult) []string {
	t.Helper()
	ids := []string{}
	for _, u := range res.Users {
		keys := make([]string, 0, len(u))
		for k := range u {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		require.Equal(t, []string{"email", "id", "name"}, keys, "no hash, stamp or role is shown")
		ids = append(ids, u["id"].(string))
	}
	require.Equal(t, len(ids), res.Total)
	return ids
}

func TestSearchUsers(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		admin := s.SignUp("Admin")
		ada := s.SignUp("Ada Lovelace")
		bob := s.SignUp("Bob")
		pat := s.SignUp("Pat Pending")
		s.JSON("POST", "/api/v1/users/"+pat.ID+"/update/role", admin.Token, map[string]string{"role": "pending"}, http.StatusOK, nil)
		before := s.JSON("GET", "/api/v1/users/", admin.Token, nil, http.StatusOK, nil).Body

		// Any signed-in user finds accounts by email (what the share dialog
		// sends) or by a piece of the name, in any case.
		res := search(s, ada.Token, strings.ToUpper(bob.Email), http.StatusOK)
		require.Equal(t, []string{bob.ID}, resultIDs(t, res))
		require.Equal(t, map[string]any{"id": bob.ID, "name": "Bob", "email": bob.Email}, res.Users[0])
		require.Equal(t, []string{ada.ID}, resultIDs(t, search(s, bob.Token, "lovelace", http.StatusOK)))
		require.Equal(t, []string{pat.ID}, resultIDs(t, search(s, bob.Token, " pat pending ", http.StatusOK)), "pending accounts are found")
		require.Empty(t, resultIDs(t, search(s, bob.Token, "nobody-"+bob.ID, http.StatusOK)))

		// A non-admin cannot list emails: "@" finds nobody, a piece of an
		// email finds nobody, a name match comes without its email; an admin
		// sees every match with its email.
		require.Empty(t, resultIDs(t, search(s, bob.Token, "@", http.StatusOK)))
		require.Empty(t, resultIDs(t, search(s, bob.Token, "example.com", http.StatusOK)))
		res = search(s, bob.Token, "ada", http.StatusOK)
		require.Equal(t, []string{ada.ID}, resultIDs(t, res))
		require.Equal(t, "", res.Users[0]["email"], "a name match hides the email")
		res = search(s, admin.Token, "@", http.StatusOK)
		require.ElementsMatch(t, []string{admin.ID, ada.ID, bob.ID, pat.ID}, resultIDs(t, res))
		for _, u := range res.Users {
			require.NotEmpty(t, u["email"], "admins see emails")
		}
		require.Empty(t, resultIDs(t, search(s, bob.Token, "%", http.StatusOK)), "% is literal")
		require.Empty(t, resultIDs(t, search(s, bob.Token, strings.Repeat("x", 100), http.StatusOK)))

		for _, path := range []string{
			"/api/v1/users/search",
			"/api/v1/users/search?query=",
			"/api/v1/users/search?query=%20%20",
			"/api/v1/users/search?query=" + strings.Repeat("x", 101),
			"/api/v1/users/search?query=a%00b",
		} {
			r := s.Do("GET", path, bob.Token, nil)
			require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", path, r.Body)
			require.NotEmpty(t, r.Detail(), path)
		}
		r := s.Do("GET", "/api/v1/users/search?query=bob", "", nil)
		require.Equal(t, http.StatusUnauthorized, r.Status)
		require.NotEmpty(t, r.Detail())
		s.JSON("GET", "/api/v1/users/search?query=bob", "not-a-token", nil, http.StatusUnauthorized, nil)

		after := s.JSON("GET", "/api/v1/users/", admin.Token, nil, http.StatusOK, nil).Body
		require.JSONEq(t, string(before), string(after), "searching changed no account")
	})
}

func TestSearchUsersLimit(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		var want []string // signed up in name order
		for i := range 21 {
			want = append(want, s.SignUp(fmt.Sprintf("Many %02d", i)).ID)
		}
		got := resultIDs(t, search(s, s.SignUp("Other").Token, "MANY ", http.StatusOK))
		require.Equal(t, want[:20], got, "at most 20, ordered by name")
	})
}
