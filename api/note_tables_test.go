package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/prosemirror"
	"github.com/quire/quire/quiretest"
)

// TestNoteTableFromMarkdown: Markdown with a GFM table, sent over REST,
// becomes Tiptap's table nodes in the live document (which the stock
// editor shows as a table), and the note's content rendered from it holds
// them in data.content.json and a GFM table in md and html. It was one
// paragraph of pipes.
func TestNoteTableFromMarkdown(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		ctx := context.Background()
		bob := s.SignUp("Bob")
		md := "Prices:\n\n| item | price |\n|:-----|------:|\n| **tea** | 2 |\n| a \\| b | `x\\|y` |\n"
		id := s.CreateNote(bob.Token, "table", md)
		seeded, err := s.Docs().State(ctx, "note:"+id)
		require.NoError(t, err)
		for _, name := range []string{"tableRow", "tableHeader", "tableCell"} {
			require.Contains(t, string(seeded.Update), name, "the seeded document holds %s elements", name)
		}

		// A REST edit makes the server render the document into the note.
		md += "\n| more |\n| --- |\n| rows |\n"
		s.JSON("POST", "/api/v1/notes/"+id+"/update", bob.Token, map[string]any{
			"data": map[string]any{"content": map[string]any{"md": md}},
		}, http.StatusOK, nil)
		var content struct {
			MD   string            `json:"md"`
			HTML string            `json:"html"`
			JSON *prosemirror.Node `json:"json"`
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			var got note
			s.JSON("GET", "/api/v1/notes/"+id, bob.Token, nil, http.StatusOK, &got)
			raw, err := json.Marshal(got.Data["content"])
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(raw, &content))
			if strings.Contains(content.HTML, "rows") {
				break
			}
			require.True(t, time.Now().Before(deadline), "content never rendered from the document: %s", raw)
			time.Sleep(50 * time.Millisecond)
		}

		require.NotNil(t, content.JSON)
		blocks := content.JSON.Content
		require.Len(t, blocks, 3)
		table := blocks[1]
		require.Equal(t, prosemirror.TypeTable, table.Type)
		require.Len(t, table.Content, 3)
		for i, row := range table.Content {
			require.Equal(t, prosemirror.TypeTableRow, row.Type)
			require.Len(t, row.Content, 2)
			for _, cell := range row.Content {
				want := prosemirror.TypeTableCell
				if i == 0 {
					want = prosemirror.TypeTableHeader
				}
				require.Equal(t, want, cell.Type)
				require.EqualValues(t, 1, cell.Attrs["colspan"])
				require.EqualValues(t, 1, cell.Attrs["rowspan"])
				require.Equal(t, prosemirror.TypeParagraph, cell.Content[0].Type)
			}
		}
		require.Equal(t, "a | b", table.Content[2].Content[0].PlainText())
		require.Equal(t, "x|y", table.Content[2].Content[1].PlainText())

		require.Equal(t, "Prices:\n\n"+
			"| item | price |\n| --- | --- |\n| **tea** | 2 |\n| a \\| b | `x\\|y` |\n\n"+
			"| more |\n| --- |\n| rows |", content.MD)
		require.Contains(t, content.HTML, "<table><tbody><tr><th><p>item</p></th><th><p>price</p></th></tr>")
		require.Contains(t, content.HTML, "<td><p><strong>tea</strong></p></td>")
	})
}

