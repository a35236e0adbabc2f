package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
)

// TestChatTitleCheckedByItsKey: the title stored (and listed in every
// sidebar page) is chat.title, so that is the one checked. The check
// decoded the chat into a struct, whose keys match in any case, the last
// one winning: {"title": <any length>, "Title": "x"} passed it and stored
// the long title.
func TestChatTitleCheckedByItsKey(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		ada := s.SignUp("Ada")
		c := newChat(s, ada.Token, frontendChat("Kept"))
		before := chatSnapshot(t, s, true)
		long := strings.Repeat("t", 5000)
		for _, chat := range []string{
			`{"title":"` + long + `","Title":"short"}`,
			`{"title":"` + long + `","TITLE":"short"}`,
			// The other way round too: a key in another case is
			// refused (TestChatKeysInAnotherCase).
			`{"title":"Renamed","Title":"` + long + `"}`,
		} {
			for _, path := range []string{chatsPath + "new", chatsPath + c.ID} {
				r := s.Do("POST", path, ada.Token, `{"chat":`+chat+`}`)
				require.Equal(t, http.StatusBadRequest, r.Status, "%s %.60s: %.200s", path, chat, r.Body)
				require.NotEmpty(t, r.Detail())
			}
		}
		require.Equal(t, before, chatSnapshot(t, s, true), "no chat was made or changed")

	})
}
