package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
)

// TestContentNotAppliedKeepsTheStoredContent: data.content is the server's
// rendering of the note's document (§9.3). An update whose content is no
// edit of the document (the stored Markdown sent back with other html or
// json) or cannot be one (null, {}, html alone) leaves the stored content
// and the document as they are; the rest of data is merged as ever. The
// stored content was replaced by the copy sent: a writer could plant html
// that is not the document's, or blank the text that listings and search
// show while the document kept it.
func TestContentNotAppliedKeepsTheStoredContent(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		ctx := context.Background()
		bob := s.SignUp("Bob")
		id := s.CreateNote(bob.Token, "kept", "findable words")
		var before note
		s.JSON("GET", "/api/v1/notes/"+id, bob.Token, nil, http.StatusOK, &before)
		doc, err := s.Docs().State(ctx, "note:"+id)
		require.NoError(t, err)

		for _, content := range []any{
			nil,
			map[string]any{},
			map[string]any{"html": "<p>not the document</p>"},
			map[string]any{"md": "findable words", "html": `<img src=x onerror="alert(1)">`, "json": nil},
			map[string]any{"md": "findable words", "html": nil, "json": nil},
		} {
			var got note
			s.JSON("POST", "/api/v1/notes/"+id+"/update", bob.Token, map[string]any{
				"data": map[string]any{"content": content, "files": []any{}},
			}, http.StatusOK, &got)
			require.Equal(t, before.Data["content"], got.Data["content"], "content %v", content)
			require.Equal(t, []any{}, got.Data["files"], "the rest of data is merged")

			s.JSON("GET", "/api/v1/notes/"+id, bob.Token, nil, http.StatusOK, &got)
			require.Equal(t, "findable words", md(got), "content %v", content)
			var found struct {
				Items []note `json:"items"`
			}
			s.JSON("GET", "/api/v1/notes/search?query=findable", bob.Token, nil, http.StatusOK, &found)
			require.Len(t, found.Items, 1, "search still finds the note's text after content %v", content)
		}
		after, err := s.Docs().State(ctx, "note:"+id)
		require.NoError(t, err)
		require.Equal(t, doc.Update, after.Update, "the document is untouched")

		// A real edit still goes to the document and is stored.
		var got note
		s.JSON("POST", "/api/v1/notes/"+id+"/update", bob.Token, map[string]any{
			"data": map[string]any{"content": map[string]any{"md": "other words"}},
		}, http.StatusOK, &got)
		require.Equal(t, "other words", md(got))
	})
}