// TestNoteTableTooLargeIsRefused: content whose tables span more than
// prosemirror.MaxTableCells cells is refused (413) when it would become a
// live document, on create and on update, as Markdown (goldmark would pad
// every row of a wide table: quadratic) or as ProseMirror JSON (the stock
// editor fills a table to its rows times its widest row); nothing
// changes. Tables within the bound are built.
func TestNoteTableTooLargeIsRefused(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		ctx := context.Background()
		bob := s.SignUp("Bob")
		// Two columns: the header and each row count two cells (the
		// delimiter row none), so long is exactly at the bound.
		rows := prosemirror.MaxTableCells/2 - 1
		long := "| a | b |\n|---|---|\n" + strings.Repeat("| x | y |\n", rows)
		wide := strings.Repeat("|a", 5000) + "|\n" + strings.Repeat("|-", 5000) + "|\n" + strings.Repeat("x\n", 1000)
		cell := func(colspan int) map[string]any {
			return map[string]any{"type": "tableCell", "attrs": map[string]any{"colspan": colspan, "rowspan": 1},
				"content": []any{map[string]any{"type": "paragraph"}}}
		}
		row := func(cells ...any) map[string]any { return map[string]any{"type": "tableRow", "content": cells} }
		spanned := map[string]any{"type": "doc", "content": []any{map[string]any{"type": "table", "content": []any{
			row(cell(prosemirror.MaxTableCells)), row(cell(1)),
		}}}}
		contents := []map[string]any{{"md": long + "| one | more |\n"}, {"md": wide}, {"json": spanned, "md": "x"}}

		before := take(t, s)
		for _, c := range contents {
			r := s.Do("POST", "/api/v1/notes/create", bob.Token, map[string]any{"title": "big", "data": map[string]any{"content": c}})
			require.Equal(t, http.StatusRequestEntityTooLarge, r.Status, "%.200s", r.Body)
			require.Contains(t, r.Detail(), "tables")
		}
		require.Equal(t, before, take(t, s), "no note was created")

		id := s.CreateNote(bob.Token, "kept", "plain text")
		doc, err := s.Docs().State(ctx, "note:"+id)
		require.NoError(t, err)
		before = take(t, s)
		for _, c := range contents {
			r := s.Do("POST", "/api/v1/notes/"+id+"/update", bob.Token, map[string]any{"title": "renamed", "data": map[string]any{"content": c}})
			require.Equal(t, http.StatusRequestEntityTooLarge, r.Status, "%.200s", r.Body)
			require.Contains(t, r.Detail(), "tables")
		}
		require.Equal(t, before, take(t, s), "the note is unchanged")
		after, err := s.Docs().State(ctx, "note:"+id)
		require.NoError(t, err)
		require.Equal(t, doc.Update, after.Update, "the document is unchanged")

		// Up to the bound, a table is built: on create and on update.
		s.JSON("POST", "/api/v1/notes/"+id+"/update", bob.Token, map[string]any{"data": map[string]any{"content": map[string]any{"md": long}}}, http.StatusOK, nil)
		after, err = s.Docs().State(ctx, "note:"+id)
		require.NoError(t, err)
		require.Contains(t, string(after.Update), "tableCell")
		bold := "| name | value |\n|---|---|\n" + strings.Repeat("| **name** | value |\n", 3000)
		other := s.CreateNote(bob.Token, "bold column", bold)
		seeded, err := s.Docs().State(ctx, "note:"+other)
		require.NoError(t, err)
		require.Contains(t, string(seeded.Update), "tableCell")
	})
}

// TestNoteTextWithAPipeLineIsNoTable: a long text with one "|" line in
// it, sent as Markdown, is text: it was taken for a table of all its
// lines, past prosemirror.MaxTableCells, and refused (413); a table after
// it is built. (At the bound, the Markdown bound now counts what the JSON
// bound counts: TestNoteTableTooLargeIsRefused sends a table exactly at
// it, which was 413 too.)
func TestNoteTextWithAPipeLineIsNoTable(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		ctx := context.Background()
		bob := s.SignUp("Bob")
		id := s.CreateNote(bob.Token, "text", "plain text")
		text := strings.Repeat("text\n", 15_000) + "|\n" + strings.Repeat("text\n", 15_000)
		for _, md := range []string{text, text + "\n| a |\n| - |\n| b |\n"} {
			r := s.Do("POST", "/api/v1/notes/"+id+"/update", bob.Token, map[string]any{
				"data": map[string]any{"content": map[string]any{"md": md}}})
			require.Equal(t, http.StatusOK, r.Status, "%.200s", r.Body)
		}
		live, err := s.Docs().State(ctx, "note:"+id)
		require.NoError(t, err)
		require.Equal(t, 2, strings.Count(string(live.Update), "tableRow"), "the table after the text is built (two rows), not the text")
	})
}

