package api_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
)

// TestChannelMessagePageBound: a page of a channel's messages or of a
// thread holds at most 200 messages (Open WebUI's frontend asks for 50 at
// a time and takes a shorter page as the top; Quire's app reads a
// thread's newest 200); a larger ?limit, or 0, is refused rather than
// answered with up to 1,000 messages of up to 64 KB of content each. The
// frontend's paging still reaches every message.
func TestChannelMessagePageBound(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		admin := s.SignUp("Admin")
		ch := createChannel(s, admin.Token, map[string]any{"name": "pages"})
		root := post(s, admin.Token, ch.ID, map[string]any{"content": "root"})
		for i := range 110 {
			post(s, admin.Token, ch.ID, map[string]any{"content": strconv.Itoa(i)})
		}
		thread := chans + ch.ID + "/messages/" + root.ID + "/thread"
		for _, path := range []string{chans + ch.ID + "/messages", thread} {
			for _, q := range []string{"?limit=201", "?limit=1000", "?limit=0", "?skip=5&limit=1073741824", "?limit="} {
				r := s.Do("GET", path+q, admin.Token, nil)
				require.Equal(t, http.StatusBadRequest, r.Status, "%s%s: %.200s", path, q, r.Body)
				require.Contains(t, r.Detail(), "limit must be an integer from 1 to 200", "%s%s", path, q)
			}
		}
		require.Len(t, messages(s, admin.Token, ch.ID, "?limit=100"), 100)
		require.Len(t, messages(s, admin.Token, ch.ID, "?limit=200"), 111)
		require.Len(t, messages(s, admin.Token, ch.ID, ""), 50, "no limit: the frontend's page")

		// The frontend's paging: skip what it holds, 50 at a time, until
		// a page is short.
		var all []message
		for {
			page := messages(s, admin.Token, ch.ID, "?skip="+strconv.Itoa(len(all))+"&limit=50")
			all = append(all, page...)
			if len(page) < 50 {
				break
			}
		}
		require.Len(t, all, 111)
		require.Equal(t, root.ID, all[110].ID, "oldest last")
	})
}
