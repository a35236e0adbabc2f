package prosemirror

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Markdown renders n as CommonMark with GFM strikethrough and task lists.
// Lists are written tight; underline has no Markdown form and is dropped;
// highlight is "==text==" and a mention "@label", as the stock editor
// writes them; unknown nodes contribute their content.
func (n *Node) Markdown() string {
	if n == nil {
		return ""
	}
	if n.IsText() || isInline(n) {
		return inlineMarkdown([]*Node{n})
	}
	return strings.Join(blocksMarkdown(n.blockChildren()), "\n\n")
}

// blockChildren treats a doc-like node's content as blocks.
func (n *Node) blockChildren() []*Node {
	if n.Type == TypeDoc || n.Type == TypeBlockquote || n.Type == TypeListItem || n.Type == TypeTaskItem {
		return n.Content
	}
	return []*Node{n}
}

func isInline(n *Node) bool {
	return n.Type == TypeText || n.Type == TypeHardBreak || n.Type == TypeMention
}

// mentionText is how the stock editor shows a mention: its suggestion
// character ("@" by default; "/" shows as "$") and its label, else its id.
func mentionText(n *Node) string {
	char, ok := n.Attrs["mentionSuggestionChar"].(string)
	if !ok {
		char = "@"
	}
	if char == "/" {
		char = "$"
	}
	label, ok := n.Attrs["label"].(string)
	if !ok {
		label, _ = n.Attrs["id"].(string)
	}
	return char + label
}

