package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
	"github.com/quire/quire/storage"
)

const chatsPath = "/api/v1/chats/"

// chatResp and chatTitle are Open WebUI's ChatResponse and
// ChatTitleIdResponse as the frontend decodes them.
type chatResp struct {
	ID         string         `json:"id"`
	UserID     string         `json:"user_id"`
	Title      string         `json:"title"`
	Chat       map[string]any `json:"chat"`
	UpdatedAt  int64          `json:"updated_at"`
	CreatedAt  int64          `json:"created_at"`
	ShareID    *string        `json:"share_id"`
	FolderID   *string        `json:"folder_id"`
	Archived   bool           `json:"archived"`
	Pinned     bool           `json:"pinned"`
	Meta       map[string]any `json:"meta"`
	LastReadAt *int64         `json:"last_read_at"`
}

type chatTitle struct {
	ID         string `json:"id"`
	Title      string `json:"title"`
	UpdatedAt  int64  `json:"updated_at"`
	CreatedAt  int64  `json:"created_at"`
	LastReadAt *int64 `json:"last_read_at"`
}

// msg is a message as the frontend builds it.
func msg(id, role, parent, content string, children ...string) map[string]any {
	var p any
	if parent != "" {
		p = parent
	}
	if children == nil {
		children = []string{}
	}
	m := map[string]any{"id": id, "parentId": p, "childrenIds": children, "role": role, "content": content, "timestamp": 1700000000}
	if role == "assistant" {
		m["model"], m["done"] = "m1", true
	}
	return m
}

// frontendChat is the chat object the stock frontend saves: a user
// message and the assistant's placeholder.
func frontendChat(title string) map[string]any {
	u, a := msg("u1", "user", "", "hello", "a1"), msg("a1", "assistant", "u1", "")
	a["done"] = false
	return map[string]any{
		"id": "", "title": title, "models": []string{"m1"}, "params": map[string]any{},
		"history":  map[string]any{"messages": map[string]any{"u1": u, "a1": a}, "currentId": "a1"},
		"messages": []any{u, a}, "tags": []any{}, "timestamp": 1700000000000,
	}
}

func newChat(s *quiretest.Server, token string, chat map[string]any) chatResp {
	var c chatResp
	s.JSON("POST", chatsPath+"new", token, map[string]any{"chat": chat, "folder_id": nil}, http.StatusOK, &c)
	return c
}

func chatIDs(l []chatTitle) []string {
	out := make([]string, len(l))
	for i, c := range l {
		out[i] = c.ID
	}
	return out
}

func history(c chatResp) (map[string]any, any) {
	h := c.Chat["history"].(map[string]any)
	return h["messages"].(map[string]any), h["currentId"]
}

