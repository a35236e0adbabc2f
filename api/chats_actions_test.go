package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
)

type chatEntry struct {
	ID         string `json:"id"`
	Title      string `json:"title"`
	LastReadAt *int64 `json:"last_read_at"`
}

func newChatID(s *quiretest.Server, tok string, chat map[string]any) string {
	return newChat(s, tok, chat).ID
}

func chatEntries(t *testing.T, s *quiretest.Server, tok, path string) []chatEntry {
	t.Helper()
	var out []chatEntry
	s.JSON("GET", path, tok, nil, http.StatusOK, &out)
	return out
}

func chatTitles(es []chatEntry) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.Title)
	}
	return out
}

// The sidebar's search: the caller's chats that are not archived whose
// title holds the text, any case, newest first, paged; the archived list
// and its count; bad input is 400.
func TestChatSearchAndArchived(t *testing.T) {
	t.Parallel()
	s := quiretest.New(t)
	alice, bob := s.SignUp("Alice"), s.SignUp("Bob")
	newChatID(s, alice.Token, map[string]any{"title": "Plan A"})
	newChatID(s, alice.Token, map[string]any{"title": "Other"})
	newChatID(s, alice.Token, map[string]any{"title": "the PLAN b"})
	gone := newChatID(s, alice.Token, map[string]any{"title": "Plan archived"})
	newChatID(s, bob.Token, map[string]any{"title": "Bob's plan"})
	s.JSON("POST", "/api/v1/chats/"+gone+"/archive", alice.Token, nil, http.StatusOK, nil)

	require.ElementsMatch(t, []string{"the PLAN b", "Plan A"}, chatTitles(chatEntries(t, s, alice.Token, "/api/v1/chats/search?text=plan&page=1")))
	require.Len(t, chatEntries(t, s, alice.Token, "/api/v1/chats/search?text=&page=1"), 3)
	require.Empty(t, chatEntries(t, s, alice.Token, "/api/v1/chats/search?text=plan&page=2"))
	require.Equal(t, []string{"Bob's plan"}, chatTitles(chatEntries(t, s, bob.Token, "/api/v1/chats/search?text=PLAN")))
	require.Equal(t, []string{"Plan archived"}, chatTitles(chatEntries(t, s, alice.Token, "/api/v1/chats/archived?page=1")))
	require.Empty(t, chatEntries(t, s, bob.Token, "/api/v1/chats/archived?page=1"))
	var n struct {
		Count int `json:"count"`
	}
	s.JSON("GET", "/api/v1/chats/archived/count", alice.Token, nil, http.StatusOK, &n)
	require.Equal(t, 1, n.Count)

	for _, c := range []struct{ path, detail string }{
		{"/api/v1/chats/search?text=x&page=0", "page must be an integer from 1 to 1000000"},
		{"/api/v1/chats/search?text=x&page=x", "page must be an integer from 1 to 1000000"},
		{"/api/v1/chats/search?text=%00", "text must be at most 500 characters of text"},
		{"/api/v1/chats/search?text=" + strings.Repeat("x", 501), "text must be at most 500 characters of text"},
		{"/api/v1/chats/archived?page=-1", "page must be an integer from 1 to 1000000"},
	} {
		r := s.Do("GET", c.path, alice.Token, nil)
		require.Equal(t, http.StatusBadRequest, r.Status, c.path)
		require.Equal(t, c.detail, r.Detail(), c.path)
	}
	require.Equal(t, http.StatusUnauthorized, s.Do("GET", "/api/v1/chats/search?text=x", "", nil).Status)
	require.Zero(t, s.InternalErrors())
}

// Mark as unread clears the caller's read time of a chat; mark all as
// read sets every one; another account's chat is 404 and stays as it was.
func TestChatReadMarks(t *testing.T) {
	t.Parallel()
	s := quiretest.New(t)
	alice, bob := s.SignUp("Alice"), s.SignUp("Bob")
	a1 := newChatID(s, alice.Token, map[string]any{"title": "one"})
	newChatID(s, alice.Token, map[string]any{"title": "two"})
	b1 := newChatID(s, bob.Token, map[string]any{"title": "bob's"})

	s.JSON("POST", "/api/v1/chats/"+a1+"/unread", alice.Token, nil, http.StatusOK, nil)
	for _, e := range chatEntries(t, s, alice.Token, "/api/v1/chats/?page=1") {
		require.Equal(t, e.ID != a1, e.LastReadAt != nil, e.Title)
	}
	for _, id := range []string{b1, "no-such-chat"} {
		r := s.Do("POST", "/api/v1/chats/"+id+"/unread", alice.Token, nil)
		require.Equal(t, http.StatusNotFound, r.Status)
	}
	require.NotNil(t, chatEntries(t, s, bob.Token, "/api/v1/chats/?page=1")[0].LastReadAt, "Bob's chat stays read")

	s.JSON("POST", "/api/v1/chats/"+b1+"/unread", bob.Token, nil, http.StatusOK, nil)
	s.JSON("POST", "/api/v1/chats/read", alice.Token, nil, http.StatusOK, nil)
	for _, e := range chatEntries(t, s, alice.Token, "/api/v1/chats/?page=1") {
		require.NotNil(t, e.LastReadAt, e.Title)
	}
	require.Nil(t, chatEntries(t, s, bob.Token, "/api/v1/chats/?page=1")[0].LastReadAt, "only the caller's chats")
	require.Zero(t, s.InternalErrors())
}

