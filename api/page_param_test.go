package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
)

// TestPageParamAgrees: every list endpoint that takes ?page reads it the
// same way. The frontend sends a number from 1 or no page at all (a
// missing page keeps each endpoint's meaning: the whole list on /chats/
// and /notes/, the first page elsewhere); anything else, an empty value
// too, is a 400 with a detail, as Open WebUI answers 422. `page=` was
// refused on /chats/ and read as page 1 by the others.
func TestPageParamAgrees(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		ada := s.SignUp("Ada")
		newChat(s, ada.Token, frontendChat("One"))
		for _, path := range []string{
			"/api/v1/chats/?", "/api/v1/chats/list?", "/api/v1/chats/search?text=&",
			"/api/v1/chats/archived?", "/api/v1/notes/?", "/api/v1/notes/search?query=&",
			"/api/v1/users/search?",
		} {
			for _, v := range []string{"", "0", "-1", "abc", "99999999999999999999", "1.5", "+1", "1e3"} {
				r := s.Do("GET", path+"page="+v, ada.Token, nil)
				require.Equal(t, http.StatusBadRequest, r.Status, "%spage=%s: %.200s", path, v, r.Body)
				require.Contains(t, r.Detail(), "page must be an integer from 1 to ", "%spage=%s", path, v)
			}
			for _, q := range []string{"page=1", "page=2", "page=1000000", "x=1"} {
				r := s.Do("GET", path+q, ada.Token, nil)
				require.Equal(t, http.StatusOK, r.Status, "%s%s: %.200s", path, q, r.Body)
			}
		}
	})
}

// TestSkipLimitParamsAgree: ?skip and ?limit are read the same way on every
// list that takes them: an empty value is a 400, as any other value that is
// not a number in range (Open WebUI answers 422). The notes list read an
// empty one as absent: ?limit= listed every note. The stock frontend never
// sends either there (it sends ?page or nothing).
func TestSkipLimitParamsAgree(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		ada := s.SignUp("Ada")
		s.CreateNote(ada.Token, "One", "one")
		ch := createChannel(s, ada.Token, map[string]any{"name": "general"})
		for _, path := range []string{"/api/v1/notes/?", chans + ch.ID + "/messages?"} {
			for _, name := range []string{"skip", "limit"} {
				for _, v := range []string{"", "abc", "-1", "1.5"} {
					r := s.Do("GET", path+name+"="+v, ada.Token, nil)
					require.Equal(t, http.StatusBadRequest, r.Status, "%s%s=%s: %.200s", path, name, v, r.Body)
					require.Contains(t, r.Detail(), name+" must be an integer from ", "%s%s=%s", path, name, v)
				}
			}
			for _, q := range []string{"skip=0&limit=1", "skip=1", "limit=5", "x="} {
				r := s.Do("GET", path+q, ada.Token, nil)
				require.Equal(t, http.StatusOK, r.Status, "%s%s: %.200s", path, q, r.Body)
			}
		}
	})
}
