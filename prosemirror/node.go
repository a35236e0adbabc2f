package prosemirror

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
)

// Node is one ProseMirror node in its JSON shape. Text is set only on text
// nodes; Marks only appear on text nodes in the StarterKit schema, but are
// kept on any node so unknown schemas survive a round trip.
type Node struct {
	Type    string         `json:"type"`
	Attrs   map[string]any `json:"attrs,omitempty"`
	Content []*Node        `json:"content,omitempty"`
	Marks   []Mark         `json:"marks,omitempty"`
	Text    string         `json:"text,omitempty"` // last, in ProseMirror's own key order
}

// Mark is one ProseMirror mark in its JSON shape.
type Mark struct {
	Type  string         `json:"type"`
	Attrs map[string]any `json:"attrs,omitempty"`
}

// Node and mark type names of Tiptap's StarterKit (plus the few extensions
// Open WebUI's editor adds), which is what browsers store.
const (
	TypeDoc            = "doc"
	TypeParagraph      = "paragraph"
	TypeHeading        = "heading"
	TypeBulletList     = "bulletList"
	TypeOrderedList    = "orderedList"
	TypeListItem       = "listItem"
	TypeTaskList       = "taskList"
	TypeTaskItem       = "taskItem"
	TypeCodeBlock      = "codeBlock"
	TypeBlockquote     = "blockquote"
	TypeHorizontalRule = "horizontalRule"
	TypeHardBreak      = "hardBreak"
	TypeImage          = "image"
	TypeText           = "text"
	// Tiptap's TableKit: table > tableRow+ > (tableHeader | tableCell)* >
	// block+. Cells carry colspan and rowspan (default 1) and colwidth
	// (default null, else one width per spanned column); tables and rows
	// have no attrs.
	TypeTable       = "table"
	TypeTableRow    = "tableRow"
	TypeTableHeader = "tableHeader"
	TypeTableCell   = "tableCell"
	// Tiptap's Mention, which Open WebUI's editor has when it is given
	// suggestions: an inline atom (a Y.XmlElement inside a paragraph, like
	// hardBreak) with attrs id, label and mentionSuggestionChar (default
	// "@"), shown as "@label".
	TypeMention = "mention"

	MarkBold      = "bold"
	MarkItalic    = "italic"
	MarkStrike    = "strike"
	MarkCode      = "code"
	MarkUnderline = "underline"
	MarkLink      = "link"
	// Tiptap's Highlight with multicolor off: <mark>, no attrs.
	MarkHighlight = "highlight"
)

// markRank is the order marks take on a text node: Tiptap builds the schema
// from extensions sorted by priority (link is 1000, the rest 100 in
// StarterKit order), and ProseMirror sorts a node's marks by schema rank.
// Highlight has the default priority 100 and comes after StarterKit in
// the extension list, so after its marks.
var markRank = map[string]int{
	MarkLink: 0, MarkBold: 1, MarkCode: 2, MarkItalic: 3, MarkStrike: 4, MarkUnderline: 5, MarkHighlight: 6,
}

// SortMarks orders marks by schema rank, unknown marks after them by name, so that
// equal mark sets always serialise the same way.
func SortMarks(marks []Mark) {
	rank := func(m Mark) int {
		if r, ok := markRank[m.Type]; ok {
			return r
		}
		return len(markRank)
	}
	slices.SortStableFunc(marks, func(a, b Mark) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		if c := strings.Compare(a.Type, b.Type); c != 0 {
			return c
		}
		// Overlapping marks of one type: order by attrs.
		ja, _ := json.Marshal(a.Attrs)
		jb, _ := json.Marshal(b.Attrs)
		return strings.Compare(string(ja), string(jb))
	})
}

// SameMarks reports whether a and b hold the same marks with equal attrs.
func SameMarks(a, b []Mark) bool {
	return slices.EqualFunc(a, b, func(x, y Mark) bool {
		return x.Type == y.Type && attrsEqual(x.Attrs, y.Attrs)
	})
}

func attrsEqual(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	// Attribute values are JSON values; comparing their encodings sidesteps
	// int/float64 differences between decoders.
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}

// Clone returns a deep copy of n.
func (n *Node) Clone() *Node {
	if n == nil {
		return nil
	}
	c := &Node{Type: n.Type, Text: n.Text, Attrs: maps.Clone(n.Attrs)}
	for _, ch := range n.Content {
		c.Content = append(c.Content, ch.Clone())
	}
	for _, m := range n.Marks {
		c.Marks = append(c.Marks, Mark{Type: m.Type, Attrs: maps.Clone(m.Attrs)})
	}
	return c
}

// IsText reports whether n is a text node.
func (n *Node) IsText() bool { return n.Type == TypeText }

// InlineCost is what writing n's text into a Yjs document costs, in
// units: for each run of adjacent text nodes (one Y.XmlText), the square
// of its size, a text node counting one plus its marks. The Yjs library
// finds each piece's position by walking its Y.XmlText from the start, so
// a run takes about its size squared.
func InlineCost(n *Node) int64 {
	var cost, run int64
	for _, c := range n.Content {
		if c.IsText() {
			run += 1 + int64(len(c.Marks))
			continue
		}
		cost += run*run + InlineCost(c)
		run = 0
	}
	return cost + run*run
}
