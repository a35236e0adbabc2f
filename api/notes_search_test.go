package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
)

type searchPage struct {
	Items []note `json:"items"`
	Total int    `json:"total"`
}

func searchNotes(t *testing.T, s *quiretest.Server, token, query string) searchPage {
	t.Helper()
	var p searchPage
	s.JSON("GET", "/api/v1/notes/search?"+query, token, nil, http.StatusOK, &p)
	require.NotNil(t, p.Items, "items is a list, never null")
	return p
}

func titles(p searchPage) []string {
	out := []string{}
	for _, n := range p.Items {
		out = append(out, n.Title)
	}
	return out
}

// TestNotesSearch: the frontend's notes list. 60 a page, newest first,
// {items, total} with the owner on each item and an empty page past the
// end; query, view_option, permission, order_by and direction filter and
// sort; a user sees only what they may read, an admin everything; bad
// parameters are 400s that change nothing.
func TestNotesSearch(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		admin, ada, bob := s.SignUp("Admin"), s.SignUp("Ada"), s.SignUp("Bob")
		for i := range 61 {
			s.CreateNote(ada.Token, fmt.Sprintf("bulk %02d", i), "filler")
		}
		shop := s.CreateNote(bob.Token, "Shopping", "milk and **eggs**")
		plans := s.CreateNote(bob.Token, "Plans", "buy MILK")
		s.Share(bob.Token, shop, ada.ID, "read")
		s.Share(bob.Token, plans, ada.ID, "write")
		s.CreateNote(bob.Token, "Bob only", "milk")

		// Pages: 60, then the rest, then empty; the total is everything.
		base := "query=&order_by=updated_at&direction=desc"
		p1 := searchNotes(t, s, ada.Token, base+"&page=1")
		require.Len(t, p1.Items, 60)
		require.Equal(t, 63, p1.Total)
		require.Equal(t, []string{"Plans", "Shopping", "bulk 60"}, titles(p1)[:3], "newest first; shared notes too")
		first := p1.Items[0]
		require.NotNil(t, first.User)
		require.Equal(t, bob.ID, first.User.ID)
		require.Equal(t, "Bob", first.User.Name)
		require.Equal(t, "buy MILK", md(first), "the listing's markdown")
		p2 := searchNotes(t, s, ada.Token, base+"&page=2")
		require.Equal(t, []string{"bulk 02", "bulk 01", "bulk 00"}, titles(p2))
		require.Equal(t, 63, p2.Total)
		p3 := searchNotes(t, s, ada.Token, base+"&page=3")
		require.Empty(t, p3.Items, "past the end: no items, so the list stops loading")
		require.Equal(t, 63, p3.Total)
		require.Len(t, searchNotes(t, s, ada.Token, "").Items, 60, "no parameters: page 1")

		// Filters and orders.
		require.Equal(t, []string{"Plans", "Shopping"}, titles(searchNotes(t, s, ada.Token, "query=milk")))
		require.Equal(t, []string{"Plans", "Shopping"}, titles(searchNotes(t, s, ada.Token, "view_option=shared")))
		require.Equal(t, 61, searchNotes(t, s, ada.Token, "view_option=created").Total)
		require.Equal(t, []string{"Shopping"}, titles(searchNotes(t, s, ada.Token, "permission=read_only")))
		require.Equal(t, 62, searchNotes(t, s, ada.Token, "permission=write").Total)
		require.Equal(t, []string{"Plans", "Shopping"}, titles(searchNotes(t, s, ada.Token, "query=milk&order_by=title&direction=asc")))
		require.Equal(t, []string{"Shopping", "Plans"}, titles(searchNotes(t, s, ada.Token, "query=milk&order_by=title&direction=desc")))
		require.Equal(t, []string{"Shopping", "Plans"}, titles(searchNotes(t, s, ada.Token, "query=milk&order_by=created_at&direction=asc")))
		require.Equal(t, 63, searchNotes(t, s, ada.Token, "view_option=null&permission=null").Total, `the frontend's "All"`)
		require.Equal(t, []string{"Bob only", "Plans", "Shopping"}, titles(searchNotes(t, s, admin.Token, "query=milk")), "an admin sees every note")
		require.Empty(t, searchNotes(t, s, bob.Token, "query=bulk").Items, "nobody sees what they may not read")

		before := take(t, s)
		for _, q := range []string{
			"page=0", "page=-1", "page=x", "page=1000001",
			"view_option=mine", "permission=admin", "order_by=id", "order_by=updated_at%3Bdrop", "direction=up",
			"query=" + url.QueryEscape(strings.Repeat("q", 201)), "query=a%00b",
		} {
			r := s.Do("GET", "/api/v1/notes/search?"+q, ada.Token, nil)
			require.Equal(t, http.StatusBadRequest, r.Status, "%s: %.200s", q, r.Body)
			require.NotEmpty(t, r.Detail(), q)
		}
		require.Equal(t, http.StatusUnauthorized, s.Do("GET", "/api/v1/notes/search", "", nil).Status)
		require.Equal(t, before, take(t, s))
	})
}

// TestNoteShape: GET /api/v1/notes/{id} carries write_access, is_pinned
// and access_grants, and data.content is always an object, whatever was
// stored; notes/search and notes/pinned are never read as note ids.
func TestNoteShape(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		ada, bob := s.SignUp("Ada"), s.SignUp("Bob")
		for _, data := range []any{nil, map[string]any{}, map[string]any{"files": []any{}}, map[string]any{"content": nil}} {
			body := map[string]any{"title": "t"}
			if data != nil {
				body["data"] = data
			}
			var created note
			s.JSON("POST", "/api/v1/notes/create", ada.Token, body, http.StatusOK, &created)
			require.Equal(t, map[string]any{"json": nil, "html": "", "md": ""}, created.Data["content"], "create answers it too: %v", data)
			var got map[string]any
			s.JSON("GET", "/api/v1/notes/"+created.ID, ada.Token, nil, http.StatusOK, &got)
			require.Equal(t, map[string]any{"json": nil, "html": "", "md": ""}, got["data"].(map[string]any)["content"], "%v", data)
			if data != nil {
				if files, ok := data.(map[string]any)["files"]; ok {
					require.Equal(t, files, got["data"].(map[string]any)["files"], "other data keys stay")
				}
			}
			require.Equal(t, true, got["write_access"])
			require.Equal(t, false, got["is_pinned"])
			require.Equal(t, []any{}, got["access_grants"])
		}

		id := s.CreateNote(ada.Token, "shared", "# hi")
		s.Share(ada.Token, id, bob.ID, "read")
		var got map[string]any
		s.JSON("GET", "/api/v1/notes/"+id, bob.Token, nil, http.StatusOK, &got)
		require.Equal(t, false, got["write_access"], "a reader")
		require.Equal(t, "# hi", got["data"].(map[string]any)["content"].(map[string]any)["md"], "stored content is kept")
		require.Len(t, got["access_grants"], 1)

		var pinned []any
		s.JSON("GET", "/api/v1/notes/pinned", ada.Token, nil, http.StatusOK, &pinned)
		require.Empty(t, pinned)
		require.NotNil(t, pinned, "a list")
	})
}