// blocksMarkdown renders each block; empty paragraphs leave no trace, since
// Markdown has no empty paragraph.
func blocksMarkdown(blocks []*Node) []string {
	var out []string
	alt, prev := false, ""
	for _, b := range blocks {
		var s string
		if list := listKind(b); list != "" {
			// Two lists in a row would merge into one unless their bullet
			// or delimiter differs.
			alt = list == prev && !alt
			s, prev = listMarkdown(b, alt), list
		} else {
			s, prev = blockMarkdown(b), ""
		}
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// listKind groups the list types Markdown cannot tell apart when adjacent.
func listKind(n *Node) string {
	switch n.Type {
	case TypeBulletList, TypeTaskList:
		return "bullet"
	case TypeOrderedList:
		return "ordered"
	}
	return ""
}

func blockMarkdown(b *Node) string {
	switch b.Type {
	case TypeParagraph:
		return escapeLineStarts(inlineMarkdown(b.Content))
	case TypeHeading:
		level := intAttr(b.Attrs, "level", 1)
		level = min(max(level, 1), 6)
		// A heading is one line: hard breaks are spaces, none at its ends
		// (the import strips those: a heading starting with a break wrote
		// "##  0", read back as "## 0").
		return strings.Repeat("#", level) + " " + strings.Trim(strings.ReplaceAll(inlineMarkdown(b.Content), "\\\n", " "), " ")
	case TypeCodeBlock:
		body := plainInline(b.Content)
		fence := "```"
		for strings.Contains(body, fence) {
			fence += "`"
		}
		lang, _ := b.Attrs["language"].(string)
		return fence + lang + "\n" + body + "\n" + fence
	case TypeBlockquote:
		inner := strings.Join(blocksMarkdown(b.Content), "\n\n")
		return prefixLines(inner, "> ", ">")
	case TypeHorizontalRule:
		return "---"
	case TypeImage:
		return imageMarkdown(b)
	case TypeBulletList, TypeOrderedList, TypeTaskList:
		return listMarkdown(b, false)
	case TypeTable:
		return tableMarkdown(b)
	case TypeText, TypeHardBreak, TypeMention:
		return inlineMarkdown([]*Node{b})
	}
	// Unknown block: inline content as a paragraph, block content as blocks.
	if len(b.Content) > 0 && isInline(b.Content[0]) {
		return escapeLineStarts(inlineMarkdown(b.Content))
	}
	return strings.Join(blocksMarkdown(b.Content), "\n\n")
}

// listMarkdown writes a tight list; alt selects the other bullet ("*") or
// delimiter (")").
func listMarkdown(l *Node, alt bool) string {
	start := intAttr(l.Attrs, "start", 1)
	bullet, delim := "-", "."
	if alt {
		bullet, delim = "*", ")"
	}
	items := make([]string, 0, len(l.Content))
	for i, it := range l.Content {
		marker := bullet + " "
		switch {
		case l.Type == TypeOrderedList:
			marker = strconv.Itoa(start+i) + delim + " "
		case l.Type == TypeTaskList || it.Type == TypeTaskItem:
			if checked, _ := it.Attrs["checked"].(bool); checked {
				marker = bullet + " [x] "
			} else {
				marker = bullet + " [ ] "
			}
		}
		// An item of several paragraphs needs blank lines between them.
		sep := "\n"
		if paragraphs(it.Content) > 1 {
			sep = "\n\n"
		}
		body := strings.Join(blocksMarkdown(it.Content), sep)
		indent := strings.Repeat(" ", len(marker))
		if l.Type == TypeTaskList {
			indent = "  " // continuation of "- [ ] " aligns with the bullet's content
		}
		if body == "" {
			items = append(items, strings.TrimRight(marker, " "))
			continue
		}
		// The first line follows the marker; it may be blank (an item
		// starting with an empty paragraph), which prefixLines leaves bare.
		items = append(items, marker+strings.TrimPrefix(prefixLines(body, indent, ""), indent))
	}
	return strings.Join(items, "\n")
}

func paragraphs(nodes []*Node) int {
	n := 0
	for _, c := range nodes {
		if c.Type != TypeBulletList && c.Type != TypeOrderedList && c.Type != TypeTaskList {
			n++
		}
	}
	return n
}

// prefixLines prefixes every line of s; blank lines get blank instead.
func prefixLines(s, prefix, blank string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l == "" {
			lines[i] = blank
		} else {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n")
}

func imageMarkdown(n *Node) string { return imageMarkdownIn(n, false) }

// imageMarkdownIn writes an image, for a table cell when cell is set.
func imageMarkdownIn(n *Node, cell bool) string {
	src, _ := n.Attrs["src"].(string)
	alt, _ := n.Attrs["alt"].(string)
	title, _ := n.Attrs["title"].(string)
	raw := destination(src)
	if title != "" {
		raw += ` "` + strings.ReplaceAll(title, `"`, `\"`) + `"`
	}
	if cell {
		raw = cellPipes(raw)
	}
	return "![" + escapeText(alt) + "](" + raw + ")"
}

// destination writes a link destination, in angle brackets when it holds
// spaces or parentheses. Every backslash is escaped: one before ")" or at
// the end (before the closing ")") would escape it and end no link.
func destination(u string) string {
	u = strings.ReplaceAll(u, `\`, `\\`)
	if u == "" || strings.ContainsAny(u, " ()<>") {
		return "<" + strings.NewReplacer("<", `\<`, ">", `\>`).Replace(u) + ">"
	}
	return u
}

// inlineMarkdown writes text nodes, opening and closing marks only where
// they change between neighbours (as prosemirror-markdown does), so that
// "**a *b***" stays one strong span. Whitespace at mark edges is moved
// outside the delimiters, which CommonMark requires.
func inlineMarkdown(nodes []*Node) string { return inlineMarkdownIn(nodes, false) }

// inlineMarkdownIn is inlineMarkdown, for a table cell when cell is set.
func inlineMarkdownIn(nodes []*Node, cell bool) string {
	raw := func(s string) string { return s }
	if cell {
		raw = cellPipes
	}
	var sb bytes.Buffer
	var open []Mark
	var opener []int // for each open mark, its opening delimiter in w.delims
	w := newEmphasisWriter()
	defer w.release()
	pending := "" // trailing whitespace held until marks are closed
	// delimiter writes a mark's delimiter. goldmark opens or closes no
	// strikethrough right after a "~", escaped or not, so an escaped
	// tilde just before "~~" is written as its entity instead: "~" then
	// struck "0" was "\~~~0~~", which read back as the text "~~~0~~".
	delimiter := func(m Mark, opens bool, pair int) int {
		d := markOpen(m)
		if !opens {
			d = raw(markClose(m))
		}
		if strings.HasPrefix(d, "~") && bytes.HasSuffix(sb.Bytes(), []byte(`\~`)) {
			sb.Truncate(sb.Len() - 2)
			sb.WriteString("&#126;")
		}
		if d == "[" && unescapedBang(sb.Bytes()) {
			// "!" then a link is an image: "!" then linked "a" wrote
			// "![a](u)".
			sb.Truncate(sb.Len() - 1)
			sb.WriteString(`\!`)
		}
		start := sb.Len()
		sb.WriteString(d)
		return w.add(m.Type, start, sb.Len(), opens, pair)
	}
	// space writes whitespace, but none at the start of a line, where
	// the import would strip it (and the rendering no longer be what it
	// reads back as).
	space := func(s string) {
		if b := sb.Bytes(); len(b) > 0 && b[len(b)-1] != '\n' {
			sb.WriteString(s)
		}
	}
	closeTo := func(keep int) {
		for i := len(open) - 1; i >= keep; i-- {
			delimiter(open[i], false, opener[i])
		}
		open, opener = open[:keep], opener[:keep]
	}
	text := func(s string) {
		start := sb.Len()
		sb.WriteString(s)
		w.text(start, sb.Len(), open)
	}
	for _, n := range nodes {
		switch n.Type {
		case TypeHardBreak:
			// Delimiters cannot close at the start of the next line.
			closeTo(0)
			sb.WriteString(pending)
			pending = ""
			if bytes.HasSuffix(sb.Bytes(), []byte(`\\`)) {
				// Text ending in a backslash: goldmark reads its escape and
				// the break's backslash (three at a line's end) as text,
				// and the next line as if its first character were escaped
				// (a "\\<" there kept its backslash). A reference it reads.
				sb.Truncate(sb.Len() - 2)
				sb.WriteString("&#92;")
			}
			sb.WriteString("\\\n")
			continue
		case TypeText:
		default:
			// A mention or an inline node of another schema: its text,
			// unmarked.
			closeTo(0)
			space(pending)
			pending = ""
			s := plainInline(n.Content)
			if n.Type == TypeMention {
				s = mentionText(n)
			}
			sb.WriteString(escapeText(s))
			continue
		}
		var marks, code []Mark
		for _, m := range n.Marks {
			switch {
			case m.Type == MarkCode:
				code = append(code, m)
			case markOpen(m) != "":
				marks = append(marks, m)
			}
			// Underline and marks of other schemas have no Markdown.
		}
		// Marks still open stay open, in the order they were opened,
		// whatever their rank: closing and reopening one inside another
		// (italic "!" then bold italic "0") wrote "*!****0***", whose run
		// of four stars the import reads as "*!" and bold "0*".
		keep := 0
		for keep < len(open) && hasMark(marks, open[keep]) {
			keep++
		}
		closeTo(keep)
		lead, core, trail := splitSpace(n.Text)
		if len(code) > 0 {
			// Spaces are content inside a code span, even all of it.
			lead, core, trail = "", n.Text, ""
		}
		if core == "" {
			// Whitespace opens nothing; it sits outside marks it lacks.
			// Held with the whitespace before it, so that text split into
			// nodes differently (as the live document joins them) writes
			// the same: " " then " " at the end wrote one space, "  " none.
			pending += n.Text
			continue
		}
		space(pending)
		pending = ""
		space(lead)
		for _, m := range marks {
			if !hasMark(open, m) {
				opener = append(opener, delimiter(m, true, -1))
				open = append(open, m)
			}
		}
		if len(code) > 0 {
			text(raw(codeSpan(core)))
		} else {
			text(escapeText(core))
		}
		pending = trail
	}
	closeTo(0)
	// Whitespace at the end is lost on import: none is written.
	return w.finish(sb.Bytes())
}

// hasMark reports whether marks holds m (with equal attrs).
func hasMark(marks []Mark, m Mark) bool {
	for _, have := range marks {
		if have.Type == m.Type && attrsEqual(have.Attrs, m.Attrs) {
			return true
		}
	}
	return false
}

// commonPrefix is how many leading marks a and b share.
func commonPrefix(a, b []Mark) int {
	k := 0
	for k < len(a) && k < len(b) && SameMarks(a[k:k+1], b[k:k+1]) {
		k++
	}
	return k
}

// mdSpace is the whitespace goldmark strips at a paragraph's ends
// (util.IsSpace): a form feed left at the end was written, then lost.
const mdSpace = " \t\n\v\f\r"

func splitSpace(s string) (lead, core, trail string) {
	core = strings.TrimLeft(s, mdSpace)
	lead = s[:len(s)-len(core)]
	trimmed := strings.TrimRight(core, mdSpace)
	trail = core[len(trimmed):]
	return lead, trimmed, trail
}

func markOpen(m Mark) string {
	switch m.Type {
	case MarkBold:
		return "**"
	case MarkItalic:
		return "*"
	case MarkStrike:
		return "~~"
	case MarkLink:
		return "["
	case MarkHighlight:
		return "=="
	}
	return ""
}

func markClose(m Mark) string {
	if m.Type == MarkLink {
		href, _ := m.Attrs["href"].(string)
		return "](" + destination(href) + ")"
	}
	return markOpen(m)
}

// codeSpan fences s with more backticks than it contains in a row.
func codeSpan(s string) string {
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	// The import strips one space from each end when both ends are
	// spaces (and not all is): " 0 " was written "` 0 `", read as "0".
	padded := strings.HasPrefix(s, " ") && strings.HasSuffix(s, " ") && strings.Trim(s, " ") != ""
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || padded {
		s = " " + s + " "
	}
	return fence + s + fence
}

var (
	textEscaper = strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "`", "\\`", "[", `\[`, "]", `\]`,
		"<", `\<`, ">", `\>`, "~", `\~`, "|", `\|`)
	entityLike = regexp.MustCompile(`&(#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);`)
	// Line starts that would turn a paragraph into another block.
	blockStart = regexp.MustCompile(`(?m)^( {0,3})(#{1,6}(?:[ \t]|$)|[-+=](?:[ \t]|$)|(\d{1,9})([.)])(?:[ \t]|$)|-{3,}$)`)
)

func escapeText(s string) string {
	s = textEscaper.Replace(s)
	return entityLike.ReplaceAllStringFunc(s, func(e string) string { return `\` + e })
}

// escapeLineStarts backslash-escapes what would start a heading, list,
// setext underline or thematic break at the beginning of a line.
func escapeLineStarts(s string) string {
	return blockStart.ReplaceAllStringFunc(s, func(m string) string {
		sub := blockStart.FindStringSubmatch(m)
		indent, rest := sub[1], m[len(sub[1]):]
		if sub[3] != "" { // ordered list marker: escape the delimiter
			return indent + sub[3] + `\` + rest[len(sub[3]):]
		}
		return indent + `\` + rest
	})
}

func intAttr(attrs map[string]any, key string, def int) int {
	switch v := attrs[key].(type) {
	case float64:
		return int(v)
	case int:
		return v
	case int64:
		return int(v)
	case string:
		if i, err := strconv.Atoi(v); err == nil {
			return i
		}
	case fmt.Stringer:
		if i, err := strconv.Atoi(v.String()); err == nil {
			return i
		}
	}
	return def
}

// unescapedBang reports whether md ends with a "!" that no backslash
// escapes (one after an escaped backslash, "\\!", is not escaped).
func unescapedBang(md []byte) bool {
	if !bytes.HasSuffix(md, []byte("!")) {
		return false
	}
	n := 0
	for i := len(md) - 2; i >= 0 && md[i] == '\\'; i-- {
		n++
	}
	return n%2 == 0
}
