package prosemirror

import (
	"html"
	"net/url"
	"strconv"
	"strings"
)

// HTML renders n the way Tiptap's getHTML does for the StarterKit schema.
// Text and attributes are escaped; link and image URLs are kept only when
// they are http, https, mailto (links) or relative; unknown nodes render
// their content.
func (n *Node) HTML() string {
	var sb strings.Builder
	writeHTML(&sb, n)
	return sb.String()
}

func writeHTML(sb *strings.Builder, n *Node) {
	if n == nil {
		return
	}
	wrap := func(open, close string) {
		sb.WriteString(open)
		if len(n.Content) > 0 && isInline(n.Content[0]) {
			writeInlineHTML(sb, n.Content)
		} else {
			for _, c := range n.Content {
				writeHTML(sb, c)
			}
		}
		sb.WriteString(close)
	}
	switch n.Type {
	case TypeText:
		writeInlineHTML(sb, []*Node{n})
	case TypeDoc:
		wrap("", "")
	case TypeParagraph:
		wrap("<p>", "</p>")
	case TypeHeading:
		h := strconv.Itoa(min(max(intAttr(n.Attrs, "level", 1), 1), 6))
		wrap("<h"+h+">", "</h"+h+">")
	case TypeBulletList:
		wrap("<ul>", "</ul>")
	case TypeOrderedList:
		open := "<ol>"
		if s := intAttr(n.Attrs, "start", 1); s != 1 {
			open = `<ol start="` + strconv.Itoa(s) + `">`
		}
		wrap(open, "</ol>")
	case TypeListItem:
		wrap("<li>", "</li>")
	case TypeTaskList:
		wrap(`<ul data-type="taskList">`, "</ul>")
	case TypeTaskItem:
		checked, _ := n.Attrs["checked"].(bool)
		box := `<input type="checkbox">`
		if checked {
			box = `<input type="checkbox" checked="checked">`
		}
		wrap(`<li data-checked="`+strconv.FormatBool(checked)+`" data-type="taskItem"><label>`+box+
			`<span></span></label><div>`, "</div></li>")
	case TypeCodeBlock:
		open := "<pre><code>"
		if lang, _ := n.Attrs["language"].(string); lang != "" {
			open = `<pre><code class="language-` + html.EscapeString(lang) + `">`
		}
		sb.WriteString(open)
		sb.WriteString(html.EscapeString(plainInline(n.Content)))
		sb.WriteString("</code></pre>")
	case TypeBlockquote:
		wrap("<blockquote>", "</blockquote>")
	case TypeTable, TypeTableRow, TypeTableHeader, TypeTableCell:
		wrap(tableHTML(n))
	case TypeHorizontalRule:
		sb.WriteString("<hr>")
	case TypeHardBreak:
		sb.WriteString("<br>")
	case TypeMention:
		writeMentionHTML(sb, n)
	case TypeImage:
		src, _ := n.Attrs["src"].(string)
		if !safeURL(src, false) {
			return
		}
		sb.WriteString(`<img src="` + html.EscapeString(src) + `"`)
		for _, k := range []string{"alt", "title", "width", "height"} {
			if v, ok := htmlAttr(n.Attrs[k]); ok {
				sb.WriteString(" " + k + `="` + html.EscapeString(v) + `"`)
			}
		}
		sb.WriteString(">")
	default:
		wrap("", "")
	}
}

// writeInlineHTML writes inline nodes, keeping a mark's element open across
// neighbours that share it, as ProseMirror's DOMSerializer does: "<strong>a
// <em>b</em></strong>", not one element per text node.
func writeInlineHTML(sb *strings.Builder, nodes []*Node) {
	var open []Mark
	closeTo := func(keep int) {
		for i := len(open) - 1; i >= keep; i-- {
			sb.WriteString(markCloseHTML(open[i]))
		}
		open = open[:keep]
	}
	for _, n := range nodes {
		var marks []Mark
		for _, m := range n.Marks {
			if markOpenHTML(m) != "" {
				marks = append(marks, m)
			}
		}
		closeTo(commonPrefix(open, marks))
		for _, m := range marks[len(open):] {
			sb.WriteString(markOpenHTML(m))
			open = append(open, m)
		}
		if n.Type == TypeText {
			sb.WriteString(html.EscapeString(n.Text))
		} else {
			writeHTML(sb, n)
		}
	}
	closeTo(0)
}

