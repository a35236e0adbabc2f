package api_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
	"github.com/quire/quire/server"
)

// eachBackendWith is eachBackend with extra server options.
func eachBackendWith(t *testing.T, fn func(t *testing.T, s *quiretest.Server), opts ...quiretest.Option) {
	t.Helper()
	for _, b := range quiretest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s := quiretest.New(t, append(append([]quiretest.Option{}, b.Opts...), opts...)...)
			fn(t, s)
			require.Zero(t, s.InternalErrors(), "the server answered 500 or panicked")
		})
	}
}

func signupBody(name string) map[string]string {
	return map[string]string{"name": name, "email": name + "@example.com", "password": quiretest.Password}
}

// TestSignupDisabled: with sign-up off the first account is still made (and
// is the admin); every later one gets 403 with a detail and is not created.
func TestSignupDisabled(t *testing.T) {
	t.Parallel()
	eachBackendWith(t, func(t *testing.T, s *quiretest.Server) {
		admin := s.SignUp("Admin")
		require.Equal(t, "admin", admin.Role)
		r := s.Do("POST", "/api/v1/auths/signup", "", signupBody("late"))
		require.Equal(t, http.StatusForbidden, r.Status, "%s", r.Body)
		require.NotEmpty(t, r.Detail())
		var users struct {
			Total int `json:"total"`
		}
		s.JSON("GET", "/api/v1/users/", admin.Token, nil, http.StatusOK, &users)
		require.Equal(t, 1, users.Total, "the refused sign-up created nothing")
	}, quiretest.WithConfig(func(c *server.Config) { c.SignupDisabled = true }))
}

// TestSignupDisabledRacingFirst: with sign-up off, sign-ups racing on an
// empty database make exactly one account (the admin); the others get 403.
func TestSignupDisabledRacingFirst(t *testing.T) {
	t.Parallel()
	eachBackendWith(t, func(t *testing.T, s *quiretest.Server) {
		const n = 6
		status := make([]int, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				status[i] = s.Do("POST", "/api/v1/auths/signup", "", signupBody(fmt.Sprintf("racer%d", i))).Status
			})
		}
		close(start)
		wg.Wait()
		made := 0
		for _, st := range status {
			switch st {
			case http.StatusOK:
				made++
			case http.StatusForbidden:
			default:
				t.Fatalf("sign-up answered %d", st)
			}
		}
		require.Equal(t, 1, made, "statuses %v", status)
		users, err := s.Store().ListUsers(context.Background())
		require.NoError(t, err)
		require.Len(t, users, 1)
		require.Equal(t, "admin", users[0].Role)
	}, quiretest.WithConfig(func(c *server.Config) { c.SignupDisabled = true }))
}

// TestPendingDefaultRole: with --default-user-role pending the first account
// is still admin; later ones are pending: they sign in and read
// GET /api/v1/auths/, and get 403 on every other route until an admin
// makes them users.
func TestPendingDefaultRole(t *testing.T) {
	t.Parallel()
	eachBackendWith(t, func(t *testing.T, s *quiretest.Server) {
		admin := s.SignUp("Admin")
		require.Equal(t, "admin", admin.Role)
		pat := s.SignUp("Pat")
		require.Equal(t, "pending", pat.Role)
		note := s.CreateNote(admin.Token, "t", "x")

		tok := s.SignIn(pat.Email)
		var me quiretest.User
		s.JSON("GET", "/api/v1/auths/", tok, nil, http.StatusOK, &me)
		require.Equal(t, "pending", me.Role)
		for _, rq := range []struct{ method, path string }{
			{"GET", "/api/v1/notes/"}, {"GET", "/api/v1/notes/" + note},
			{"POST", "/api/v1/notes/create"}, {"GET", "/api/v1/users/search?query=admin"},
			{"GET", "/api/v1/users/active"}, {"GET", "/api/v1/users/"},
			{"DELETE", "/api/v1/notes/" + note + "/delete"},
		} {
			var body any
			if rq.method == "POST" {
				body = map[string]any{"title": "x"}
			}
			r := s.Do(rq.method, rq.path, tok, body)
			require.Equal(t, http.StatusForbidden, r.Status, "%s %s: %s", rq.method, rq.path, r.Body)
			require.NotEmpty(t, r.Detail())
		}

		s.JSON("POST", "/api/v1/users/"+pat.ID+"/update/role", admin.Token, map[string]string{"role": "user"}, http.StatusOK, nil)
		tok = s.SignIn(pat.Email)
		s.JSON("GET", "/api/v1/notes/", tok, nil, http.StatusOK, nil)
	}, quiretest.WithConfig(func(c *server.Config) { c.DefaultUserRole = "pending" }))
}
