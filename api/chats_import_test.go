package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/api"
	"github.com/quire/quire/quiretest"
)

const importPath = chatsPath + "import"

// importEntry is one element of the stock 0.11 frontend's import body, as
// its settings page builds it from an exported chat.
func importEntry(chat map[string]any, meta any, pinned bool, folder any, created, updated any) map[string]any {
	return map[string]any{"chat": chat, "meta": meta, "pinned": pinned, "folder_id": folder,
		"created_at": created, "updated_at": updated}
}

// TestChatsImport: the stock frontend's import (a list of chats, the
// list of created chats back) stores each chat as a new chat of the
// caller, fresh id, title, history and messages as sent, timestamps kept;
// the older one-chat form answers one chat; nobody else sees them.
func TestChatsImport(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		s.SignUp("Admin")
		ada, bob := s.SignUp("Ada"), s.SignUp("Bob")

		old := frontendChat("Old one")
		old["id"] = "id-on-the-other-server"
		untitled := frontendChat("")
		delete(untitled, "title")
		body := map[string]any{"chats": []any{
			importEntry(old, map[string]any{"tags": []string{"work"}}, false, nil, 1600000000, 1600000500),
			importEntry(frontendChat("Pinned one"), map[string]any{}, true, nil, nil, nil),
			// A folder of the exporting server: imported unfiled.
			importEntry(untitled, nil, false, "folder-elsewhere", 1600000100, nil),
		}}
		var made []chatResp
		s.JSON("POST", importPath, ada.Token, body, http.StatusOK, &made)
		require.Len(t, made, 3)
		ids := map[string]bool{}
		for i, c := range made {
			require.Equal(t, ada.ID, c.UserID, "chat %d belongs to the caller", i)
			require.NotEqual(t, "id-on-the-other-server", c.ID)
			ids[c.ID] = true
			require.Nil(t, c.FolderID)
			require.False(t, c.Archived)
			require.NotNil(t, c.LastReadAt, "an imported chat is not shown unread")
			var got chatResp
			s.JSON("GET", chatsPath+c.ID, ada.Token, nil, http.StatusOK, &got)
			require.Equal(t, c, got, "the answer is what was stored")
			s.JSON("GET", chatsPath+c.ID, bob.Token, nil, http.StatusNotFound, nil)
		}
		require.Len(t, ids, 3, "fresh ids")

		require.Equal(t, "Old one", made[0].Title)
		require.Equal(t, int64(1600000000), made[0].CreatedAt)
		require.Equal(t, int64(1600000500), made[0].UpdatedAt)
		require.Equal(t, map[string]any{"tags": []any{"work"}}, made[0].Meta)
		want, err := json.Marshal(old)
		require.NoError(t, err)
		got, err := json.Marshal(made[0].Chat)
		require.NoError(t, err)
		require.JSONEq(t, string(want), string(got), "the conversation is kept as sent")
		msgs, cur := history(made[0])
		require.Equal(t, "a1", cur)
		require.Equal(t, "hello", msgs["u1"].(map[string]any)["content"])

		require.Equal(t, "Pinned one", made[1].Title)
		require.True(t, made[1].Pinned)
		require.Equal(t, made[1].CreatedAt, made[1].UpdatedAt, "no timestamps: now")
		require.Greater(t, made[1].CreatedAt, int64(1600000500))
		require.Equal(t, map[string]any{}, made[1].Meta)

		require.Equal(t, "New Chat", made[2].Title)
		require.Equal(t, int64(1600000100), made[2].CreatedAt)
		require.GreaterOrEqual(t, made[2].UpdatedAt, made[2].CreatedAt)

		// The sidebar lists them, newest first; the pinned one apart.
		var list, pinned []chatTitle
		s.JSON("GET", chatsPath+"?include_pinned=true", ada.Token, nil, http.StatusOK, &list)
		require.ElementsMatch(t, []string{made[0].ID, made[1].ID, made[2].ID}, chatIDs(list))
		require.Equal(t, made[0].ID, list[len(list)-1].ID, "the oldest last")
		s.JSON("GET", chatsPath+"pinned", ada.Token, nil, http.StatusOK, &pinned)
		require.Equal(t, []string{made[1].ID}, chatIDs(pinned))
		s.JSON("GET", chatsPath+"?include_pinned=true", bob.Token, nil, http.StatusOK, &list)
		require.Empty(t, list, "another user sees none of them")

		// Importing the same export again makes new chats.
		var again []chatResp
		s.JSON("POST", importPath, ada.Token, body, http.StatusOK, &again)
		require.Len(t, again, 3)
		require.False(t, ids[again[0].ID])

		// An empty list imports nothing.
		var none []chatResp
		s.JSON("POST", importPath, ada.Token, map[string]any{"chats": []any{}}, http.StatusOK, &none)
		require.NotNil(t, none)
		require.Empty(t, none)

		// Older frontends posted one chat and read one back.
		var one chatResp
		s.JSON("POST", importPath, bob.Token, map[string]any{"chat": frontendChat("Single"), "meta": map[string]any{},
			"pinned": false, "folder_id": nil}, http.StatusOK, &one)
		require.Equal(t, bob.ID, one.UserID)
		require.Equal(t, "Single", one.Title)
		s.JSON("GET", chatsPath+one.ID, bob.Token, nil, http.StatusOK, nil)
		s.JSON("GET", chatsPath+one.ID, ada.Token, nil, http.StatusNotFound, nil)
	})
}