// writeMentionHTML writes a mention as Open WebUI's editor does: its
// attributes, then its text (mentionText).
func writeMentionHTML(sb *strings.Builder, n *Node) {
	sb.WriteString(`<span data-type="mention" class="mention"`)
	for _, a := range [][2]string{{"id", "data-id"}, {"label", "data-label"}} {
		if v, _ := n.Attrs[a[0]].(string); v != "" {
			sb.WriteString(" " + a[1] + `="` + html.EscapeString(v) + `"`)
		}
	}
	char, ok := n.Attrs["mentionSuggestionChar"].(string)
	if !ok {
		char = "@"
	}
	sb.WriteString(` data-mention-suggestion-char="` + html.EscapeString(char) + `">`)
	sb.WriteString(html.EscapeString(mentionText(n)) + "</span>")
}

// markOpenHTML is the opening tag of m, or "" for marks not rendered
// (unknown, or a link to an unsafe URL, whose text stays).
func markOpenHTML(m Mark) string {
	switch m.Type {
	case MarkBold:
		return "<strong>"
	case MarkItalic:
		return "<em>"
	case MarkStrike:
		return "<s>"
	case MarkCode:
		return "<code>"
	case MarkUnderline:
		return "<u>"
	case MarkHighlight:
		return "<mark>"
	case MarkLink:
		href, _ := m.Attrs["href"].(string)
		if !safeURL(href, true) {
			return ""
		}
		open := `<a href="` + html.EscapeString(href) + `"`
		for _, k := range []string{"target", "title"} {
			if v, _ := m.Attrs[k].(string); v != "" {
				open += " " + k + `="` + html.EscapeString(v) + `"`
			}
		}
		return open + ` rel="noopener noreferrer nofollow">`
	}
	return ""
}

func markCloseHTML(m Mark) string {
	switch m.Type {
	case MarkBold:
		return "</strong>"
	case MarkItalic:
		return "</em>"
	case MarkStrike:
		return "</s>"
	case MarkCode:
		return "</code>"
	case MarkUnderline:
		return "</u>"
	case MarkHighlight:
		return "</mark>"
	case MarkLink:
		return "</a>"
	}
	return ""
}

// safeURL accepts relative URLs and http(s); mailto too when link is set.
// Browsers ignore ASCII control characters and whitespace inside schemes
// ("java\tscript:"), so any such URL is refused.
func safeURL(raw string, link bool) bool {
	if raw == "" {
		return false
	}
	for _, r := range raw {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "":
		// "//host/x" is absolute in disguise but shares the page's scheme.
		return true
	case "http", "https":
		return true
	case "mailto":
		return link
	}
	return false
}

// PlainText is the document's text: one line per textblock, hard breaks as
// newlines, images as their alt text, a table row's cells on one line
// (tableText).
func (n *Node) PlainText() string {
	if n == nil {
		return ""
	}
	var lines []string
	var walk func(n *Node)
	walk = func(n *Node) {
		switch {
		case isInline(n):
			lines = append(lines, inlineText(n))
		case n.Type == TypeImage:
			alt, _ := n.Attrs["alt"].(string)
			lines = append(lines, alt)
		case n.Type == TypeTable:
			lines = append(lines, tableText(n)...)
		case n.Type == TypeHorizontalRule:
		case len(n.Content) == 0 || isInline(n.Content[0]) || n.Type == TypeCodeBlock:
			var sb strings.Builder
			for _, c := range n.Content {
				sb.WriteString(inlineText(c))
			}
			lines = append(lines, sb.String())
		default:
			for _, c := range n.Content {
				walk(c)
			}
		}
	}
	if n.Type == TypeDoc && len(n.Content) == 0 {
		return ""
	}
	walk(n)
	return strings.Join(lines, "\n")
}

func inlineText(n *Node) string {
	switch n.Type {
	case TypeHardBreak:
		return "\n"
	case TypeMention:
		return mentionText(n)
	}
	if n.Type == TypeText {
		return n.Text
	}
	var sb strings.Builder
	for _, c := range n.Content {
		sb.WriteString(inlineText(c))
	}
	return sb.String()
}

// Content is a note's rendered content as Open WebUI stores it in
// data.content.
type Content struct {
	MD   string `json:"md"`
	HTML string `json:"html"`
	JSON *Node  `json:"json"`
}

// ContentOf renders n in all three forms.
func ContentOf(n *Node) Content {
	return Content{MD: n.Markdown(), HTML: n.HTML(), JSON: n}
}

// htmlAttr is an attribute's value as HTML writes it: a string as is, a
// number (an image's width pasted into the stock editor may be either) in
// its shortest form; false for anything else (null included).
func htmlAttr(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	}
	return "", false
}
