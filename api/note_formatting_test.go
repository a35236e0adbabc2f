package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
)

// TestContentWithTooMuchFormattingIsRefused: content whose paragraphs hold
// too many differently formatted pieces is refused (413) when it would
// become a live document, on create (it is seeded when first opened) and
// on update, and changes nothing. The Yjs library looks every inserted
// piece's position up from the start of its paragraph, so building one is
// quadratic: 80 KB of "*a* " kept the note's owner (and the process-wide
// lock of every server-side edit) busy for more than 30 s, and a body of
// megabytes for hours. Ordinary formatting is accepted.
func TestContentWithTooMuchFormattingIsRefused(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		ctx := context.Background()
		bob := s.SignUp("Bob")
		heavy := strings.Repeat("*a* ", 20_000)
		pm := map[string]any{"type": "doc", "content": []any{map[string]any{"type": "paragraph", "content": func() []any {
			var runs []any
			for i := range 20_000 {
				run := map[string]any{"type": "text", "text": "a "}
				if i%2 == 0 {
					run["marks"] = []any{map[string]any{"type": "bold"}}
				}
				runs = append(runs, run)
			}
			return runs
		}()}}}
		contents := []map[string]any{{"md": heavy}, {"json": pm, "md": "x"}}

		before := take(t, s)
		for _, c := range contents {
			r := s.Do("POST", "/api/v1/notes/create", bob.Token, map[string]any{"title": "heavy", "data": map[string]any{"content": c}})
			require.Equal(t, http.StatusRequestEntityTooLarge, r.Status, "%.200s", r.Body)
			require.NotEmpty(t, r.Detail())
		}
		require.Equal(t, before, take(t, s), "no note was created")

		id := s.CreateNote(bob.Token, "kept", "plain text")
		doc, err := s.Docs().State(ctx, "note:"+id)
		require.NoError(t, err)
		before = take(t, s)
		for _, c := range contents {
			r := s.Do("POST", "/api/v1/notes/"+id+"/update", bob.Token, map[string]any{"title": "renamed", "data": map[string]any{"content": c}})
			require.Equal(t, http.StatusRequestEntityTooLarge, r.Status, "%.200s", r.Body)
			require.NotEmpty(t, r.Detail())
		}
		require.Equal(t, before, take(t, s), "the note is unchanged")
		after, err := s.Docs().State(ctx, "note:"+id)
		require.NoError(t, err)
		require.Equal(t, doc.Update, after.Update, "the document is unchanged")

		// Plenty of ordinary formatting is fine.
		ordinary := strings.Repeat(strings.Repeat("some *emphasis* and **strong** words, ", 20)+"\n\n", 200)
		s.JSON("POST", "/api/v1/notes/create", bob.Token, map[string]any{"title": "ok", "data": map[string]any{"content": map[string]any{"md": ordinary}}}, http.StatusOK, nil)
		s.JSON("POST", "/api/v1/notes/"+id+"/update", bob.Token, map[string]any{"data": map[string]any{"content": map[string]any{"md": ordinary}}}, http.StatusOK, nil)

		// So is one paragraph of 3,000 lines each starting with a bold
		// word: 6,000 pieces, costing 81M of the 200M allowed.
		lines := strings.Repeat("**name** value\n", 3000)
		s.JSON("POST", "/api/v1/notes/create", bob.Token, map[string]any{"title": "lines", "data": map[string]any{"content": map[string]any{"md": lines}}}, http.StatusOK, nil)
	})
}
