package prosemirror

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// FuzzTableMarkdown: whatever Markdown holds, the doc FromMarkdown makes
// passes Parse, and the tables in it come back from their Markdown with
// the same cells holding the same text (but for blank lines and spaces at
// line ends).
func FuzzTableMarkdown(f *testing.F) {
	for _, s := range []string{
		"| a | b |\n|---|---|\n| 1 | 2 |",
		"| `a\\|b` | **x** \\| y<br>z |\n|--|--|\n| [l](http://e.com/a\\|b) | |",
		"a|b\n-|-\nc|d|e\n|f",
		"> | q |\n> |:-:|\n> | *r* |",
		"- | x |\n  | - |\n  | y<br/>\\\\ |",
		"| ![i](/a|b.png) | <br> |\n|---|---|\n| ~~s~~ `` ` `` | &amp; \\& |",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, md string) {
		doc := FromMarkdown(md)
		j, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(j); err != nil {
			t.Fatalf("Parse: %v\n%s", err, j)
		}
		for _, b := range doc.Content {
			if b.Type != TypeTable {
				continue
			}
			out := b.Markdown()
			back := FromMarkdown(out)
			if len(back.Content) != 1 || back.Content[0].Type != TypeTable {
				t.Fatalf("%q: table rendered as %q reads back as %s", md, out, mustJSON(back))
			}
			got := back.Content[0]
			if len(got.Content) != len(b.Content) {
				t.Fatalf("%q → %q: %d rows, want %d", md, out, len(got.Content), len(b.Content))
			}
			for i, r := range b.Content {
				for k, c := range r.Content {
					if want, have := cellText(c), cellText(got.Content[i].Content[k]); want != have {
						t.Fatalf("%q → %q: cell %d,%d holds %q, want %q", md, out, i, k, have, want)
					}
				}
			}
		}
	})
}