// TestChatsREST walks the routes the stock frontend's chat page and sidebar
// use: create, read, list (newest first, paged, pinned apart), update by
// merging, pin, archive, tags, delete a message, delete the chat.
func TestChatsREST(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		ctx := context.Background()
		s.SignUp("Admin")
		ada := s.SignUp("Ada")

		c := newChat(s, ada.Token, frontendChat("First"))
		require.NotEmpty(t, c.ID)
		require.Equal(t, ada.ID, c.UserID)
		require.Equal(t, "First", c.Title)
		require.Nil(t, c.ShareID)
		require.Nil(t, c.FolderID)
		require.False(t, c.Pinned || c.Archived)
		require.Equal(t, map[string]any{}, c.Meta)
		require.NotNil(t, c.LastReadAt, "a new chat is read")
		require.Equal(t, c.UpdatedAt, *c.LastReadAt)
		require.Less(t, c.CreatedAt, int64(1e11), "epoch seconds")
		msgs, cur := history(c)
		require.Equal(t, "a1", cur)
		require.Equal(t, "hello", msgs["u1"].(map[string]any)["content"])

		var got chatResp
		s.JSON("GET", chatsPath+c.ID, ada.Token, nil, http.StatusOK, &got)
		require.Equal(t, c, got)

		// A chat without a title gets Open WebUI's.
		untitled := newChat(s, ada.Token, map[string]any{"models": []string{"m1"}})
		require.Equal(t, "New Chat", untitled.Title)

		// Updates merge: the rename keeps the history; a copy without a
		// message saved since keeps it; a stale placeholder does not undo
		// a finished answer; the sender's currentId wins when it exists.
		var renamed chatResp
		s.JSON("POST", chatsPath+c.ID, ada.Token, map[string]any{"chat": map[string]any{"title": "Renamed"}}, http.StatusOK, &renamed)
		require.Equal(t, "Renamed", renamed.Title)
		require.Equal(t, "Renamed", renamed.Chat["title"])
		require.Equal(t, c.Chat["history"], renamed.Chat["history"])
		require.Equal(t, c.Chat["models"], renamed.Chat["models"])

		done := frontendChat("Renamed")
		h := done["history"].(map[string]any)
		dm := h["messages"].(map[string]any)
		dm["a1"] = msg("a1", "assistant", "u1", "the answer")
		dm["u2"], dm["a2"] = msg("u2", "user", "a1", "more", "a2"), msg("a2", "assistant", "u2", "second")
		dm["a1"].(map[string]any)["childrenIds"] = []string{"u2"}
		h["currentId"] = "a2"
		s.JSON("POST", chatsPath+c.ID, ada.Token, map[string]any{"chat": done}, http.StatusOK, nil)

		stale := frontendChat("Renamed") // a1 unfinished, u2/a2 unknown to the writer
		stale["history"].(map[string]any)["currentId"] = "nope"
		stale["models"] = []string{"m2"}
		var merged chatResp
		s.JSON("POST", chatsPath+c.ID, ada.Token, map[string]any{"chat": stale}, http.StatusOK, &merged)
		msgs, cur = history(merged)
		require.Equal(t, "a2", cur, "the stored currentId stands when the sent one names no message")
		require.Len(t, msgs, 4, "no message was lost")
		require.Equal(t, "the answer", msgs["a1"].(map[string]any)["content"], "the finished answer stands")
		require.Equal(t, true, msgs["a1"].(map[string]any)["done"])
		require.Equal(t, []any{"u2"}, msgs["a1"].(map[string]any)["childrenIds"])
		require.Equal(t, []any{"m2"}, merged.Chat["models"], "top-level keys are replaced")

		// A finished copy does replace it (an edit of the answer).
		edited := map[string]any{"history": map[string]any{"messages": map[string]any{"a1": msg("a1", "assistant", "u1", "edited", "u2")}}}
		s.JSON("POST", chatsPath+c.ID, ada.Token, map[string]any{"chat": edited}, http.StatusOK, &merged)
		msgs, cur = history(merged)
		require.Equal(t, "edited", msgs["a1"].(map[string]any)["content"])
		require.Equal(t, "a2", cur)

		// Key order survives updates (the frontend walks history.messages
		// in order to find the first messages).
		var oc chatResp
		s.JSON("POST", chatsPath+"new", ada.Token, `{"chat":{"title":"O","models":["m1"],"history":{"messages":`+
			`{"zz":{"id":"zz","role":"user"},"aa":{"id":"aa","role":"user"}},"currentId":"aa"}}}`, http.StatusOK, &oc)
		s.JSON("POST", chatsPath+oc.ID, ada.Token, `{"chat":{"title":"O2","history":{"messages":{"mm":{"id":"mm","role":"user"}}}}}`, http.StatusOK, nil)
		raw := string(s.JSON("GET", chatsPath+oc.ID, ada.Token, nil, http.StatusOK, nil).Body)
		require.Regexp(t, `"title":"O2","models":.*"zz":.*"aa":.*"mm":`, raw)
		s.JSON("DELETE", chatsPath+oc.ID, ada.Token, nil, http.StatusOK, nil)

		// Deleting a user message takes its answers; their replies move up.
		var trimmed chatResp
		s.JSON("DELETE", chatsPath+c.ID+"/messages/u2", ada.Token, nil, http.StatusOK, &trimmed)
		msgs, cur = history(trimmed)
		require.Equal(t, []string{"a1", "u1"}, slices.Sorted(mapKeys(msgs)))
		require.Equal(t, []any{}, msgs["a1"].(map[string]any)["childrenIds"])
		require.Equal(t, "a1", cur, "the newest leaf below the deleted message's parent")
		require.Equal(t, http.StatusNotFound, s.Do("DELETE", chatsPath+c.ID+"/messages/u2", ada.Token, nil).Status)

		// Listing: newest first, paged by 60, pinned apart, archived not at all.
		var ids []string
		for i := range 61 {
			ids = append(ids, newChat(s, ada.Token, map[string]any{"title": fmt.Sprint("chat ", i)}).ID)
		}
		ids = append(ids, c.ID, untitled.ID)
		for i, id := range ids { // distinct times, so the order is known
			_, err := s.Store().UpdateChat(ctx, id, func(x *storage.Chat) error { x.UpdatedAt = int64(1000 + i); return nil })
			require.NoError(t, err)
		}
		slices.Reverse(ids)
		var page1, page2, page3, all []chatTitle
		s.JSON("GET", chatsPath+"?page=1", ada.Token, nil, http.StatusOK, &page1)
		s.JSON("GET", chatsPath+"?page=2", ada.Token, nil, http.StatusOK, &page2)
		s.JSON("GET", chatsPath+"?page=3", ada.Token, nil, http.StatusOK, &page3)
		s.JSON("GET", chatsPath+"list", ada.Token, nil, http.StatusOK, &all)
		require.Equal(t, ids[:60], chatIDs(page1))
		require.Equal(t, ids[60:], chatIDs(page2))
		require.Empty(t, page3)
		require.NotNil(t, page3, "an empty page is []")
		require.Equal(t, ids, chatIDs(all))
		require.Equal(t, int64(1000+61), all[1].UpdatedAt)
		require.Equal(t, "Renamed", all[1].Title)

		var pin chatResp
		s.JSON("POST", chatsPath+c.ID+"/pin", ada.Token, nil, http.StatusOK, &pin)
		require.True(t, pin.Pinned)
		require.Equal(t, int64(1000+61), pin.UpdatedAt, "pinning is no news")
		var pinned []chatTitle
		var isPinned bool
		s.JSON("GET", chatsPath+"pinned", ada.Token, nil, http.StatusOK, &pinned)
		require.Equal(t, []string{c.ID}, chatIDs(pinned))
		s.JSON("GET", chatsPath+c.ID+"/pinned", ada.Token, nil, http.StatusOK, &isPinned)
		require.True(t, isPinned)
		s.JSON("GET", chatsPath+"?page=1", ada.Token, nil, http.StatusOK, &page1)
		require.NotContains(t, chatIDs(page1), c.ID, "the main list leaves pinned chats to the pinned list")
		s.JSON("GET", chatsPath+"?include_pinned=true", ada.Token, nil, http.StatusOK, &all)
		require.Equal(t, ids, chatIDs(all))

		s.JSON("POST", chatsPath+untitled.ID+"/archive", ada.Token, nil, http.StatusOK, &got)
		require.True(t, got.Archived)
		s.JSON("GET", chatsPath+"?include_pinned=true", ada.Token, nil, http.StatusOK, &all)
		require.NotContains(t, chatIDs(all), untitled.ID)
		s.JSON("POST", chatsPath+untitled.ID+"/archive", ada.Token, nil, http.StatusOK, &got)
		require.False(t, got.Archived, "archive toggles")

		var tags []any
		s.JSON("GET", chatsPath+"all/tags", ada.Token, nil, http.StatusOK, &tags)
		require.NotNil(t, tags)
		require.Empty(t, tags)
		s.JSON("GET", chatsPath+c.ID+"/tags", ada.Token, nil, http.StatusOK, &tags)
		require.Empty(t, tags)

		var deleted bool
		s.JSON("DELETE", chatsPath+c.ID, ada.Token, nil, http.StatusOK, &deleted)
		require.True(t, deleted)
		s.JSON("GET", chatsPath+c.ID, ada.Token, nil, http.StatusNotFound, nil)
		s.JSON("GET", chatsPath+"pinned", ada.Token, nil, http.StatusOK, &pinned)
		require.Empty(t, pinned)
	})
}

func mapKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestChatsOwnerOnly: another account's chat is 404 on every route, as if
// absent, and it lists nowhere but the owner's; admins may read and delete
// any chat (Open WebUI's admin chat access) but change none.
func TestChatsOwnerOnly(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		admin, ada, bob := s.SignUp("Admin"), s.SignUp("Ada"), s.SignUp("Bob")
		c := newChat(s, ada.Token, frontendChat("Private"))
		p := chatsPath + c.ID
		for _, tok := range []string{bob.Token, admin.Token} {
			for _, r := range [][2]string{{"POST", p}, {"POST", p + "/pin"}, {"POST", p + "/archive"}, {"GET", p + "/pinned"},
				{"GET", p + "/tags"}, {"DELETE", p + "/messages/u1"}} {
				var body any
				if r[1] == p {
					body = map[string]any{"chat": map[string]any{"title": "mine now"}}
				}
				resp := s.Do(r[0], r[1], tok, body)
				require.Equal(t, http.StatusNotFound, resp.Status, "%s %s: %s", r[0], r[1], resp.Body)
				require.NotEmpty(t, resp.Detail())
			}
		}
		s.JSON("GET", p, bob.Token, nil, http.StatusNotFound, nil)
		s.JSON("DELETE", p, bob.Token, nil, http.StatusNotFound, nil)
		var lists []chatTitle
		s.JSON("GET", chatsPath, bob.Token, nil, http.StatusOK, &lists)
		require.Empty(t, lists)
		s.JSON("GET", chatsPath, admin.Token, nil, http.StatusOK, &lists)
		require.Empty(t, lists, "an admin's own list is its own")

		var got chatResp
		s.JSON("GET", p, ada.Token, nil, http.StatusOK, &got)
		require.Equal(t, c, got, "nothing the others tried changed it")
		s.JSON("GET", p, admin.Token, nil, http.StatusOK, &got)
		require.Equal(t, c, got)
		s.JSON("DELETE", p, admin.Token, nil, http.StatusOK, nil)
		s.JSON("GET", p, ada.Token, nil, http.StatusNotFound, nil)
		s.JSON("GET", chatsPath, "", nil, http.StatusUnauthorized, nil)
	})
}

