package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
)

// TestHostileButWellFormed: odd JSON that parses is either stored or
// refused with a 4xx, never a 500 (eachBackend asserts none happened).
func TestHostileButWellFormed(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		bob := s.SignUp("Bob")
		deep := strings.Repeat(`{"a":`, 5000) + `1` + strings.Repeat(`}`, 5000)
		deepArr := strings.Repeat(`[`, 9000) + strings.Repeat(`]`, 9000)
		bodies := []string{
			`{"title":"x","meta":{"n":1e400}}`,
			`{"title":"x","meta":{"n":1e999999}}`,
			`{"title":"x","meta":{"n":-0.0000000000000000000000000001}}`,
			`{"title":"x","meta":` + deep + `}`,
			`{"title":"x","meta":{"d":` + deepArr + `}}`,
			`{"title":"\ud800","data":{"k\udfff":"\ud83d"}}`,
			`{"title":"x","meta":{"":{"":""}}}`,
			`{"title":"` + strings.Repeat("é", 1000) + `"}`,
			`{"title":"x","title":"y"}`,
			`{"title":"x","data":{"content":{"md":null,"html":null,"json":null}}}`,
			`{"title":"x","data":{"content":{"json":{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"hi"}]}]}}}}`,
		}
		for _, b := range bodies {
			r := s.Do("POST", "/api/v1/notes/create", bob.Token, b)
			require.Less(t, r.Status, 500, "%.80s: %s", b, r.Body)
			if r.Status == http.StatusOK {
				var n note
				r.Decode(t, &n)
				s.JSON("GET", "/api/v1/notes/"+n.ID, bob.Token, nil, http.StatusOK, nil)
				up := s.Do("POST", "/api/v1/notes/"+n.ID+"/update", bob.Token, b)
				require.Less(t, up.Status, 500, "update %.80s: %s", b, up.Body)
			}
		}
		s.JSON("GET", "/api/v1/notes/", bob.Token, nil, http.StatusOK, nil)
	})
}