// TestNoteMisplacedTableNodesRefused: ProseMirror JSON with table nodes
// where Tiptap's schema has none (a row outside a table, a cell outside a
// row, a table in a paragraph) or a negative column width is refused
// (400) on create and on update, and nothing changes: the stock editor
// and y-prosemirror would drop or rewrite those nodes in every browser.
// It was stored.
func TestNoteMisplacedTableNodesRefused(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		bob := s.SignUp("Bob")
		para := map[string]any{"type": "paragraph", "content": []any{map[string]any{"type": "text", "text": "c"}}}
		cell := map[string]any{"type": "tableCell", "content": []any{para}}
		row := map[string]any{"type": "tableRow", "content": []any{cell}}
		table := map[string]any{"type": "table", "content": []any{row}}
		doc := func(blocks ...any) map[string]any { return map[string]any{"type": "doc", "content": blocks} }
		wide := map[string]any{"type": "tableCell", "attrs": map[string]any{"colwidth": []any{-100}}, "content": []any{para}}
		docs := map[string]map[string]any{
			"row in doc":         doc(row),
			"cell in doc":        doc(cell),
			"table in paragraph": doc(map[string]any{"type": "paragraph", "content": []any{table}}),
			"negative width":     doc(map[string]any{"type": "table", "content": []any{map[string]any{"type": "tableRow", "content": []any{wide}}}}),
		}

		before := take(t, s)
		for name, d := range docs {
			r := s.Do("POST", "/api/v1/notes/create", bob.Token, map[string]any{"title": "bad",
				"data": map[string]any{"content": map[string]any{"json": d, "md": "c"}}})
			require.Equal(t, http.StatusBadRequest, r.Status, "%s: %.200s", name, r.Body)
			require.Contains(t, r.Detail(), "not a valid ProseMirror document", name)
		}
		// The 400 says why, and a long value from the request is cut.
		r := s.Do("POST", "/api/v1/notes/create", bob.Token, map[string]any{"title": "bad",
			"data": map[string]any{"content": map[string]any{"json": docs["row in doc"], "md": "c"}}})
		require.Equal(t, "data.content.json is not a valid ProseMirror document: tableRow inside doc", r.Detail())
		long := doc(map[string]any{"type": "heading", "attrs": map[string]any{"level": strings.Repeat("é", 5000)}})
		r = s.Do("POST", "/api/v1/notes/create", bob.Token, map[string]any{"title": "bad",
			"data": map[string]any{"content": map[string]any{"json": long, "md": "c"}}})
		require.Equal(t, http.StatusBadRequest, r.Status)
		require.True(t, strings.HasPrefix(r.Detail(), "data.content.json is not a valid ProseMirror document: heading level \"éé"), r.Detail())
		require.LessOrEqual(t, len(r.Detail()), 200, "the reason is cut")
		require.True(t, utf8.ValidString(r.Detail()))
		require.Equal(t, before, take(t, s), "no note was created")

		id := s.CreateNote(bob.Token, "kept", "| a |\n| - |\n| b |\n")
		unchanged := noteUnchanged(t, s, bob.Token, id)
		for name, d := range docs {
			r := s.Do("POST", "/api/v1/notes/"+id+"/update", bob.Token, map[string]any{"title": "renamed",
				"data": map[string]any{"content": map[string]any{"json": d, "md": "c"}}})
			require.Equal(t, http.StatusBadRequest, r.Status, "%s: %.200s", name, r.Body)
			require.Contains(t, r.Detail(), "not a valid ProseMirror document", name)
		}
		unchanged()
	})
}