// chatSnapshot is every account's chats, whole (the conversation as its
// digest: comparing megabytes byte by byte under -race is slow), or, not
// whole, their listings only (cheap enough for every case).
func chatSnapshot(t *testing.T, s *quiretest.Server, whole bool) map[string]storage.Chat {
	t.Helper()
	ctx := context.Background()
	users, err := s.Store().ListUsers(ctx)
	require.NoError(t, err)
	out := map[string]storage.Chat{}
	for _, u := range users {
		for _, archived := range []bool{false, true} {
			list, err := s.Store().ListChats(ctx, storage.ListChatsOptions{UserID: u.ID, Archived: archived})
			require.NoError(t, err)
			for _, c := range list {
				if !whole {
					out[c.ID] = storage.Chat{ID: c.ID, Title: c.Title, Pinned: c.Pinned, Archived: c.Archived,
						LastReadAt: c.LastReadAt, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
					continue
				}
				got, err := s.Store().GetChat(ctx, c.ID)
				require.NoError(t, err)
				sum := sha256.Sum256(got.Chat)
				got.Chat = json.RawMessage(hex.EncodeToString(sum[:]))
				out[c.ID] = *got
			}
		}
	}
	return out
}

// TestChatsBadInput: each malformed or refused request gets a 4xx with a
// detail and changes no chat.
func TestChatsBadInput(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		ada := s.SignUp("Ada")
		c := newChat(s, ada.Token, frontendChat("Kept"))
		p := chatsPath + c.ID

		whole := chatSnapshot(t, s, true)
		chatBody := func(chat string) string { return `{"chat":` + chat + `}` }
		deep := strings.Repeat(`{"a":`, 101) + `1` + strings.Repeat(`}`, 101)
		for _, tc := range []struct {
			method, path string
			body         any
			want         int
		}{
			{"POST", chatsPath + "new", `{"chat":`, 400},
			{"POST", chatsPath + "new", `[]`, 400},
			{"POST", chatsPath + "new", `{}`, 400},
			{"POST", chatsPath + "new", `{"chat":{}} {}`, 400},
			{"POST", chatsPath + "new", chatBody(`null`), 400},
			{"POST", chatsPath + "new", chatBody(`"text"`), 400},
			{"POST", chatsPath + "new", chatBody(`[]`), 400},
			{"POST", chatsPath + "new", chatBody(`{"title":5}`), 400},
			{"POST", chatsPath + "new", chatBody(`{"title":"` + strings.Repeat("t", 1001) + `"}`), 400},
			{"POST", chatsPath + "new", chatBody(`{"title":"a\u0000b"}`), 400},
			{"POST", chatsPath + "new", chatBody(`{"k\u0000":1}`), 400},
			{"POST", chatsPath + "new", chatBody(`{"n":1e400}`), 400},
			{"POST", chatsPath + "new", chatBody("{\"t\":\"\xff\"}"), 400},
			{"POST", chatsPath + "new", chatBody(deep), 400},
			{"POST", chatsPath + "new", chatBody(`{"history":[]}`), 400},
			{"POST", chatsPath + "new", chatBody(`{"history":{"messages":[]}}`), 400},
			{"POST", chatsPath + "new", chatBody(`{"history":{"messages":{"a":5}}}`), 400},
			{"POST", chatsPath + "new", chatBody(`{"history":{"messages":{"a":null}}}`), 400},
			{"POST", chatsPath + "new", chatBody(`{"history":{"messages":{"":{}}}}`), 400},
			{"POST", chatsPath + "new", chatBody(`{"history":{"messages":{"a":{"role":5}}}}`), 400},
			{"POST", chatsPath + "new", chatBody(`{"history":{"messages":{"a":{"parentId":["x"]}}}}`), 400},
			{"POST", chatsPath + "new", chatBody(`{"history":{"messages":{"a":{"childrenIds":"b"}}}}`), 400},
			{"POST", chatsPath + "new", chatBody(`{"history":{"messages":{"a":{"done":"yes"}}}}`), 400},
			{"POST", chatsPath + "new", chatBody(`{"history":{"currentId":5}}`), 400},
			{"POST", chatsPath + "new", chatBody(`{"messages":{}}`), 400},
			{"POST", chatsPath + "new", chatBody(`{"messages":[1]}`), 400},
			{"POST", chatsPath + "new", chatBody(`{"messages":[null]}`), 400},
			{"POST", chatsPath + "new", chatBody(`{"x":"` + strings.Repeat("x", 8<<20) + `"}`), 413},
			{"POST", chatsPath + "new", `{"chat":{},"pad":"` + strings.Repeat("x", 9<<20) + `"}`, 413},
			{"POST", chatsPath + "new", map[string]any{"chat": map[string]any{}, "folder_id": "f1"}, 404},
			{"POST", p, chatBody(`{"title":5}`), 400},
			{"POST", p, chatBody(`{"history":{"messages":{"a1":"gone"}}}`), 400},
			{"POST", p, `{"chat":{"title":"x"}`, 400},
			{"POST", p, `{"title":"x"}`, 400},
			{"POST", p, map[string]any{"chat": map[string]any{}, "folder_id": "f1"}, 404},
			{"POST", chatsPath + "no-such-chat", chatBody(`{"title":"x"}`), 404},
			{"GET", chatsPath + "no-such-chat", nil, 404},
			{"GET", chatsPath + "%ff%fe", nil, 404},
			{"DELETE", chatsPath + "no-such-chat", nil, 404},
			{"POST", chatsPath + "no-such-chat/pin", nil, 404},
			{"GET", chatsPath + "no-such-chat/tags", nil, 404},
			{"DELETE", p + "/messages/no-such-message", nil, 404},
			{"GET", chatsPath + "?page=0", nil, 400},
			{"GET", chatsPath + "?page=x", nil, 400},
			{"GET", chatsPath + "?include_pinned=maybe", nil, 400},
		} {
			before := chatSnapshot(t, s, false)
			r := s.Do(tc.method, tc.path, ada.Token, tc.body)
			require.Equal(t, tc.want, r.Status, "%s %s %.100v: %s", tc.method, tc.path, tc.body, r.Body)
			require.NotEmpty(t, r.Detail(), "%s %s: a clear detail", tc.method, tc.path)
			require.Equal(t, before, chatSnapshot(t, s, false), "%s %s %.100v changed a chat", tc.method, tc.path, tc.body)
		}
		require.Equal(t, whole, chatSnapshot(t, s, true), "no refused request changed a chat")
		r := s.Do("POST", chatsPath+"new", ada.Token, nil)
		require.Equal(t, http.StatusUnsupportedMediaType, r.Status, "no JSON label: %s", r.Body)
	})
}

