package prosemirror

import (
	"bytes"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// The parser holds no per-document state, so one serves every call. GFM
// tables go through tableGuard; goldmark's table AST transformer is left
// out (it is quadratic in the escaped pipes of a table's code spans):
// mdConverter unescapes those itself.
var mdParser = goldmark.New(
	goldmark.WithExtensions(extension.Strikethrough, extension.TaskList),
	goldmark.WithParserOptions(parser.WithParagraphTransformers(
		util.Prioritized(tableGuard{extension.NewTableParagraphTransformer()}, 200))),
).Parser()

// FromMarkdown converts CommonMark (plus GFM strikethrough, task lists and
// tables) to a doc in the StarterKit schema (plus Tiptap's tables). Raw
// HTML is kept as literal text, but for "<br>" in a table cell, a hard
// break. The result is deterministic and always a valid doc (at least one
// block). Tables past MaxTableCells stay text (see ParseMarkdown).
// "==text==" and "@name" stay text: Markdown renders highlight and mention
// that way, but Open WebUI's own Markdown import does not reliably turn
// them back into marks and nodes, and neither does this.
func FromMarkdown(md string) *Node {
	doc, _ := ParseMarkdown(md)
	return doc
}

// ParseMarkdown is FromMarkdown, reporting ErrTableTooLarge when it left
// tables as paragraphs of text because with them the document's tables
// would span more than MaxTableCells cells; the doc is returned either way.
func ParseMarkdown(md string) (*Node, error) {
	src := []byte(validText(md))
	pc := parser.NewContext()
	root := mdParser.Parse(text.NewReader(src), parser.WithContext(pc))
	c := mdConverter{src: src, joined: map[*Node]*strings.Builder{}}
	doc := &Node{Type: TypeDoc, Content: c.blocks(root)}
	for n, b := range c.joined {
		n.Text = b.String()
	}
	if len(doc.Content) == 0 {
		doc.Content = []*Node{{Type: TypeParagraph}}
	}
	if pc.Get(tablesRefusedKey) != nil {
		return doc, ErrTableTooLarge
	}
	return doc, nil
}

// tableGuard runs goldmark's table transformer on a paragraph only while
// the document's tables stay within MaxTableCells, counting a table as the
// cells goldmark builds for it (gfmTableCells): goldmark pads every row to
// the header's width, so a long header over a column of short rows would
// make cells in the square of the input's size. That count is what
// TableCells says of the table built, and never more than TableCells of
// the table whose Markdown it is, so a document within the bound as JSON
// is within it as its own Markdown.
type tableGuard struct{ tables parser.ParagraphTransformer }

var (
	tableCellsKey    = parser.NewContextKey() // int64: cells so far
	tablesRefusedKey = parser.NewContextKey() // set once a table stayed text
)

func (g tableGuard) Transform(p *ast.Paragraph, r text.Reader, pc parser.Context) {
	cells := gfmTableCells(p.Lines(), r.Source())
	if cells == 0 {
		return
	}
	used, _ := pc.Get(tableCellsKey).(int64)
	if used+cells > MaxTableCells {
		pc.Set(tablesRefusedKey, true)
		return
	}
	pc.Set(tableCellsKey, used+cells)
	g.tables.Transform(p, r, pc)
}

// gfmTableCells is how many cells the table goldmark makes of a
// paragraph has, 0 when it makes none. goldmark looks for the first
// delimiter row below the paragraph's first line; if the line above it
// has no more cells than the delimiter row has columns, that line is the
// header and every line after the delimiter row a row, each padded or cut
// to the delimiter row's columns; the lines above the header stay a
// paragraph. Any other paragraph stays one: a "|" line in a long text is
// no table.
func gfmTableCells(lines *text.Segments, src []byte) int64 {
	for i := 1; i < lines.Len(); i++ {
		delim := lines.At(i)
		cols := delimiterColumns(delim.Value(src))
		if cols == 0 {
			continue
		}
		header := lines.At(i - 1)
		if headerCells(src[header.Start:header.Stop]) > cols {
			return 0
		}
		return int64(lines.Len()-i) * int64(cols)
	}
	return 0
}

// delimiterColumns is how many columns l has as a table's delimiter row,
// 0 if it is none: indented at most three columns, only spaces, "-", ":"
// and "|", not all "-"; between the "|"s (outer ones optional) cells such
// as "---", ":--" or " -: ".
func delimiterColumns(l []byte) int {
	if w, _ := util.IndentWidth(l, 0); w > 3 || bytes.Count(l, []byte("-")) == len(l) {
		return 0
	}
	for _, b := range l {
		if !util.IsSpace(b) && b != '-' && b != ':' && b != '|' {
			return 0
		}
	}
	cells := bytes.Split(l, []byte("|"))
	if util.IsBlank(cells[0]) {
		cells = cells[1:]
	}
	if len(cells) > 0 && util.IsBlank(cells[len(cells)-1]) {
		cells = cells[:len(cells)-1]
	}
	for _, c := range cells {
		c = bytes.TrimSuffix(bytes.TrimPrefix(bytes.Trim(c, " \t\n\r"), []byte(":")), []byte(":"))
		if len(c) == 0 || bytes.Count(c, []byte("-")) != len(c) {
			return 0
		}
	}
	return len(cells)
}

// headerCells is how many cells goldmark reads in a header row: the
// pieces between the "|"s not preceded by a backslash, outer "|"s and
// an empty last piece not counted.
func headerCells(l []byte) int {
	l = l[util.TrimLeftSpaceLength(l):]
	l = l[:len(l)-util.TrimRightSpaceLength(l)]
	start, end := 0, len(l)
	if end > 0 && l[0] == '|' {
		start++
	}
	if end > 0 && l[end-1] == '|' {
		end--
	}
	n := 0
	for pos := start; pos < end; n++ {
		for pos < end && (l[pos] != '|' || pos > 0 && l[pos-1] == '\\') {
			pos++
		}
		pos++
	}
	return n
}

type mdConverter struct {
	src []byte
	// joined holds the text of nodes that appendText grew: joining with
	// += would copy the text so far each time, quadratic in a paragraph of
	// many short pieces (each unmatched "*" or "[" is one).
	joined map[*Node]*strings.Builder
	// nest counts the blockquotes and lists around the block converted now.
	nest int
	// inCell is set while a table cell's inlines are converted.
	inCell bool
}

// maxMarkdownNesting bounds the blockquotes and lists FromMarkdown nests
// (each list level is two nodes): deeper ones are flattened into their
// parent, so that the result always passes Parse's MaxDepth and a line of
// ">>>>…" cannot make a tree as deep as the input is long.
const maxMarkdownNesting = (MaxDepth - 4) / 2

// blocks converts the block children of parent.
func (c *mdConverter) blocks(parent ast.Node) []*Node {
	var out []*Node
	for b := parent.FirstChild(); b != nil; b = b.NextSibling() {
		out = append(out, c.block(b)...)
	}
	return out
}

func (c *mdConverter) block(b ast.Node) []*Node {
	switch b := b.(type) {
	case *ast.Paragraph, *ast.TextBlock:
		return c.paragraph(b)
	case *ast.Heading:
		return []*Node{{Type: TypeHeading, Attrs: map[string]any{"level": float64(b.Level)},
			Content: c.inlines(b, nil)}}
	case *ast.ThematicBreak:
		return []*Node{{Type: TypeHorizontalRule}}
	case *ast.FencedCodeBlock:
		var lang any
		if l := b.Language(c.src); len(l) > 0 {
			lang = string(unescape(l))
		}
		return []*Node{codeBlock(c.lines(b), lang)}
	case *ast.CodeBlock:
		return []*Node{codeBlock(c.lines(b), nil)}
	case *ast.HTMLBlock:
		body := c.lines(b)
		if b.HasClosure() {
			body += string(b.ClosureLine.Value(c.src))
		}
		body = strings.TrimRight(body, "\n")
		if body == "" {
			return nil
		}
		// One line of text each, hard breaks between: a newline in a
		// paragraph's text is written as one and read back as a space
		// ("<a>\nx" became "<a> x" on the next import). A line's
		// leading spaces would not survive a hard break either.
		p := &Node{Type: TypeParagraph}
		for i, l := range strings.Split(body, "\n") {
			if i > 0 {
				p.Content = append(p.Content, &Node{Type: TypeHardBreak})
			}
			if l = strings.TrimLeft(l, " \t"); l != "" {
				p.Content = append(p.Content, &Node{Type: TypeText, Text: l})
			}
		}
		return []*Node{p}
	case *east.Table:
		return c.table(b)
	case *ast.Blockquote, *ast.List:
		if c.nest >= maxMarkdownNesting {
			return c.flatten(b)
		}
		c.nest++
		defer func() { c.nest-- }()
	}
	switch b := b.(type) {
	case *ast.Blockquote:
		content := c.blocks(b)
		if len(content) == 0 {
			content = []*Node{{Type: TypeParagraph}}
		}
		return []*Node{{Type: TypeBlockquote, Content: content}}
	case *ast.List:
		return []*Node{c.list(b)}
	}
	// Unknown block (an extension not enabled here): keep its text.
	return c.paragraph(b)
}

// table converts a GFM table as the stock editor does: the header row's
// cells are tableHeaders, the others' tableCells, each holding its inline
// content as a paragraph; alignments are dropped (Tiptap's tables have
// none). A table is four levels deep, one more than two of nesting: one
// at the nesting bound is flattened into its cells' paragraphs.
func (c *mdConverter) table(t *east.Table) []*Node {
	table := &Node{Type: TypeTable}
	for r := t.FirstChild(); r != nil; r = r.NextSibling() {
		kind := TypeTableCell
		if _, ok := r.(*east.TableHeader); ok {
			kind = TypeTableHeader
		}
		row := &Node{Type: TypeTableRow}
		for cell := r.FirstChild(); cell != nil; cell = cell.NextSibling() {
			c.inCell = true
			blocks := c.paragraph(cell)
			c.inCell = false
			row.Content = append(row.Content, &Node{Type: kind,
				Attrs:   map[string]any{"colspan": float64(1), "rowspan": float64(1), "colwidth": nil},
				Content: blocks})
		}
		table.Content = append(table.Content, row)
	}
	if c.nest >= maxMarkdownNesting {
		var flat []*Node
		for _, row := range table.Content {
			for _, cell := range row.Content {
				flat = append(flat, cell.Content...)
			}
		}
		return flat
	}
	return []*Node{table}
}

func codeBlock(body string, lang any) *Node {
	n := &Node{Type: TypeCodeBlock, Attrs: map[string]any{"language": lang}}
	// Tiptap keeps no final newline in a code block.
	if body = strings.TrimSuffix(body, "\n"); body != "" {
		n.Content = []*Node{{Type: TypeText, Text: body}}
	}
	return n
}

func (c *mdConverter) lines(b ast.Node) string {
	var sb strings.Builder
	lines := b.Lines()
	for i := 0; i < lines.Len(); i++ {
		seg := lines.At(i)
		sb.Write(seg.Value(c.src))
	}
	return sb.String()
}

// paragraph converts a paragraph. Images are blocks in Tiptap's schema, so
// each image splits the paragraph around it.
func (c *mdConverter) paragraph(b ast.Node) []*Node {
	var out []*Node
	cur := &Node{Type: TypeParagraph}
	for _, n := range c.inlines(b, nil) {
		if n.Type != TypeImage {
			cur.Content = append(cur.Content, n)
			continue
		}
		if len(cur.Content) > 0 {
			out = append(out, cur)
			cur = &Node{Type: TypeParagraph}
		}
		out = append(out, n)
	}
	trimHardBreaks(cur)
	if len(cur.Content) > 0 || len(out) == 0 {
		out = append(out, cur)
	}
	return out
}

// trimHardBreaks drops trailing hard breaks, which Markdown cannot express.
func trimHardBreaks(p *Node) {
	for len(p.Content) > 0 && p.Content[len(p.Content)-1].Type == TypeHardBreak {
		p.Content = p.Content[:len(p.Content)-1]
	}
}

// flatten converts a container nested too deep as its blocks alone (a
// list: each item's blocks in turn).
func (c *mdConverter) flatten(b ast.Node) []*Node {
	l, ok := b.(*ast.List)
	if !ok {
		return c.blocks(b)
	}
	var out []*Node
	for it := l.FirstChild(); it != nil; it = it.NextSibling() {
		out = append(out, c.blocks(it)...)
	}
	return out
}

func (c *mdConverter) list(l *ast.List) *Node {
	task := l.FirstChild() != nil
	for it := l.FirstChild(); it != nil; it = it.NextSibling() {
		if checkBox(it) == nil {
			task = false
		}
	}
	n := &Node{Type: TypeBulletList}
	switch {
	case task:
		n.Type = TypeTaskList
	case l.IsOrdered():
		n.Type = TypeOrderedList
		n.Attrs = map[string]any{"start": float64(l.Start)}
	}
	for it := l.FirstChild(); it != nil; it = it.NextSibling() {
		item := &Node{Type: TypeListItem}
		if task {
			cb := checkBox(it)
			item.Type = TypeTaskItem
			item.Attrs = map[string]any{"checked": cb.IsChecked}
			cb.Parent().RemoveChild(cb.Parent(), cb)
		}
		item.Content = c.blocks(it)
		// listItem and taskItem start with a paragraph.
		if len(item.Content) == 0 || item.Content[0].Type != TypeParagraph {
			item.Content = append([]*Node{{Type: TypeParagraph}}, item.Content...)
		}
		n.Content = append(n.Content, item)
	}
	return n
}

// checkBox returns the task checkbox opening item's first block, if any.
func checkBox(item ast.Node) *east.TaskCheckBox {
	first := item.FirstChild()
	if first == nil {
		return nil
	}
	cb, _ := first.FirstChild().(*east.TaskCheckBox)
	return cb
}

// inlines converts the inline children of parent, each carrying marks.
func (c *mdConverter) inlines(parent ast.Node, marks []Mark) []*Node {
	var out []*Node
	for n := parent.FirstChild(); n != nil; n = n.NextSibling() {
		out = c.inline(out, n, marks)
	}
	return out
}

func (c *mdConverter) inline(out []*Node, n ast.Node, marks []Mark) []*Node {
	switch n := n.(type) {
	case *ast.Text:
		v := n.Value(c.src)
		hard := n.HardLineBreak()
		if !hard && n.SoftLineBreak() && !n.IsRaw() && oddBackslashes(v) {
			// A line ending in an escaped backslash, then the break's
			// backslash: goldmark sees a backslash before the last and
			// keeps all three as text, with a soft break.
			v, hard = v[:len(v)-1], true
		}
		if !n.IsRaw() {
			v = unescape(v)
		}
		out = c.appendText(out, string(v), marks)
		if hard {
			out = append(out, &Node{Type: TypeHardBreak})
		} else if n.SoftLineBreak() {
			// A soft break is a space once rendered; Tiptap stores it as one.
			out = c.appendText(out, " ", marks)
		}
		return out
	case *ast.String:
		v := n.Value
		if !n.IsRaw() && !n.IsCode() {
			v = unescape(v)
		}
		return c.appendText(out, string(v), marks)
	case *ast.CodeSpan:
		var sb bytes.Buffer
		for t := n.FirstChild(); t != nil; t = t.NextSibling() {
			switch t := t.(type) {
			case *ast.Text:
				sb.Write(t.Value(c.src))
			case *ast.String:
				sb.Write(t.Value)
			}
		}
		// CommonMark turns a code span's line endings into spaces: kept,
		// "`0\n``0`" was written back with its newline, "```0" opening
		// a fenced code block.
		code := softBreaks.Replace(sb.String())
		if c.untrimmedCode(n) && len(code) >= 2 && code[0] == ' ' && code[len(code)-1] == ' ' && strings.Trim(code, " ") != "" {
			// Then one space is stripped from each end if both are
			// spaces; goldmark strips none where a "\r" was ("`\r0 `").
			code = code[1 : len(code)-1]
		}
		if c.inCell {
			// GFM reads "\|" in a cell as "|", in code spans too.
			code = strings.ReplaceAll(code, `\|`, "|")
		}
		return c.appendText(out, code, withMark(marks, Mark{Type: MarkCode}))
	case *ast.Emphasis:
		m := Mark{Type: MarkItalic}
		if n.Level >= 2 {
			m.Type = MarkBold
		}
		return c.appendNodes(out, c.inlines(n, withMark(marks, m)))
	case *east.Strikethrough:
		return c.appendNodes(out, c.inlines(n, withMark(marks, Mark{Type: MarkStrike})))
	case *ast.Link:
		// Tiptap's link mark has no title attribute.
		m := Mark{Type: MarkLink, Attrs: map[string]any{"href": string(unescape(n.Destination))}}
		return c.appendNodes(out, c.inlines(n, withMark(marks, m)))
	case *ast.AutoLink:
		label := string(n.Label(c.src))
		href := string(n.URL(c.src))
		if n.AutoLinkType == ast.AutoLinkEmail && !strings.HasPrefix(strings.ToLower(href), "mailto:") {
			href = "mailto:" + href
		}
		return c.appendText(out, label, withMark(marks, Mark{Type: MarkLink, Attrs: map[string]any{"href": href}}))
	case *ast.Image:
		attrs := map[string]any{"src": string(unescape(n.Destination)), "alt": nil, "title": nil}
		if alt := c.plainInline(c.inlines(n, nil)); alt != "" {
			attrs["alt"] = alt
		}
		if len(n.Title) > 0 {
			attrs["title"] = string(unescape(n.Title))
		}
		return append(out, &Node{Type: TypeImage, Attrs: attrs})
	case *ast.RawHTML:
		var sb strings.Builder
		for i := 0; i < n.Segments.Len(); i++ {
			seg := n.Segments.At(i)
			sb.Write(seg.Value(c.src))
		}
		if c.inCell && breakTag.MatchString(sb.String()) {
			// A cell is one line: GFM writes its line breaks as <br>.
			return append(out, &Node{Type: TypeHardBreak})
		}
		// A tag over several lines: its line endings are soft breaks, a
		// space each, as in text ("<A\nA>" kept the newline, written
		// back as a soft break and so read back as "<A A>").
		return c.appendText(out, softBreaks.Replace(sb.String()), marks)
	case *east.TaskCheckBox:
		// Consumed by list; inside a non-task list keep it as text.
		if n.IsChecked {
			return c.appendText(out, "[x] ", marks)
		}
		return c.appendText(out, "[ ] ", marks)
	}
	return append(out, c.inlines(n, marks)...)
}

// untrimmedCode reports whether goldmark left both ends of code span n
// as written: the fences' backticks are right beside its text.
func (c *mdConverter) untrimmedCode(n *ast.CodeSpan) bool {
	first, ok1 := n.FirstChild().(*ast.Text)
	last, ok2 := n.LastChild().(*ast.Text)
	return ok1 && ok2 && first.Segment.Start > 0 && c.src[first.Segment.Start-1] == '`' &&
		last.Segment.Stop < len(c.src) && c.src[last.Segment.Stop] == '`'
}

// oddBackslashes reports whether v ends in an odd number of backslashes.
func oddBackslashes(v []byte) bool {
	n := 0
	for i := len(v) - 1; i >= 0 && v[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

var breakTag = regexp.MustCompile(`^(?i)<br\s*/?>$`)

var softBreaks = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")

// validText is md as CommonMark reads it: U+0000 is replaced with U+FFFD,
// and so is each byte that is not UTF-8, as JSON writes a string holding
// one (goldmark reads such a byte as the character before it, which can
// change what a delimiter next to it does: "*~~\xa5~~*" stayed text).
func validText(md string) string {
	if utf8.ValidString(md) && !strings.Contains(md, "\x00") {
		return md
	}
	var sb strings.Builder
	for i, r := range md {
		if r == 0 || r == utf8.RuneError && !strings.HasPrefix(md[i:], "\uFFFD") {
			r = utf8.RuneError
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

// withMark returns marks plus m, in rank order, without touching marks.
// A mark of m's type already there is replaced, as ProseMirror's
// Mark.addToSet does: emphasis nested in emphasis ("*a *b**") made text
// marked italic twice, written back as "**" (bold) and read back as such.
func withMark(marks []Mark, m Mark) []Mark {
	out := make([]Mark, 0, len(marks)+1)
	for _, have := range marks {
		if have.Type != m.Type {
			out = append(out, have)
		}
	}
	out = append(out, m)
	SortMarks(out)
	return out
}

// appendText appends a text node, joining it to the previous one when the
// marks match (ProseMirror never keeps two such nodes side by side).
func (c *mdConverter) appendText(out []*Node, s string, marks []Mark) []*Node {
	if s == "" {
		return out
	}
	if k := len(out) - 1; k >= 0 && out[k].Type == TypeText && SameMarks(out[k].Marks, marks) {
		b := c.joined[out[k]]
		if b == nil {
			b = &strings.Builder{}
			b.WriteString(out[k].Text)
			c.joined[out[k]] = b
		}
		b.WriteString(s)
		return out
	}
	var ms []Mark
	if len(marks) > 0 {
		ms = append(ms, marks...)
	}
	return append(out, &Node{Type: TypeText, Text: s, Marks: ms})
}

// appendNodes appends inline nodes converted on their own, joining the
// first to the last of out as appendText does: their marks can match
// when a mark nested in the same mark adds nothing ("*a *b**").
func (c *mdConverter) appendNodes(out, nodes []*Node) []*Node {
	if len(nodes) == 0 || nodes[0].Type != TypeText {
		return append(out, nodes...)
	}
	first := nodes[0]
	text := first.Text
	if b := c.joined[first]; b != nil {
		text = b.String()
		delete(c.joined, first)
	}
	return append(c.appendText(out, text, first.Marks), nodes[1:]...)
}

// plainInline is the text of finished inline nodes.
func plainInline(nodes []*Node) string {
	var sb strings.Builder
	for _, n := range nodes {
		sb.WriteString(n.Text)
	}
	return sb.String()
}

// plainInline is the text of inline nodes still being converted.
func (c *mdConverter) plainInline(nodes []*Node) string {
	var sb strings.Builder
	for _, n := range nodes {
		if b := c.joined[n]; b != nil {
			sb.WriteString(b.String())
			continue
		}
		sb.WriteString(n.Text)
	}
	return sb.String()
}

// unescape resolves backslash escapes and character references in one pass,
// so that an escaped "\&amp;" stays literal.
func unescape(v []byte) []byte {
	resolve := func(b []byte) []byte { return util.ResolveEntityNames(util.ResolveNumericReferences(b)) }
	var out []byte
	start := 0
	for i := 0; i+1 < len(v); i++ {
		if v[i] == '\\' && util.IsPunct(v[i+1]) {
			out = append(out, resolve(v[start:i])...)
			out = append(out, v[i+1])
			i++
			start = i + 1
		}
	}
	return append(out, resolve(v[start:])...)
}
