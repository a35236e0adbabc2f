package api_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
	"github.com/quire/quire/server"
)

// TestRESTContentEditReachesTheLiveDocument: a content edit over REST
// becomes a CRDT update of note:<id>, and the note's content is then
// rendered from the document.
func TestRESTContentEditReachesTheLiveDocument(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		ctx := context.Background()
		bob := s.SignUp("Bob")
		var n note
		s.JSON("POST", "/api/v1/notes/create", bob.Token, map[string]any{
			"title": "live", "data": map[string]any{"content": map[string]any{"md": "first words"}},
		}, http.StatusOK, &n)
		docID := "note:" + n.ID
		before, err := s.Docs().State(ctx, docID)
		require.NoError(t, err)

		s.JSON("POST", "/api/v1/notes/"+n.ID+"/update", bob.Token, map[string]any{
			"data": map[string]any{"content": map[string]any{"md": "# Changed heading"}},
		}, http.StatusOK, nil)
		after, err := s.Docs().State(ctx, docID)
		require.NoError(t, err)
		require.False(t, bytes.Equal(before.Update, after.Update), "the document changed")

		// The server renders the merged document back into data.content.
		deadline := time.Now().Add(30 * time.Second)
		for {
			var got note
			s.JSON("GET", "/api/v1/notes/"+n.ID, bob.Token, nil, http.StatusOK, &got)
			c, _ := got.Data["content"].(map[string]any)
			html, _ := c["html"].(string)
			if strings.Contains(html, "Changed heading") && strings.Contains(html, "<h1") {
				require.NotContains(t, html, "first words")
				break
			}
			require.True(t, time.Now().Before(deadline), "content never rendered from the document: %v", got.Data)
			time.Sleep(50 * time.Millisecond)
		}

		// A title-only edit, or echoing the stored content back, leaves the
		// document alone.
		var cur note
		s.JSON("GET", "/api/v1/notes/"+n.ID, bob.Token, nil, http.StatusOK, &cur)
		s.JSON("POST", "/api/v1/notes/"+n.ID+"/update", bob.Token, map[string]any{"title": "renamed"}, http.StatusOK, nil)
		s.JSON("POST", "/api/v1/notes/"+n.ID+"/update", bob.Token, map[string]any{"data": cur.Data}, http.StatusOK, nil)
		again, err := s.Docs().State(ctx, docID)
		require.NoError(t, err)
		require.Equal(t, after.Update, again.Update)

		// ProseMirror JSON wins over Markdown when both are sent.
		pm := map[string]any{"type": "doc", "content": []any{map[string]any{"type": "paragraph",
			"content": []any{map[string]any{"type": "text", "text": "from json"}}}}}
		s.JSON("POST", "/api/v1/notes/"+n.ID+"/update", bob.Token, map[string]any{
			"data": map[string]any{"content": map[string]any{"json": pm, "md": "ignored"}},
		}, http.StatusOK, nil)
		last, err := s.Docs().State(ctx, docID)
		require.NoError(t, err)
		require.NotEqual(t, again.Update, last.Update)
		require.Contains(t, string(last.Update), "from json")
		require.NotContains(t, string(last.Update), "ignored")
	})
}

// A REST content edit that would grow the live document past
// --max-document-bytes is answered 413 and changes nothing: not the note's
// fields, not the live document, not its stored log.
func TestRESTContentEditTooLarge(t *testing.T) {
	t.Parallel()
	for _, b := range quiretest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s := quiretest.New(t, append(b.Opts, quiretest.WithConfig(func(c *server.Config) { c.MaxDocumentBytes = 4096 }))...)
			bob := s.SignUp("Bob")
			id := s.CreateNote(bob.Token, "small", "a small note")
			requireUnchanged := noteUnchanged(t, s, bob.Token, id)

			s.JSON("POST", "/api/v1/notes/"+id+"/update", bob.Token, map[string]any{
				"title": "renamed",
				"data":  map[string]any{"content": map[string]any{"md": strings.Repeat("many words ", 1000)}},
			}, http.StatusRequestEntityTooLarge, nil)

			requireUnchanged()
			require.Zero(t, s.InternalErrors())
		})
	}
}

// TestRESTContentEditTooCostlyForTheLiveText: a REST content edit that
// would write thousands of differently formatted pieces into a live
// paragraph of thousands (ydoc.ErrTooCostly: each piece written walks the
// paragraph from its start) is refused with 413 and a message saying what
// to do, and changes nothing: not the document, its stored rows, nor the
// note. The live paragraph is 4,000 table-like lines with a bold word
// (without a delimiter row they are no table, so one paragraph), seeded
// when the edit opens the document; the edit changes every line.
func TestRESTContentEditTooCostlyForTheLiveText(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		bob := s.SignUp("Bob")
		id := s.CreateNote(bob.Token, "table", strings.Repeat("| **name** | value |\n", 4000))
		requireUnchanged := noteUnchanged(t, s, bob.Token, id) // seeds the live paragraph

		r := s.Do("POST", "/api/v1/notes/"+id+"/update", bob.Token, map[string]any{
			"title": "renamed",
			"data":  map[string]any{"content": map[string]any{"md": strings.Repeat("| **name** | other |\n", 4000)}},
		})
		require.Equal(t, http.StatusRequestEntityTooLarge, r.Status, "%.200s", r.Body)
		require.Equal(t, "The note's text is too finely formatted for this edit over REST; edit it in the editor", r.Detail())

		requireUnchanged()

		// A new note with that content is fine: seeding writes no piece into a
		// live paragraph.
		s.CreateNote(bob.Token, "other table", strings.Repeat("| **name** | other |\n", 4000))
	})
}

// noteUnchanged records note id's live document (loading it: a new note
// is seeded), its stored rows and its REST view, and returns a check that
// requires all three unchanged.
func noteUnchanged(t *testing.T, s *quiretest.Server, token, id string) func() {
	t.Helper()
	ctx := context.Background()
	docID := "note:" + id
	before, err := s.Docs().State(ctx, docID)
	require.NoError(t, err)
	rows, err := s.Store().LoadDocument(ctx, docID)
	require.NoError(t, err)
	var stored note
	s.JSON("GET", "/api/v1/notes/"+id, token, nil, http.StatusOK, &stored)
	return func() {
		t.Helper()
		after, err := s.Docs().State(ctx, docID)
		require.NoError(t, err)
		require.Equal(t, before.Update, after.Update, "the live document changed")
		rowsAfter, err := s.Store().LoadDocument(ctx, docID)
		require.NoError(t, err)
		require.Equal(t, len(rows.Records), len(rowsAfter.Records), "something was stored")
		var got note
		s.JSON("GET", "/api/v1/notes/"+id, token, nil, http.StatusOK, &got)
		require.Equal(t, stored, got, "the note changed")
	}
}