// Clone copies the caller's chat into a new one ("Clone of …" or the
// title sent); fork copies it down to a message, without other branches.
// Another account's chat, an unknown message, a bad title: 4xx, and no
// chat is made.
func TestChatCloneAndFork(t *testing.T) {
	t.Parallel()
	s := quiretest.New(t)
	alice, bob := s.SignUp("Alice"), s.SignUp("Bob")
	msg := func(id, role string, parent any, children ...string) map[string]any {
		if children == nil {
			children = []string{}
		}
		return map[string]any{"id": id, "role": role, "content": id + " text", "parentId": parent, "childrenIds": children}
	}
	src := newChatID(s, alice.Token, map[string]any{"title": "Source", "models": []string{"m"},
		"history": map[string]any{"currentId": "a2", "messages": map[string]any{
			"u1": msg("u1", "user", nil, "a1", "a1b"), "a1": msg("a1", "assistant", "u1", "u2"),
			"a1b": msg("a1b", "assistant", "u1"), "u2": msg("u2", "user", "a1", "a2"), "a2": msg("a2", "assistant", "u2"),
		}}})
	b1 := newChatID(s, bob.Token, map[string]any{"title": "bob's"})

	var clone storedChat
	s.JSON("POST", "/api/v1/chats/"+src+"/clone", alice.Token, map[string]any{}, http.StatusOK, &clone)
	require.NotEqual(t, src, clone.ID)
	require.Equal(t, alice.ID, clone.UserID)
	require.Equal(t, "Clone of Source", clone.Title)
	require.Len(t, clone.Chat.History.Messages, 5)
	require.Equal(t, "a2", clone.Chat.History.CurrentID)
	s.JSON("POST", "/api/v1/chats/"+src+"/clone", alice.Token, map[string]any{"title": "Mine"}, http.StatusOK, &clone)
	require.Equal(t, "Mine", clone.Title)

	var fork storedChat
	s.JSON("POST", "/api/v1/chats/"+src+"/fork", alice.Token, map[string]any{"message_id": "a1"}, http.StatusOK, &fork)
	require.Equal(t, "Fork of Source", fork.Title)
	require.Equal(t, "a1", fork.Chat.History.CurrentID)
	require.Len(t, fork.Chat.History.Messages, 2)
	require.Equal(t, []any{"a1"}, fork.Chat.History.Messages["u1"]["childrenIds"])
	require.Equal(t, []any{}, fork.Chat.History.Messages["a1"]["childrenIds"])
	require.Len(t, fork.Chat.Messages, 2)
	s.JSON("POST", "/api/v1/chats/"+src+"/fork", alice.Token, map[string]any{"message_id": nil}, http.StatusOK, &fork)
	require.Len(t, fork.Chat.History.Messages, 4, "the current branch")

	before := len(chatEntries(t, s, alice.Token, "/api/v1/chats/?page=1"))
	for _, c := range []struct {
		path   string
		body   any
		status int
		detail string
	}{
		{"/api/v1/chats/" + b1 + "/clone", map[string]any{}, 404, "Not found"},
		{"/api/v1/chats/" + b1 + "/fork", map[string]any{}, 404, "Not found"},
		{"/api/v1/chats/" + src + "/fork", map[string]any{"message_id": "nope"}, 404, "Message not found"},
		{"/api/v1/chats/" + src + "/fork", map[string]any{"message_id": 5}, 400, `field "message_id" must be a string`},
		{"/api/v1/chats/" + src + "/clone", map[string]any{"title": " "}, 400, "title must be a non-empty text of at most 1000 characters"},
		{"/api/v1/chats/" + src + "/clone", `{"title":`, 400, "request body is not valid JSON"},
	} {
		r := s.Do("POST", c.path, alice.Token, c.body)
		require.Equal(t, c.status, r.Status, "%s %v: %s", c.path, c.body, r.Body)
		require.Equal(t, c.detail, r.Detail(), "%s %v", c.path, c.body)
	}
	require.Len(t, chatEntries(t, s, alice.Token, "/api/v1/chats/?page=1"), before, "no chat was made")

	// Tags are not modelled: a change says so; another account's chat is
	// 404 all the same.
	for _, m := range []string{"POST", "DELETE"} {
		r := s.Do(m, "/api/v1/chats/"+src+"/tags", alice.Token, map[string]any{"name": "work"})
		require.Equal(t, http.StatusBadRequest, r.Status)
		require.Equal(t, "Tags are not supported yet", r.Detail())
		require.Equal(t, http.StatusNotFound, s.Do(m, "/api/v1/chats/"+b1+"/tags", alice.Token, map[string]any{"name": "work"}).Status)
	}
	require.Len(t, chatEntries(t, s, bob.Token, "/api/v1/chats/?page=1"), 1)
	require.Zero(t, s.InternalErrors())
}
