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
		for _, c := range n.Content {
			writeHTML(sb, c)
		}
		sb.WriteString(close)
	}
	switch n.Type {
	case TypeText:
		writeTextHTML(sb, n)
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
	case TypeHorizontalRule:
		sb.WriteString("<hr>")
	case TypeHardBreak:
		sb.WriteString("<br>")
	case TypeImage:
		src, _ := n.Attrs["src"].(string)
		if !safeURL(src, false) {
			return
		}
		sb.WriteString(`<img src="` + html.EscapeString(src) + `"`)
		for _, k := range []string{"alt", "title"} {
			if v, ok := n.Attrs[k].(string); ok {
				sb.WriteString(" " + k + `="` + html.EscapeString(v) + `"`)
			}
		}
		sb.WriteString(">")
	default:
		wrap("", "")
	}
}

func writeTextHTML(sb *strings.Builder, n *Node) {
	var closes []string
	for _, m := range n.Marks {
		var open, close string
		switch m.Type {
		case MarkBold:
			open, close = "<strong>", "</strong>"
		case MarkItalic:
			open, close = "<em>", "</em>"
		case MarkStrike:
			open, close = "<s>", "</s>"
		case MarkCode:
			open, close = "<code>", "</code>"
		case MarkUnderline:
			open, close = "<u>", "</u>"
		case MarkLink:
			href, _ := m.Attrs["href"].(string)
			if !safeURL(href, true) {
				continue
			}
			open = `<a href="` + html.EscapeString(href) + `"`
			if t, _ := m.Attrs["target"].(string); t != "" {
				open += ` target="` + html.EscapeString(t) + `"`
			}
			open += ` rel="noopener noreferrer nofollow">`
			close = "</a>"
		default:
			continue
		}
		sb.WriteString(open)
		closes = append(closes, close)
	}
	sb.WriteString(html.EscapeString(n.Text))
	for i := len(closes) - 1; i >= 0; i-- {
		sb.WriteString(closes[i])
	}
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
// newlines, images as their alt text.
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
	if n.Type == TypeHardBreak {
		return "\n"
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