// cellText is a cell's text line by line, without the blank lines and the
// spaces at line ends that a GFM cell cannot hold.
func cellText(c *Node) string {
	var lines []string
	for _, l := range strings.Split(c.PlainText(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

func mustJSON(n *Node) string {
	j, _ := json.Marshal(n)
	return string(j)
}

// FuzzTableCellText: any text, plain, bold, in a code span or a link, in a
// table the stock editor made comes back from the table's Markdown (but
// for what a GFM cell cannot hold: newlines become spaces, spaces at the
// ends go), and so does a link's href; "|" above all.
func FuzzTableCellText(f *testing.F) {
	for _, s := range []string{"a|b", "x\\|y", "`|`", "a\nb", " <br> ", "\\", "|", "&amp;", "[x](y)", "**"} {
		f.Add(s, uint8(0))
		f.Add(s, uint8(2))
		f.Add(s, uint8(3))
	}
	f.Fuzz(func(t *testing.T, s string, kind uint8) {
		if !utf8.ValidString(s) || strings.IndexFunc(s, oddSpace) >= 0 {
			return
		}
		text := &Node{Type: TypeText, Text: s}
		switch kind % 4 {
		case 1:
			text.Marks = []Mark{{Type: MarkBold}}
		case 2:
			text.Marks = []Mark{{Type: MarkCode}}
		case 3:
			text.Text = "link"
			text.Marks = []Mark{{Type: MarkLink, Attrs: map[string]any{"href": "https://e.com/" + s}}}
		}
		if strings.TrimSpace(s) == "" ||
			// What Markdown() loses anywhere, not only in cells: the space
			// CommonMark strips at both ends of a code span, entities and
			// newlines in link destinations.
			kind%4 == 2 && strings.TrimSpace(s) != s ||
			kind%4 == 3 && strings.ContainsAny(s, "&\n") {
			return
		}
		cell := func(t string, c ...*Node) *Node {
			return &Node{Type: t, Content: []*Node{{Type: TypeParagraph, Content: c}}}
		}
		table := &Node{Type: TypeTable, Content: []*Node{
			{Type: TypeTableRow, Content: []*Node{cell(TypeTableHeader, text), cell(TypeTableHeader, &Node{Type: TypeText, Text: "h"})}},
			{Type: TypeTableRow, Content: []*Node{cell(TypeTableCell, &Node{Type: TypeText, Text: "c"}), cell(TypeTableCell, text)}},
		}}
		md := (&Node{Type: TypeDoc, Content: []*Node{table}}).Markdown()
		back := FromMarkdown(md)
		if len(back.Content) != 1 || back.Content[0].Type != TypeTable {
			t.Fatalf("%q: reads back as %s", md, mustJSON(back))
		}
		rows := back.Content[0].Content
		for _, got := range []*Node{rows[0].Content[0], rows[1].Content[1]} {
			inline := got.Content[0].Content
			want := strings.TrimSpace(strings.ReplaceAll(text.Text, "\n", " "))
			if kind%4 == 2 {
				want = strings.ReplaceAll(text.Text, "\n", " ")
			}
			if have := plainInline(inline); have != want && !(kind%4 != 2 && strings.TrimSpace(have) == want) {
				t.Fatalf("%q: cell holds %q, want %q", md, have, want)
			}
			if kind%4 == 3 {
				href, _ := inline[0].Marks[0].Attrs["href"].(string)
				if len(inline[0].Marks) != 1 || href != "https://e.com/"+s {
					t.Fatalf("%q: link %s", md, mustJSON(got))
				}
			}
		}
	})
}

// oddSpace: control characters and whitespace other than " " and "\n",
// which Markdown() does not escape anywhere (not only in cells).
func oddSpace(r rune) bool {
	return r != ' ' && r != '\n' && (unicode.IsSpace(r) || unicode.IsControl(r))
}

// FuzzTableGuardCount: for any Markdown, the cells tableGuard counts for a
// paragraph (gfmTableCells) are the cells goldmark's table transformer
// builds of it, 0 when it builds no table. A count too low would let a
// table past MaxTableCells; one too high refused tables within it.
func FuzzTableGuardCount(f *testing.F) {
	for _, s := range []string{
		"| a | b |\n|---|---|\n| 1 | 2 |",
		"a|b\n-|-\nc|d|e\n|f",
		"x\n|\ny",
		"x\ny\na | b | c\n-|-\nd",
		"|\n|-|\n|",
		"a\\|b|c\n:-:|--:|\nd",
		"a|b\n-|-\f\nc",
		"a\n  | -- |\nb",
		"a\n- | -\nb",
		"> a\n> -:|:-\n> b",
		"- a|b\n  ::-|-\n  c",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, md string) {
		var mismatches []string
		p := goldmark.New(
			goldmark.WithExtensions(extension.Strikethrough, extension.TaskList),
			goldmark.WithParserOptions(parser.WithParagraphTransformers(
				util.Prioritized(countingTables{&mismatches}, 200))),
		).Parser()
		p.Parse(text.NewReader([]byte(md)))
		if len(mismatches) > 0 {
			t.Fatalf("%q: %s", md, strings.Join(mismatches, "; "))
		}
	})
}

// countingTables runs goldmark's table transformer unguarded and notes
// each paragraph where gfmTableCells differs from the cells it built.
type countingTables struct{ mismatches *[]string }

func (c countingTables) Transform(p *ast.Paragraph, r text.Reader, pc parser.Context) {
	want := gfmTableCells(p.Lines(), r.Source())
	parent, prev, next := p.Parent(), p.PreviousSibling(), p.NextSibling()
	extension.NewTableParagraphTransformer().Transform(p, r, pc)
	built := parent.FirstChild() // where p was, if the table took all of it
	switch {
	case p.Parent() != nil:
		built = p.NextSibling()
	case prev != nil:
		built = prev.NextSibling()
	}
	var got int64
	if t, ok := built.(*east.Table); ok && built != next {
		for row := t.FirstChild(); row != nil; row = row.NextSibling() {
			got += int64(row.ChildCount())
		}
	}
	if got != want {
		*c.mismatches = append(*c.mismatches, fmt.Sprintf("%q: counted %d cells, goldmark built %d",
			p.Lines().Value(r.Source()), want, got))
	}
}

// FuzzTableSpansMarkdownCells: a table of any shape and spans counts no
// more cells read back from its Markdown than TableCells counts of it, so
// a document within MaxTableCells as JSON is within it as its Markdown;
// and it reads back with as many rows. Each byte is a cell: colspan and
// rowspan 1–4 from its low bits, a new row before it when its top bits
// are 0.
func FuzzTableSpansMarkdownCells(f *testing.F) {
	f.Add([]byte{0x10, 0x11, 0x05, 0x10, 0x0f, 0x30})
	f.Add([]byte{0x1c, 0x10, 0x00, 0x00, 0x03})
	f.Fuzz(func(t *testing.T, shape []byte) {
		if len(shape) == 0 || len(shape) > 64 {
			return
		}
		table := &Node{Type: TypeTable, Content: []*Node{{Type: TypeTableRow}}}
		for i, b := range shape {
			if b>>4 == 0 && i > 0 {
				table.Content = append(table.Content, &Node{Type: TypeTableRow})
			}
			row := table.Content[len(table.Content)-1]
			row.Content = append(row.Content, &Node{Type: TypeTableCell,
				Attrs:   map[string]any{"colspan": float64(b&3 + 1), "rowspan": float64(b>>2&3 + 1), "colwidth": nil},
				Content: []*Node{{Type: TypeParagraph, Content: []*Node{{Type: TypeText, Text: fmt.Sprint(i)}}}}})
		}
		doc := mustParse(t, mustJSON(&Node{Type: TypeDoc, Content: []*Node{table}}))
		back, err := ParseMarkdown(doc.Markdown())
		if err != nil {
			t.Fatal(err)
		}
		if got, bound := TableCells(back), TableCells(doc); got > bound {
			t.Fatalf("%q: %d cells read back, TableCells %d", doc.Markdown(), got, bound)
		}
		if len(back.Content) != 1 || back.Content[0].Type != TypeTable || len(back.Content[0].Content) != len(table.Content) {
			t.Fatalf("%q reads back as %s", doc.Markdown(), mustJSON(back))
		}
	})
}
