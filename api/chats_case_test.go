package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
)

// TestChatKeysInAnotherCase: the server reads a chat's members by their
// exact keys (title, history, messages; history's messages and
// currentId; a message's id, role, parentId, childrenIds, done), as the
// frontend does; its checks decoded into structs, whose keys match in any
// case with the last one winning, so a second key in another case slipped
// a value past them that was then stored under the exact key. A key that
// differs from one of those only in case is refused, and nothing changes.
func TestChatKeysInAnotherCase(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		ada := s.SignUp("Ada")
		c := newChat(s, ada.Token, frontendChat("Kept"))
		before := chatSnapshot(t, s, true)
		msg := `{"id":"m1","role":"user","content":"hi","parentId":null,"childrenIds":[]}`
		for _, chat := range []string{
			`{"messages":[null],"Messages":[]}`,
			`{"messages":[1],"MESSAGES":[]}`,
			`{"messages":[{"id":"m1","childrenIds":"x","ChildrenIds":[]}]}`,
			`{"messages":[{"id":"m1","done":"yes","Done":true}]}`,
			`{"history":{"messages":{"m1":null},"Messages":{}}}`,
			`{"history":{"messages":{"m1":` + msg + `},"currentId":{"x":1},"CurrentId":"m1"}}`,
			`{"history":{"messages":{"m1":{"id":"m1","parentId":5,"ParentID":null}}}}`,
			`{"history":{"messages":{"m1":{"id":"m1","role":[],"Role":"user"}}}}`,
			`{"history":{"messages":{"m1":{"id":7,"ID":"m1"}}}}`,
			`{"history":"x","History":{}}`,
			// One key alone in another case is read by the merge's
			// decoding as the member, by the frontend as nothing.
			`{"history":{"messages":{"m1":{"id":"m1","ParentId":"m0"}}}}`,
			// The long s folds to s in encoding/json's matching.
			`{"meſſages":[null]}`,
		} {
			for _, path := range []string{chatsPath + "new", chatsPath + c.ID} {
				r := s.Do("POST", path, ada.Token, `{"chat":`+chat+`}`)
				require.Equal(t, http.StatusBadRequest, r.Status, "%s %s: %.200s", path, chat, r.Body)
				require.NotEmpty(t, r.Detail())
			}
		}
		require.Equal(t, before, chatSnapshot(t, s, true), "no chat was made or changed")

		// Other keys in any case are the client's business.
		r := s.Do("POST", chatsPath+c.ID, ada.Token, `{"chat":{"title":"Renamed","Foo":1,"foo":2,"history":{"messages":{"m1":{"id":"m1","Content":"x","content":"y"}},"currentId":"m1"}}}`)
		require.Equal(t, http.StatusOK, r.Status, "%.200s", r.Body)
	})
}