// TestChatsImportBadInput: a malformed body, or one malformed, oversize
// or ambiguous chat among good ones, is refused with a detail and stores
// nothing; so is one chat too many.
func TestChatsImportBadInput(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		ada := s.SignUp("Ada")
		newChat(s, ada.Token, frontendChat("Kept"))
		whole := chatSnapshot(t, s, true)

		good := `{"chat":{"title":"good","history":{"messages":{},"currentId":null},"messages":[]},"meta":{},"pinned":false,"folder_id":null}`
		list := func(elems ...string) string { return `{"chats":[` + strings.Join(elems, ",") + `]}` }
		withGood := func(bad string) string { return list(good, bad, good) }
		tooMany := list(strings.Repeat(`{"chat":{}},`, api.MaxImportChats) + `{"chat":{}}`)
		for _, tc := range []struct {
			body string
			want int
		}{
			{`{"chats":`, 400},
			{`{"chats":[]} {}`, 400},
			{`[]`, 400},
			{`{}`, 400},
			{`null`, 400},
			{`{"chats":null}`, 400},
			{`{"chats":{}}`, 400},
			{`{"chats":"x"}`, 400},
			{`{"Chats":[]}`, 400},
			{`{"chats":[],"chat":{}}`, 400},
			{withGood(`1`), 400},
			{withGood(`null`), 400},
			{withGood(`[]`), 400},
			{withGood(`{}`), 400},
			{withGood(`{"chat":null}`), 400},
			{withGood(`{"chat":"text"}`), 400},
			{withGood(`{"chat":{"title":5}}`), 400},
			{withGood(`{"chat":{"title":"` + strings.Repeat("t", 1001) + `"}}`), 400},
			{withGood(`{"chat":{"k\u0000":1}}`), 400},
			{withGood(`{"chat":{"n":1e400}}`), 400},
			{withGood(`{"chat":{"history":{"messages":[]}}}`), 400},
			{withGood(`{"chat":{"messages":[null]}}`), 400},
			{withGood(`{"chat":{"messages":[null],"Messages":[]}}`), 400},
			{withGood(`{"chat":{},"Chat":{"title":"x"}}`), 400},
			{withGood(`{"chat":{},"PINNED":true}`), 400},
			{withGood(`{"chat":{},"pinned":"yes"}`), 400},
			{withGood(`{"chat":{},"folder_id":5}`), 400},
			{withGood(`{"chat":{},"meta":"tags"}`), 400},
			{withGood(`{"chat":{},"meta":[]}`), 400},
			{withGood(`{"chat":{},"meta":{"t":"a\u0000"}}`), 400},
			{withGood(`{"chat":{},"meta":{"pad":"` + strings.Repeat("x", 64<<10) + `"}}`), 413},
			{withGood(`{"chat":{},"created_at":"yesterday"}`), 400},
			{withGood(`{"chat":{},"created_at":-1}`), 400},
			{withGood(`{"chat":{},"created_at":1.5}`), 400},
			{withGood(`{"chat":{},"updated_at":1700000000000}`), 400}, // milliseconds
			{withGood(`{"chat":{"x":"` + strings.Repeat("x", 8<<20) + `"}}`), 413},
			{list(good, `{"chat":{},"pad":"`+strings.Repeat("x", 4*(8<<20)+(64<<10))+`"}`), 413},
			{tooMany, 400},
			// The one-chat form, as the list's elements.
			{`{"chat":{"title":5}}`, 400},
			{`{"chat":{},"Meta":{}}`, 400},
			{`{"chat":{},"created_at":"x"}`, 400},
		} {
			r := s.Do("POST", importPath, ada.Token, tc.body)
			require.Equal(t, tc.want, r.Status, "%.300s: %.300s", tc.body, r.Body)
			require.NotEmpty(t, r.Detail(), "%.300s: a clear detail", tc.body)
			require.Equal(t, whole, chatSnapshot(t, s, true), "%.300s stored or changed a chat", tc.body)
		}

		// The element at fault is named.
		r := s.Do("POST", importPath, ada.Token, withGood(`{"chat":{"title":5}}`))
		require.Contains(t, r.Detail(), "chats[1]")

		// Exactly the bound is fine.
		var made []chatResp
		s.JSON("POST", importPath, ada.Token, list(strings.Repeat(`{"chat":{}},`, api.MaxImportChats-1)+`{"chat":{}}`), http.StatusOK, &made)
		require.Len(t, made, api.MaxImportChats)

		// Odd but well-formed meta and timestamps are kept as sent.
		var odd []chatResp
		s.JSON("POST", importPath, ada.Token, list(`{"chat":{"title":"\ud800"},"meta":{"":{"":"\udfff"},"tags":[]},"pinned":null,"created_at":0,"updated_at":1}`), http.StatusOK, &odd)
		require.Equal(t, odd[0].CreatedAt, odd[0].UpdatedAt, "0 is now, and updated_at is never before created_at")
		r = s.Do("GET", chatsPath+odd[0].ID, ada.Token, nil)
		require.Equal(t, http.StatusOK, r.Status)
		require.True(t, json.Valid(r.Body))
		require.Contains(t, string(r.Body), `"meta":{"":{"":"\udfff"},"tags":[]}`)

		r = s.Do("POST", importPath, "", list(good))
		require.Equal(t, http.StatusUnauthorized, r.Status, "%s", r.Body)
	})
}
