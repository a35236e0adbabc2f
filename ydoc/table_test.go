package ydoc

import (
	"testing"

	y "github.com/skyterra/y-crdt"

	"github.com/quire/quire/prosemirror"
)

// tableDoc is a table as the stock editor stores it, with what Markdown
// cannot say: a colspan, column widths, two paragraphs in a cell.
const tableDoc = `{"type":"doc","content":[
 {"type":"paragraph","content":[{"type":"text","text":"before"}]},
 {"type":"table","content":[
   {"type":"tableRow","content":[
     {"type":"tableHeader","attrs":{"colspan":2,"rowspan":1,"colwidth":[100,50]},"content":[{"type":"paragraph","content":[{"type":"text","text":"wide"}]}]},
     {"type":"tableHeader","attrs":{"colspan":1,"rowspan":1,"colwidth":null},"content":[{"type":"paragraph","content":[{"type":"text","marks":[{"type":"bold"}],"text":"h|3"}]}]}]},
   {"type":"tableRow","content":[
     {"type":"tableCell","attrs":{"colspan":1,"rowspan":1,"colwidth":null},"content":[{"type":"paragraph","content":[{"type":"text","text":"p1"}]},{"type":"paragraph","content":[{"type":"text","text":"p2"}]}]},
     {"type":"tableCell","attrs":{"colspan":1,"rowspan":1,"colwidth":null},"content":[{"type":"paragraph"}]},
     {"type":"tableCell","attrs":{"colspan":1,"rowspan":1,"colwidth":null},"content":[{"type":"paragraph","content":[{"type":"text","text":"z"}]}]}]}]}]}`

// TestTableRoundTripsThroughYDoc: tables, from Markdown or from the stock
// editor's JSON, are Y.XmlElements named table, tableRow, tableHeader and
// tableCell (spans as attributes, colwidth only when set, as y-prosemirror
// writes them); they read back with every cell's text, render the same
// Markdown, HTML and text, load in y-prosemirror with Tiptap's table
// schema, and take an edit of one cell.
func TestTableRoundTripsThroughYDoc(t *testing.T) {
	// Not parallel: it reads y-crdt types outside editMu, and the library's
	// search markers share a process-wide timestamp (a data race with other
	// tests' edits under -race).
	for name, pm := range map[string]*prosemirror.Node{
		"markdown": prosemirror.FromMarkdown("| a | **b** |\n|:--|--:|\n| 1 | x\\|y |\n|  | `c` |"),
		"json":     mustParse(t, tableDoc),
	} {
		t.Run(name, func(t *testing.T) { tableRoundTrip(t, name, pm) })
	}
}

// tableRoundTrip is one case of TestTableRoundTripsThroughYDoc.
func tableRoundTrip(t *testing.T, name string, pm *prosemirror.Node) {
	doc, _ := seedAndCheck(t, pm)

	frag := doc.GetXmlFragment(FragmentName).(*y.YXmlFragment)
	var table *y.YXmlElement
	for _, c := range frag.ToArray() {
		if el, ok := c.(*y.YXmlElement); ok && el.NodeName == prosemirror.TypeTable {
			table = el
		}
	}
	if table == nil {
		t.Fatalf("%s: no table element", name)
	}
	for i, r := range table.ToArray() {
		row, ok := r.(*y.YXmlElement)
		if !ok || row.NodeName != prosemirror.TypeTableRow {
			t.Fatalf("%s: table child %d is %v", name, i, r)
		}
		for _, c := range row.ToArray() {
			cell, ok := c.(*y.YXmlElement)
			want := prosemirror.TypeTableCell
			if i == 0 {
				want = prosemirror.TypeTableHeader
			}
			if !ok || cell.NodeName != want {
				t.Fatalf("%s: row %d holds %v, want %s", name, i, c, want)
			}
			attrs := cell.GetAttributes()
			if attrs["rowspan"] != 1 || (attrs["colspan"] != 1 && attrs["colspan"] != 2) {
				t.Errorf("%s: cell attributes %v", name, attrs)
			}
			if w, ok := attrs["colwidth"]; ok && w == nil {
				t.Errorf("%s: null colwidth written", name)
			}
			if p, ok := cell.Get(0).(*y.YXmlElement); !ok || p.NodeName != prosemirror.TypeParagraph {
				t.Errorf("%s: cell content %v", name, cell.Get(0))
			}
		}
	}

	// A REST edit of one cell changes that cell only.
	edited := pm.Clone()
	last := edited.Content[len(edited.Content)-1].Content
	cell := last[len(last)-1].Content[1]
	cell.Content = []*prosemirror.Node{{Type: prosemirror.TypeParagraph, Content: []*prosemirror.Node{{Type: prosemirror.TypeText, Text: "edited"}}}}
	if err := replaceLocked(doc, edited); err != nil {
		t.Fatal(err)
	}
	if after := readProseMirror(doc); after.Markdown() != edited.Markdown() {
		t.Fatalf("%s: after the edit:\n%s\nwant\n%s", name, after.Markdown(), edited.Markdown())
	}
}
