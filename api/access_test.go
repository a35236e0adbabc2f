package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
)

func grant(id, perm string) map[string]any {
	return map[string]any{"access_grants": []map[string]string{{"principal_type": "user", "principal_id": id, "permission": perm}}}
}

func TestAccess(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		admin := s.SignUp("Admin")
		owner := s.SignUp("Owner")
		reader := s.SignUp("Reader")
		writer := s.SignUp("Writer")
		stranger := s.SignUp("Stranger")

		var n note
		s.JSON("POST", "/api/v1/notes/create", owner.Token, map[string]any{
			"title": "private", "data": map[string]any{"content": map[string]any{"md": "secret"}},
		}, http.StatusOK, &n)
		path := "/api/v1/notes/" + n.ID
		edit := map[string]any{"title": "changed"}

		// Without a grant the note does not exist for a user.
		s.JSON("GET", path, stranger.Token, nil, http.StatusNotFound, nil)
		s.JSON("POST", path+"/update", stranger.Token, edit, http.StatusNotFound, nil)
		s.JSON("DELETE", path+"/delete", stranger.Token, nil, http.StatusNotFound, nil)
		s.JSON("POST", path+"/access/update", stranger.Token, grant(stranger.ID, "write"), http.StatusNotFound, nil)
		var list []note
		s.JSON("GET", "/api/v1/notes/", stranger.Token, nil, http.StatusOK, &list)
		require.Empty(t, list)

		// Owner shares: reader reads, writer writes.
		s.JSON("POST", path+"/access/update", owner.Token, map[string]any{"access_grants": []map[string]string{
			{"principal_type": "user", "principal_id": reader.ID, "permission": "read"},
			{"principal_type": "user", "principal_id": writer.ID, "permission": "write"},
		}}, http.StatusOK, nil)

		var got note
		s.JSON("GET", path, reader.Token, nil, http.StatusOK, &got)
		require.False(t, *got.WriteAccess)
		s.JSON("POST", path+"/update", reader.Token, edit, http.StatusForbidden, nil)
		s.JSON("DELETE", path+"/delete", reader.Token, nil, http.StatusForbidden, nil)
		s.JSON("POST", path+"/access/update", reader.Token, grant(reader.ID, "write"), http.StatusForbidden, nil)
		s.JSON("GET", path, owner.Token, nil, http.StatusOK, &got)
		require.Equal(t, "private", got.Title, "refused edits changed nothing")
		require.Len(t, got.AccessGrants, 2)

		s.JSON("GET", path, writer.Token, nil, http.StatusOK, &got)
		require.True(t, *got.WriteAccess)
		s.JSON("POST", path+"/update", writer.Token, edit, http.StatusOK, &got)
		require.Equal(t, "changed", got.Title)
		// A writer may echo the grants back but not change them.
		echo := map[string]any{"title": "again", "access_grants": got.AccessGrants}
		s.JSON("POST", path+"/update", writer.Token, echo, http.StatusOK, nil)
		s.JSON("POST", path+"/update", writer.Token, map[string]any{"title": "x", "access_grants": []any{}}, http.StatusForbidden, nil)
		s.JSON("POST", path+"/access/update", writer.Token, grant(stranger.ID, "read"), http.StatusForbidden, nil)
		s.JSON("GET", path, owner.Token, nil, http.StatusOK, &got)
		require.Equal(t, "again", got.Title)
		require.Len(t, got.AccessGrants, 2)

		// The owner may change grants through update too.
		s.JSON("POST", path+"/update", owner.Token, grant(stranger.ID, "read"), http.StatusOK, &got)
		require.Len(t, got.AccessGrants, 1)
		s.JSON("GET", path, stranger.Token, nil, http.StatusOK, nil)
		s.JSON("GET", path, reader.Token, nil, http.StatusNotFound, nil)

		// Admins may do everything, and only admins list users.
		s.JSON("GET", path, admin.Token, nil, http.StatusOK, &got)
		require.True(t, *got.WriteAccess)
		s.JSON("POST", path+"/update", admin.Token, map[string]any{"title": "by admin"}, http.StatusOK, nil)
		s.JSON("POST", path+"/access/update", admin.Token, grant(writer.ID, "write"), http.StatusOK, nil)
		s.JSON("GET", "/api/v1/users/", owner.Token, nil, http.StatusForbidden, nil)
		s.JSON("POST", "/api/v1/users/"+writer.ID+"/update/role", owner.Token, map[string]string{"role": "admin"}, http.StatusForbidden, nil)
		s.JSON("DELETE", path+"/delete", admin.Token, nil, http.StatusOK, nil)
		s.JSON("GET", path, owner.Token, nil, http.StatusNotFound, nil)

		// A write grant lets the grantee edit, not delete: the note and what
		// the grantee wrote into it stay; the owner may still delete it.
		s.JSON("POST", "/api/v1/notes/create", owner.Token, map[string]any{"title": "t"}, http.StatusOK, &n)
		path = "/api/v1/notes/" + n.ID
		s.JSON("POST", path+"/access/update", owner.Token, grant(writer.ID, "write"), http.StatusOK, nil)
		s.JSON("POST", path+"/update", writer.Token, map[string]any{
			"data": map[string]any{"content": map[string]any{"md": "grantee's words"}},
		}, http.StatusOK, nil)
		s.JSON("DELETE", path+"/delete", writer.Token, nil, http.StatusForbidden, nil)
		s.JSON("GET", path, owner.Token, nil, http.StatusOK, &got)
		require.Equal(t, "t", got.Title)
		require.Equal(t, "grantee's words", md(got), "the refused delete kept the note's content")
		s.JSON("GET", path, writer.Token, nil, http.StatusOK, nil)
		s.JSON("DELETE", path+"/delete", owner.Token, nil, http.StatusOK, nil)
		s.JSON("GET", path, writer.Token, nil, http.StatusNotFound, nil)
	})
}