// TestChatsHostileButWellFormed: odd JSON that passes the checks is stored
// and given back as sent, never a 500 (eachBackend asserts none happened).
func TestChatsHostileButWellFormed(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		ada := s.SignUp("Ada")
		for _, chat := range []string{
			`{"title":"\ud800","k\udfff":"\ud83d"}`,
			`{"title":"x","title":"y"}`,
			`{"":{"":""},"history":null,"messages":null}`,
			`{"history":{"messages":{"a":{"parentId":"a","childrenIds":["a","b"]}},"currentId":null}}`,
			`{"history":{"messages":{"a":{"parentId":"b"},"b":{"parentId":"a","childrenIds":["a"]}},"currentId":"a"}}`,
			`{"title":"<script>&amp;</script>","n":-0.0000000000000000000000000001,"big":1.7976931348623157e308}`,
			`{"d":` + strings.Repeat(`[`, 99) + strings.Repeat(`]`, 99) + `}`,
			`{"code":"printf(\"\\u0000\") spells NUL","n":[0,-0.5,1e308,12E-3,-0]}`,
		} {
			r := s.Do("POST", chatsPath+"new", ada.Token, `{"chat":`+chat+`}`)
			require.Equal(t, http.StatusOK, r.Status, "%.80s: %s", chat, r.Body)
			var c chatResp
			r.Decode(t, &c)
			for _, up := range []string{chat, `{"history":{"messages":{"a":{"role":"user"}}}}`} {
				u := s.Do("POST", chatsPath+c.ID, ada.Token, `{"chat":`+up+`}`)
				require.Equal(t, http.StatusOK, u.Status, "update %.80s: %s", up, u.Body)
			}
			require.Equal(t, http.StatusOK, s.Do("DELETE", chatsPath+c.ID+"/messages/a", ada.Token, nil).Status)
			got := s.JSON("GET", chatsPath+c.ID, ada.Token, nil, http.StatusOK, nil)
			require.True(t, json.Valid(got.Body))
		}
		var all []chatTitle
		s.JSON("GET", chatsPath, ada.Token, nil, http.StatusOK, &all)
		require.Len(t, all, 8)
	})
}
