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
		require.Equal(t, []string{"email", "id", "name", "profile_image_url", "role"}, keys, "no hash or stamp is shown")
		ids = append(ids, u["id"].(string))
	}
	require.Equal(t, len(ids), res.Total, "one page holds every match")
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
		require.Equal(t, map[string]any{"id": bob.ID, "name": "Bob", "email": bob.Email, "role": "user",
			"profile_image_url": "/api/v1/users/" + bob.ID + "/profile/image"}, res.Users[0])
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

		// No query (the share dialog's first call): everyone, by name; only
		// an admin sees the emails.
		for _, path := range []string{"/api/v1/users/search", "/api/v1/users/search?query=%20%20",
			"/api/v1/users/search?page=1&order_by=name&direction=asc"} {
			var res searchResult
			s.JSON("GET", path, bob.Token, nil, http.StatusOK, &res)
			require.Equal(t, []string{ada.ID, admin.ID, bob.ID, pat.ID}, resultIDs(t, res), path)
			for _, u := range res.Users {
				require.Equal(t, "", u["email"], "%s: no emails for a user", path)
			}
			s.JSON("GET", path, admin.Token, nil, http.StatusOK, &res)
			require.Equal(t, []string{ada.ID, admin.ID, bob.ID, pat.ID}, resultIDs(t, res), path)
			for _, u := range res.Users {
				require.NotEmpty(t, u["email"], "%s: emails for an admin", path)
			}
		}

		for _, path := range []string{
			"/api/v1/users/search?query=" + strings.Repeat("x", 101),
			"/api/v1/users/search?query=a%00b",
			"/api/v1/users/search?page=0",
			"/api/v1/users/search?page=-1",
			"/api/v1/users/search?page=x",
			"/api/v1/users/search?page=1000001",
			"/api/v1/users/search?order_by=email",
			"/api/v1/users/search?direction=desc",
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

// TestSearchUsersPages: 20 a page, ordered by name; total counts every
// match; past the end the page is empty. A non-admin's total counts name
// matches only (emails are not searched for them), and an exact email is
// one account on page 1 only.
func TestSearchUsersPages(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		admin := s.SignUp("Admin")
		var want []string // signed up in name order
		for i := range 21 {
			want = append(want, s.SignUp(fmt.Sprintf("Many %02d", i)).ID)
		}
		other := s.SignUp("Other")
		page := func(token, query string, n int) searchResult {
			t.Helper()
			var res searchResult
			s.JSON("GET", fmt.Sprintf("/api/v1/users/search?query=%s&page=%d", url.QueryEscape(query), n), token, nil, http.StatusOK, &res)
			return res
		}
		got := idsOf(search(s, other.Token, "MANY ", http.StatusOK))
		require.Equal(t, want[:20], got, "at most 20, ordered by name")
		for _, token := range []string{other.Token, admin.Token} {
			res := page(token, "many", 1)
			require.Equal(t, want[:20], idsOf(res))
			require.Equal(t, 21, res.Total)
			res = page(token, "many", 2)
			require.Equal(t, want[20:], idsOf(res))
			require.Equal(t, 21, res.Total)
			res = page(token, "many", 3)
			require.Empty(t, res.Users, "past the end: no users")
			require.Equal(t, 21, res.Total)
		}
		res := page(other.Token, "example.com", 1)
		require.Empty(t, res.Users)
		require.Zero(t, res.Total, "a user's search matches names only")
		require.Equal(t, 23, page(admin.Token, "example.com", 1).Total, "an admin's matches emails too")

		many := s.Do("GET", "/api/v1/users/"+want[0]+"/info", admin.Token, nil)
		var info map[string]any
		many.Decode(t, &info)
		email := info["email"].(string)
		res = page(other.Token, email, 1)
		require.Equal(t, []string{want[0]}, idsOf(res))
		require.Equal(t, email, res.Users[0]["email"], "the exact email is shown")
		require.Equal(t, 1, res.Total)
		res = page(other.Token, email, 2)
		require.Empty(t, res.Users)
		require.Equal(t, 1, res.Total)
	})
}

func idsOf(res searchResult) []string {
	ids := []string{}
	for _, u := range res.Users {
		ids = append(ids, u["id"].(string))
	}
	return ids
}
