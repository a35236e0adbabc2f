package api_test

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
)

// wideChat is a chat body of about limit bytes: "r" → "c" → as many
// children g0, g1, … of c (each naming it) as fit.
func wideChat(limit int) (body string, n int) {
	var ids, msgs strings.Builder
	for ; ids.Len()+msgs.Len() < limit-200; n++ {
		if n > 0 {
			ids.WriteByte(',')
		}
		fmt.Fprintf(&ids, `"g%d"`, n)
		fmt.Fprintf(&msgs, `,"g%d":{"parentId":"c"}`, n)
	}
	return `{"chat":{"title":"wide","history":{"currentId":"c","messages":{"r":{"childrenIds":["c"]},` +
		`"c":{"parentId":"r","childrenIds":[` + ids.String() + `]}` + msgs.String() + `}}}}`, n
}

// TestChatEditsOfAWideTree: a chat whose message has tens of thousands of
// children can be merged into and have messages deleted, and the tree is
// right after each. The merge's re-linking and the delete's gathering of
// the children searched a list per child, n² steps under the chat's row
// lock (on SQLite the one write lock of the server): at the size limit
// (8 MiB, ~300,000 children) minutes. The test uses 1 MiB, where the old
// code took seconds, so that it cannot fail on a slow machine (-race).
func TestChatEditsOfAWideTree(t *testing.T) {
	t.Parallel()
	s := quiretest.New(t)
	bob := s.SignUp("Bob")
	body, n := wideChat(1 << 20)
	messages := func(c chatResp) map[string]any {
		return c.Chat["history"].(map[string]any)["messages"].(map[string]any)
	}

	var c chatResp
	s.JSON("POST", "/api/v1/chats/new", bob.Token, body, http.StatusOK, &c)
	// A merge that leaves stored messages out re-links every parent.
	s.JSON("POST", "/api/v1/chats/"+c.ID, bob.Token, `{"chat":{"history":{"messages":{"new":{}}}}}`, http.StatusOK, &c)
	require.Len(t, messages(c), n+3)
	// Deleting r takes c with it; c's children move up to the top.
	s.JSON("DELETE", "/api/v1/chats/"+c.ID+"/messages/r", bob.Token, nil, http.StatusOK, &c)
	msgs := messages(c)
	require.Len(t, msgs, n+1)
	require.Nil(t, msgs["g0"].(map[string]any)["parentId"])
	require.NotContains(t, msgs, "c")
	require.Equal(t, "new", c.Chat["history"].(map[string]any)["currentId"], "the newest message at the top")

	// Deleting c from a new copy takes its children with it.
	s.JSON("POST", "/api/v1/chats/new", bob.Token, body, http.StatusOK, &c)
	s.JSON("DELETE", "/api/v1/chats/"+c.ID+"/messages/c", bob.Token, nil, http.StatusOK, &c)
	require.Equal(t, []string{"r"}, slices.Collect(maps.Keys(messages(c))))
	require.Equal(t, "r", c.Chat["history"].(map[string]any)["currentId"])
	require.Zero(t, s.InternalErrors())
}