func TestRevocation(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		admin := s.SignUp("Admin")
		bob := s.SignUp("Bob")
		other := s.SignIn(bob.Email)

		// Sign-out (GET, as Open WebUI) kills this and every other token.
		s.JSON("GET", "/api/v1/auths/signout", bob.Token, nil, http.StatusOK, nil)
		s.JSON("GET", "/api/v1/auths/", bob.Token, nil, http.StatusUnauthorized, nil)
		s.JSON("GET", "/api/v1/auths/", other, nil, http.StatusUnauthorized, nil)
		s.JSON("GET", "/api/v1/auths/signout", bob.Token, nil, http.StatusUnauthorized, nil)
		fresh := s.SignIn(bob.Email)
		s.JSON("GET", "/api/v1/auths/", fresh, nil, http.StatusOK, nil)
		s.JSON("POST", "/api/v1/auths/signout", fresh, nil, http.StatusOK, nil)
		s.JSON("GET", "/api/v1/auths/", fresh, nil, http.StatusUnauthorized, nil)

		// A role change revokes too; a pending account reads only its own
		// account.
		fresh = s.SignIn(bob.Email)
		var u quiretest.User
		s.JSON("POST", "/api/v1/users/"+bob.ID+"/update/role", admin.Token, map[string]string{"role": "pending"}, http.StatusOK, &u)
		require.Equal(t, "pending", u.Role)
		s.JSON("GET", "/api/v1/auths/", fresh, nil, http.StatusUnauthorized, nil)
		pending := s.SignIn(bob.Email)
		s.JSON("GET", "/api/v1/auths/", pending, nil, http.StatusOK, nil)
		s.JSON("GET", "/api/v1/notes/", pending, nil, http.StatusForbidden, nil)
		s.JSON("POST", "/api/v1/users/"+bob.ID+"/update/role", admin.Token, map[string]string{"role": "admin"}, http.StatusOK, nil)
		s.JSON("GET", "/api/v1/auths/", pending, nil, http.StatusUnauthorized, nil)
		promoted := s.SignIn(bob.Email)
		var me quiretest.User
		s.JSON("GET", "/api/v1/auths/", promoted, nil, http.StatusOK, &me)
		require.Equal(t, "admin", me.Role)
		s.JSON("GET", "/api/v1/users/", promoted, nil, http.StatusOK, nil)

		// The admin token was never touched.
		s.JSON("GET", "/api/v1/auths/", admin.Token, nil, http.StatusOK, nil)
		// Nobody changes their own role.
		s.JSON("POST", "/api/v1/users/"+admin.ID+"/update/role", admin.Token, map[string]string{"role": "user"}, http.StatusBadRequest, nil)
	})
}

// TestRestart stops a server and starts another on the same data.
func TestRestart(t *testing.T) {
	t.Parallel()
	for _, b := range quiretest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s1 := quiretest.New(t, b.Opts...)
			ada := s1.SignUp("Ada")
			var n note
			s1.JSON("POST", "/api/v1/notes/create", ada.Token, map[string]any{
				"title": "kept", "data": map[string]any{"content": map[string]any{"md": "still here"}},
			}, http.StatusOK, &n)
			s1.Stop()

			s2 := quiretest.New(t, quiretest.WithDataDir(s1.Config.DataDir), quiretest.WithDatabaseURL(s1.Config.DatabaseURL))
			var me quiretest.User
			s2.JSON("GET", "/api/v1/auths/", ada.Token, nil, http.StatusOK, &me)
			require.Equal(t, "admin", me.Role, "the token issued before the restart still works")
			var got note
			s2.JSON("GET", "/api/v1/notes/"+n.ID, s2.SignIn(ada.Email), nil, http.StatusOK, &got)
			require.Equal(t, "kept", got.Title)
			require.Equal(t, "still here", md(got))
			require.Equal(t, "user", s2.SignUp("Bob").Role, "the first account stays the only automatic admin")
		})
	}
}
