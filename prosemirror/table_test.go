package prosemirror

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// cellJSON is a table cell as the stock editor makes it: default attrs, a
// paragraph of text.
func cellJSON(kind, text string) string {
	return `{"type":"` + kind + `","attrs":{"colspan":1,"colwidth":null,"rowspan":1},"content":[{"type":"paragraph","content":[{"type":"text","text":"` + text + `"}]}]}`
}

// TestTableFromMarkdown: a GFM table becomes Tiptap's table nodes as the
// stock editor's parseMarkdown makes them (header row of tableHeaders,
// each cell a paragraph, alignments dropped), and renders back as a GFM
// table, HTML table and tab-separated text.
func TestTableFromMarkdown(t *testing.T) {
	t.Parallel()
	doc := FromMarkdown("| a | b |\n|:--|--:|\n| 1 | 2 |\n")
	got, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"doc","content":[{"type":"table","content":[` +
		`{"type":"tableRow","content":[` + cellJSON("tableHeader", "a") + `,` + cellJSON("tableHeader", "b") + `]},` +
		`{"type":"tableRow","content":[` + cellJSON("tableCell", "1") + `,` + cellJSON("tableCell", "2") + `]}]}]}`
	if string(got) != want {
		t.Fatalf("FromMarkdown:\n got: %s\nwant: %s", got, want)
	}
	if _, err := Parse(got); err != nil {
		t.Fatalf("Parse refuses FromMarkdown's table: %v", err)
	}
	if md := doc.Markdown(); md != "| a | b |\n| --- | --- |\n| 1 | 2 |" {
		t.Errorf("Markdown: %q", md)
	}
	if h := doc.HTML(); h != "<table><tbody><tr><th><p>a</p></th><th><p>b</p></th></tr><tr><td><p>1</p></td><td><p>2</p></td></tr></tbody></table>" {
		t.Errorf("HTML: %q", h)
	}
	if s := doc.PlainText(); s != "a\tb\n1\t2" {
		t.Errorf("PlainText: %q", s)
	}
}

// TestTableMarkdownRoundTrip: Markdown tables come back the same after
// md → tree → md, or in the canonical form, which is then stable and
// makes the same tree.
func TestTableMarkdownRoundTrip(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"canonical":     "| a | b |\n| --- | --- |\n| 1 | 2 |",
		"alignment row": "|a|b|c|\n|:-|:-:|-:|\n|1|2|3|",
		"no outer pipe": "a | b\n--- | ---\n1 | 2",
		"escaped pipes": "| a \\| b | `c\\|d` |\n| --- | --- |\n| [x\\|y](https://e.com/p\\|q) | \\\\\\| |",
		"empty cells":   "| a |  |\n| --- | --- |\n|  | d |",
		"short row":     "| a | b | c |\n| --- | --- | --- |\n| 1 |",
		"long row":      "| a |\n| --- |\n| 1 | dropped |",
		"breaks":        "| one<br>two | **b<br/>c** |\n| --- | --- |\n| <BR />x |  |",
		"marks":         "| **bold** *it* ~~s~~ | [l](/r) `c` |\n| --- | --- |\n| x | y |",
		"header only":   "| a | b |\n| --- | --- |",
		"between text":  "before\n\n| a |\n| --- |\n| b |\n\nafter",
		"in a list":     "- item\n\n  | a |\n  | --- |\n  | b |",
		"literal br":    "| \\<br\\> |\n| --- |\n| x |",
	}
	for name, md := range cases {
		doc := FromMarkdown(md)
		if doc.Content[0].Type != TypeTable && !strings.HasPrefix(md, "before") && !strings.HasPrefix(md, "- ") {
			t.Errorf("%s: no table: %s", name, doc.Content[0].Type)
			continue
		}
		out := doc.Markdown()
		again := FromMarkdown(out)
		j1, _ := json.Marshal(doc)
		j2, _ := json.Marshal(again)
		if string(j1) != string(j2) {
			t.Errorf("%s: tree changed through %q\n got: %s\nwant: %s", name, out, j2, j1)
		}
		if out2 := again.Markdown(); out2 != out {
			t.Errorf("%s: Markdown not stable: %q then %q", name, out, out2)
		}
		if name == "canonical" && out != md {
			t.Errorf("%s: %q became %q", name, md, out)
		}
	}
	// What the cases above must have read.
	texts := map[string]string{
		"escaped pipes": "a | b\tc|d\nx|y\t\\|",
		"short row":     "a\tb\tc\n1\t\t",
		"long row":      "a\n1",
		"breaks":        "one two\tb c\n x\t",
		"literal br":    "<br>\nx",
	}
	for name, want := range texts {
		if got := FromMarkdown(cases[name]).PlainText(); got != want {
			t.Errorf("%s: text %q, want %q", name, got, want)
		}
	}
	link := FromMarkdown(cases["escaped pipes"]).Content[0].Content[1].Content[0].Content[0].Content[0]
	if href, _ := link.Marks[0].Attrs["href"].(string); href != "https://e.com/p|q" {
		t.Errorf("link in a cell: %+v", link)
	}
}

// TestTableFromJSONRenders: a table the stock editor made, with what
// Markdown cannot hold in a cell (several paragraphs, hard breaks, code
// and links holding "|", a list, spans), renders as one GFM table whose
// cells keep their text, and as HTML with the spans.
func TestTableFromJSONRenders(t *testing.T) {
	t.Parallel()
	para := func(inline string) string { return `{"type":"paragraph","content":[` + inline + `]}` }
	text := func(s string, marks ...string) string {
		j := `{"type":"text","text":` + jsonString(s)
		if len(marks) > 0 {
			j += `,"marks":[` + strings.Join(marks, ",") + `]`
		}
		return j + `}`
	}
	cell := func(kind, attrs string, blocks ...string) string {
		return `{"type":"` + kind + `","attrs":{` + attrs + `},"content":[` + strings.Join(blocks, ",") + `]}`
	}
	row := func(cells ...string) string {
		return `{"type":"tableRow","content":[` + strings.Join(cells, ",") + `]}`
	}
	one := `"colspan":1,"rowspan":1,"colwidth":null`
	in := `{"type":"doc","content":[{"type":"table","content":[` +
		row(cell("tableHeader", `"colspan":2,"rowspan":1,"colwidth":[100,120]`, para(text("wide"))), cell("tableHeader", one, para(text("h|3")))) + `,` +
		row(cell("tableCell", one, para(text("p1")), para(text("p2"))),
			cell("tableCell", `"colspan":1,"rowspan":2,"colwidth":null`, para(text("a")+`,{"type":"hardBreak"},`+text("b"))),
			cell("tableCell", one, para(text("x|y", `{"type":"code"}`)+`,`+text(" link", `{"type":"link","attrs":{"href":"https://e.com/a|b"}}`)))) + `,` +
		row(cell("tableCell", one, `{"type":"bulletList","content":[{"type":"listItem","content":[`+para(text("i1"))+`]},{"type":"listItem","content":[`+para(text("i2"))+`]}]}`),
			cell("tableCell", one, para(""))) +
		`]}]}`
	doc := mustParse(t, in)

	md := doc.Markdown()
	want := "| wide |  | h\\|3 |\n| --- | --- | --- |\n| p1<br>p2 | a<br>b | `x\\|y` [link](https://e.com/a\\|b) |\n| i1<br>i2 |  |  |"
	if md != want {
		t.Errorf("Markdown:\n got: %q\nwant: %q", md, want)
	}
	back := FromMarkdown(md)
	if got, want := back.PlainText(), "wide\t\th|3\np1 p2\ta b\tx|y link\ni1 i2\t\t"; got != want {
		t.Errorf("text read back from the Markdown: %q, want %q", got, want)
	}
	link := back.Content[0].Content[1].Content[2].Content[0].Content[2]
	if href, _ := link.Marks[0].Attrs["href"].(string); href != "https://e.com/a|b" {
		t.Errorf("link read back: %+v", link)
	}

	h := doc.HTML()
	for _, s := range []string{`<th colspan="2"><p>wide</p></th>`, `<td rowspan="2"><p>a<br>b</p></td>`, `<td><p>p1</p><p>p2</p></td>`, `<td><ul><li><p>i1</p></li>`} {
		if !strings.Contains(h, s) {
			t.Errorf("HTML lacks %s: %s", s, h)
		}
	}
	if got, want := doc.PlainText(), "wide\th|3\np1 p2\ta b\tx|y link\ni1 i2\t"; got != want {
		t.Errorf("PlainText: %q, want %q", got, want)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestParseTables: tables as the stock editor makes them pass, wherever
// blocks go; what its schema refuses (and y-prosemirror would delete from
// every browser) does not: bad spans and widths, table nodes out of place.
func TestParseTables(t *testing.T) {
	t.Parallel()
	table := func(rows ...string) string {
		return `{"type":"doc","content":[{"type":"table","content":[` + strings.Join(rows, ",") + `]}]}`
	}
	row := func(cells ...string) string {
		return `{"type":"tableRow","content":[` + strings.Join(cells, ",") + `]}`
	}
	para := `{"type":"paragraph"}`
	tableJSON := `{"type":"table","content":[` + row(cellJSON("tableCell", "c")) + `]}`
	// in is a doc holding a node of type kind holding content.
	in := func(kind string, content ...string) string {
		return `{"type":"doc","content":[{"type":"` + kind + `","content":[` + strings.Join(content, ",") + `]}]}`
	}
	withAttrs := func(attrs string) string {
		return `{"type":"tableCell","attrs":{` + attrs + `},"content":[` + para + `]}`
	}
	ok := map[string]string{
		"stock":        table(row(cellJSON("tableHeader", "a")), row(cellJSON("tableCell", "b"))),
		"no attrs":     table(row(`{"type":"tableCell","content":[` + para + `]}`)),
		"empty row":    table(row()),
		"spans, width": table(row(withAttrs(`"colspan":2,"rowspan":3,"colwidth":[100,25]`))),
		"nested":       table(row(`{"type":"tableCell","content":[{"type":"table","content":[` + row(cellJSON("tableCell", "in")) + `]}]}`)),
		// prosemirror-tables writes 0 for a spanned column not resized,
		// and fractions when it divides a spanning cell's width.
		"widths 0, fractions": table(row(withAttrs(`"colspan":3,"colwidth":[0,120.5,0]`))),
		"null spans":          table(row(withAttrs(`"colspan":null,"rowspan":null`))),
		"in a blockquote":     in(`blockquote`, tableJSON),
		"in a list item":      `{"type":"doc","content":[{"type":"bulletList","content":[{"type":"listItem","content":[` + para + `,` + tableJSON + `]}]}]}`,
		"in a task item":      `{"type":"doc","content":[{"type":"taskList","content":[{"type":"taskItem","attrs":{"checked":false},"content":[` + para + `,` + tableJSON + `]}]}]}`,
		"in an unknown node":  in(`details`, tableJSON),
	}
	for name, s := range ok {
		if _, err := Parse([]byte(s)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	bad := map[string]string{
		"no rows":         table(),
		"paragraph row":   table(para),
		"paragraph cell":  table(row(para)),
		"empty cell":      table(row(`{"type":"tableCell"}`)),
		"text in cell":    table(row(`{"type":"tableCell","content":[{"type":"text","text":"x"}]}`)),
		"colspan 0":       table(row(withAttrs(`"colspan":0`))),
		"colspan 1.5":     table(row(withAttrs(`"colspan":1.5`))),
		"colspan string":  table(row(withAttrs(`"colspan":"2"`))),
		"rowspan huge":    table(row(withAttrs(`"rowspan":1e12`))),
		"colwidth string": table(row(withAttrs(`"colwidth":"100"`))),
		"colwidth words":  table(row(withAttrs(`"colwidth":["a"]`))),
		"rowspan 0":       table(row(withAttrs(`"rowspan":0`))),
		"rowspan -1":      table(row(withAttrs(`"rowspan":-1`))),
		"rowspan 2.5":     table(row(withAttrs(`"rowspan":2.5`))),
		"colspan true":    table(row(withAttrs(`"colspan":true`))),
		"colwidth -5":     table(row(withAttrs(`"colwidth":[100,-5]`))),
		"colwidth null":   table(row(withAttrs(`"colwidth":[null]`))),
		"colwidth object": table(row(withAttrs(`"colwidth":{"0":100}`))),
		"colwidth number": table(row(withAttrs(`"colwidth":100`))),
	}
	for name, s := range bad {
		if _, err := Parse([]byte(s)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Parse accepted %s", name, s)
		}
	}
	// Table nodes out of place: y-prosemirror drops them from every
	// browser, or the stock editor rewrites them.
	misplaced := map[string]string{
		"row in doc":          `{"type":"doc","content":[` + row(cellJSON("tableCell", "r")) + `]}`,
		"row in blockquote":   in(`blockquote`, row(cellJSON("tableCell", "r"))),
		"row in cell":         table(row(`{"type":"tableCell","content":[` + row(cellJSON("tableCell", "r")) + `]}`)),
		"row in unknown node": in(`details`, row(cellJSON("tableCell", "r"))),
		"cell in doc":         `{"type":"doc","content":[` + cellJSON("tableCell", "c") + `]}`,
		"header in list item": `{"type":"doc","content":[{"type":"bulletList","content":[{"type":"listItem","content":[` + para + `,` + cellJSON("tableHeader", "h") + `]}]}]}`,
		"cell in cell":        table(row(`{"type":"tableCell","content":[` + cellJSON("tableCell", "c") + `]}`)),
		"table in paragraph":  in(`paragraph`, tableJSON),
		"table in heading":    `{"type":"doc","content":[{"type":"heading","attrs":{"level":1},"content":[` + tableJSON + `]}]}`,
		"table in list":       in(`bulletList`, tableJSON),
		"table in table":      table(tableJSON),
		"table in row":        table(row(tableJSON)),
		"non-row in table":    table(row(cellJSON("tableCell", "c")), `{"type":"blockquote","content":[`+para+`]}`),
	}
	for name, s := range misplaced {
		if _, err := Parse([]byte(s)); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "inside") && !strings.Contains(err.Error(), "holds") {
			t.Errorf("%s: Parse says %v of %s", name, err, s)
		}
	}
}

// TestTableCells: a table spans its rows times its widest row, colspans
// and cells reaching down from above counted; nested tables add theirs.
func TestTableCells(t *testing.T) {
	t.Parallel()
	c := func(colspan, rowspan float64) *Node {
		return &Node{Type: TypeTableCell, Attrs: map[string]any{"colspan": colspan, "rowspan": rowspan}, Content: []*Node{{Type: TypeParagraph}}}
	}
	row := func(cells ...*Node) *Node { return &Node{Type: TypeTableRow, Content: cells} }
	table := func(rows ...*Node) *Node { return &Node{Type: TypeTable, Content: rows} }
	inner := table(row(c(1, 1), c(1, 1)))
	nested := c(1, 1)
	nested.Content = []*Node{inner}
	doc := &Node{Type: TypeDoc, Content: []*Node{
		table(row(c(1, 1), c(3, 1)), row(c(1, 1))), // 2 rows × 4
		table(row(c(2, 2)), row(nested)),           // 2 rows × (2 + 2 reaching down), + 2
	}}
	if got := TableCells(doc); got != 8+8+2 {
		t.Errorf("TableCells = %d, want 18", got)
	}
	wide := table(row(c(MaxTableCells, 1)), row(c(MaxTableCells, 1)))
	if got := TableCells(&Node{Type: TypeDoc, Content: []*Node{wide, wide}}); got <= MaxTableCells {
		t.Errorf("TableCells of two over-wide tables = %d", got)
	}
}

// TestMarkdownTablesBounded: goldmark pads every row to the header's
// width, so a long header over many short rows would build cells in the
// square of the input's size (here 4,000 columns × 200,000 rows, 800
// million). Past MaxTableCells cells in a document a table stays text,
// ParseMarkdown says so, and the work stays in proportion to the input.
// Not parallel: it reads the process-wide allocation counter.
func TestMarkdownTablesBounded(t *testing.T) {
	cols := 4000
	md := strings.Repeat("|a", cols) + "|\n" + strings.Repeat("|-", cols) + "|\n" + strings.Repeat("x\n", 200_000)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	doc, err := ParseMarkdown(md)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTableTooLarge) {
		t.Fatalf("ParseMarkdown: %v", err)
	}
	if perByte := (after.TotalAlloc - before.TotalAlloc) / uint64(len(md)); perByte > 2048 {
		t.Errorf("%d bytes allocated per input byte", perByte)
	}
	if doc.Content[0].Type != TypeParagraph || !strings.HasSuffix(doc.PlainText(), "x x") {
		t.Errorf("the table was not kept as text: %.100s", doc.PlainText())
	}
	if FromMarkdown(md).Content[0].Type != TypeParagraph {
		t.Error("FromMarkdown built the table")
	}

	// The bound is per document: tables within it are built, the one
	// taking the document past it stays text.
	small := "| a | b |\n| --- | --- |\n" + strings.Repeat("| x | y |\n", 99) // 100 rows × 2
	var sb strings.Builder
	for range MaxTableCells / 200 {
		sb.WriteString(small + "\n")
	}
	doc, err = ParseMarkdown(sb.String())
	if err != nil || TableCells(doc) > MaxTableCells {
		t.Fatalf("tables within the bound: %v, %d cells", err, TableCells(doc))
	}
	doc, err = ParseMarkdown(sb.String() + small)
	if !errors.Is(err, ErrTableTooLarge) {
		t.Fatalf("one more table: %v", err)
	}
	if last := doc.Content[len(doc.Content)-1]; last.Type != TypeParagraph {
		t.Errorf("the table past the bound is a %s", last.Type)
	}
}

// TestTableDepthBounded: a table inside lists nested as deep as
// FromMarkdown nests them still passes Parse (a table is four levels),
// and keeps its text.
func TestTableDepthBounded(t *testing.T) {
	t.Parallel()
	var md strings.Builder
	for i := range 60 {
		md.WriteString(strings.Repeat("  ", i) + "- item\n")
	}
	indent := strings.Repeat("  ", 60)
	md.WriteString("\n" + indent + "| deep |\n" + indent + "| --- |\n" + indent + "| cell |\n")
	doc := FromMarkdown(md.String())
	j, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(j); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(doc.PlainText(), "deep") || !strings.Contains(doc.PlainText(), "cell") {
		t.Errorf("text lost: %.300s", doc.PlainText())
	}
}

// TestTableMarkdownRowspan: ProseMirror leaves a column covered by a
// rowspan from above out of the rows below; the Markdown keeps an empty
// cell there, so the later cells stay in their columns (they moved one
// left), in the middle of a row and at its end.
func TestTableMarkdownRowspan(t *testing.T) {
	cell := func(text string, colspan, rowspan int) string {
		return fmt.Sprintf(`{"type":"tableCell","attrs":{"colspan":%d,"rowspan":%d,"colwidth":null},"content":[{"type":"paragraph","content":[{"type":"text","text":%q}]}]}`, colspan, rowspan, text)
	}
	row := func(cells ...string) string {
		return `{"type":"tableRow","content":[` + strings.Join(cells, ",") + `]}`
	}
	doc := mustParse(t, `{"type":"doc","content":[{"type":"table","content":[`+
		row(cell("a", 1, 3), cell("b", 1, 1), cell("c", 1, 2))+`,`+
		row(cell("d", 1, 1))+`,`+
		row(cell("e", 2, 1))+`,`+
		row(cell("f", 1, 1), cell("g", 1, 1), cell("h", 1, 1))+
		`]}]}`)
	want := "| a | b | c |\n| --- | --- | --- |\n|  | d |  |\n|  | e |  |\n| f | g | h |"
	if got := doc.Markdown(); got != want {
		t.Errorf("Markdown:\n got: %q\nwant: %q", got, want)
	}
}

// tableDoc is a document of one table as the stock editor stores it, rows
// by cols cells each holding its coordinates; cell(r, c) may replace a
// cell's attrs, and returns whether the cell is there at all.
func tableDoc(t *testing.T, rows, cols int, cell func(r, c int, attrs map[string]any) bool) *Node {
	t.Helper()
	table := &Node{Type: TypeTable}
	for r := range rows {
		row := &Node{Type: TypeTableRow}
		for c := range cols {
			attrs := map[string]any{"colspan": 1, "rowspan": 1, "colwidth": nil}
			if cell != nil && !cell(r, c, attrs) {
				continue
			}
			row.Content = append(row.Content, &Node{Type: TypeTableCell, Attrs: attrs, Content: []*Node{
				{Type: TypeParagraph, Content: []*Node{{Type: TypeText, Text: fmt.Sprintf("%d.%d", r, c)}}}}})
		}
		table.Content = append(table.Content, row)
	}
	j, err := json.Marshal(&Node{Type: TypeDoc, Content: []*Node{table}})
	if err != nil {
		t.Fatal(err)
	}
	return mustParse(t, string(j))
}

// TestTableAtTheBoundReimports: a table as large as the API takes as JSON
// (TableCells at MaxTableCells) comes back from its own Markdown as the
// same table, spans or not; it stayed text, as the Markdown guard counted
// the delimiter row as a row of cells, so a note round-tripped through its
// md lost its table. One row more is refused as JSON and as Markdown.
func TestTableAtTheBoundReimports(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		rows, cols int
		cell       func(r, c int, attrs map[string]any) bool
	}{
		"grid": {rows: 100, cols: 200},
		"colspan": {rows: 100, cols: 200, cell: func(r, c int, attrs map[string]any) bool {
			if r == 0 && c == 0 {
				attrs["colspan"] = 2
			}
			return r != 0 || c != 1
		}},
		// The cell reaching down counts its column once more (TableCells
		// bounds the grid from above): 100 × (199 + 1).
		"rowspan": {rows: 100, cols: 199, cell: func(r, c int, attrs map[string]any) bool {
			if r == 0 && c == 0 {
				attrs["rowspan"] = 2
			}
			return r != 1 || c != 0
		}},
	}
	for name, tc := range cases {
		doc := tableDoc(t, tc.rows, tc.cols, tc.cell)
		if got := TableCells(doc); got != MaxTableCells {
			t.Fatalf("%s: TableCells %d, want %d", name, got, MaxTableCells)
		}
		md := doc.Markdown()
		back, err := ParseMarkdown(md)
		if err != nil {
			t.Errorf("%s: its Markdown: %v", name, err)
			continue
		}
		if len(back.Content) != 1 || back.Content[0].Type != TypeTable || len(back.Content[0].Content) != tc.rows {
			t.Errorf("%s: its Markdown reads back as %.200s", name, mustJSON(back))
			continue
		}
		// The same cells in the same order (the Markdown has empty ones
		// where spans cover columns).
		if !slices.Equal(strings.Fields(back.PlainText()), strings.Fields(doc.PlainText())) {
			t.Errorf("%s: cells read back differ", name)
		}
		if back.Markdown() != md {
			t.Errorf("%s: Markdown not stable", name)
		}

		over := tableDoc(t, tc.rows+1, tc.cols, tc.cell)
		if TableCells(over) <= MaxTableCells {
			t.Errorf("%s: one row more is %d cells", name, TableCells(over))
		}
		if _, err := ParseMarkdown(over.Markdown()); !errors.Is(err, ErrTableTooLarge) {
			t.Errorf("%s: one row more, its Markdown: %v", name, err)
		}
	}
}

// TestMarkdownGuardCountsTables: the Markdown bound counts the cells of
// the tables goldmark builds, not every line of a paragraph holding a
// line that could be a delimiter row: a long text with one "|" line in it
// was taken for a table of its lines, refused (ErrTableTooLarge, a 413
// over REST) or using up the bound so that a real table elsewhere stayed
// text.
func TestMarkdownGuardCountsTables(t *testing.T) {
	t.Parallel()
	long := func(n int, line string) string {
		return strings.Repeat("text\n", n/2) + line + "\n" + strings.Repeat("text\n", n/2)
	}
	wide := tableDoc(t, 100, 150, nil).Markdown() // 15,000 cells
	cases := map[string]struct {
		md     string
		tables int
	}{
		"pipe line":                {md: long(30_000, "|"), tables: 0},
		"pipes and spaces":         {md: long(30_000, "| |"), tables: 0},
		"header too wide":          {md: long(30_000, "a | b | c\n-|-"), tables: 0},
		"pipe line, a table":       {md: long(15_000, "|") + "\n" + wide, tables: 1},
		"header too wide, a table": {md: long(15_000, "a | b | c\n-|-") + "\n" + wide, tables: 1},
		"table after text":         {md: long(30_000, "x") + "a | b\n-|-\nc | d", tables: 1},
		"text, then a table":       {md: "| h |\n| - |\n| c |\n\n" + long(30_000, "|"), tables: 1},
	}
	for name, tc := range cases {
		doc, err := ParseMarkdown(tc.md)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		tables := 0
		for _, b := range doc.Content {
			if b.Type == TypeTable {
				tables++
			}
		}
		if tables != tc.tables {
			t.Errorf("%s: %d tables, want %d", name, tables, tc.tables)
		}
		if !strings.Contains(doc.PlainText(), "text text") {
			t.Errorf("%s: the text was lost", name)
		}
	}
}
