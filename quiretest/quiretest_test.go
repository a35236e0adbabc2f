package quiretest_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
)

func TestHelpers(t *testing.T) {
	t.Parallel()
	for _, b := range quiretest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s := quiretest.New(t, b.Opts...)
			owner, reader := s.SignUp("Owner"), s.SignUp("Reader")
			require.Equal(t, "admin", owner.Role)
			id := s.CreateNote(owner.Token, "t", "hello")
			require.Equal(t, http.StatusNotFound, s.Do("GET", "/api/v1/notes/"+id, reader.Token, nil).Status)
			s.Share(owner.Token, id, reader.ID, "read")
			var n struct {
				Title string `json:"title"`
			}
			s.JSON("GET", "/api/v1/notes/"+id, s.SignIn(reader.Email), nil, http.StatusOK, &n)
			require.Equal(t, "t", n.Title)
			r := s.Do("GET", "/api/v1/notes/"+id, "", nil)
			require.Equal(t, http.StatusUnauthorized, r.Status)
			require.NotEmpty(t, r.Detail())
		})
	}
}
