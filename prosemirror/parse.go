package prosemirror

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/quire/quire/internal/jsondepth"
	"github.com/quire/quire/internal/runecut"
)

// Limits on documents accepted from clients.
const (
	MaxDepth = 100     // nesting of nodes
	MaxNodes = 200_000 // nodes and marks in one document
	MaxBytes = 16 << 20
)

// ErrInvalid wraps every validation failure of Parse.
var ErrInvalid = errors.New("prosemirror: invalid document")

// Parse decodes and validates ProseMirror JSON. The root must be a doc; text
// nodes need non-empty text and no content; known node types must have
// well-typed attrs (heading level 1–6, …) and table nodes their place
// (tablePlacement); unknown node and mark types are kept as long as they
// are well-formed. Depth and size are bounded.
func Parse(raw []byte) (*Node, error) {
	if len(raw) > MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, over %d", ErrInvalid, len(raw), MaxBytes)
	}
	// Bound nesting before json allocates a deep tree.
	if d := jsondepth.Max(raw); d > 2*MaxDepth+2 {
		return nil, fmt.Errorf("%w: nested deeper than %d", ErrInvalid, MaxDepth)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	var n Node
	if err := dec.Decode(&n); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	// More() is false before a stray "}" or "]": only the end of input ends it.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: trailing data", ErrInvalid)
	}
	if n.Type != TypeDoc {
		return nil, fmt.Errorf("%w: root is %q, not doc", ErrInvalid, n.Type)
	}
	count := 0
	if err := validate(&n, 0, &count); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return &n, nil
}

func validate(n *Node, depth int, count *int) error {
	if depth > MaxDepth {
		return fmt.Errorf("nested deeper than %d", MaxDepth)
	}
	*count += 1 + len(n.Marks)
	if *count > MaxNodes {
		return fmt.Errorf("more than %d nodes", MaxNodes)
	}
	if n.Type == "" {
		return errors.New("node without type")
	}
	for _, m := range n.Marks {
		if m.Type == "" {
			return errors.New("mark without type")
		}
		if m.Type == MarkLink {
			if _, ok := m.Attrs["href"].(string); !ok {
				return errors.New("link mark without href")
			}
		}
	}
	// In rank order, as ProseMirror's Mark.setFrom puts them on load and
	// the live document reads them back: "bold, link" rendered
	// "**[a](h)**" from the JSON sent but "[**a**](h)" once live.
	SortMarks(n.Marks)
	if n.Type == TypeText {
		if n.Text == "" {
			return errors.New("empty text node")
		}
		if len(n.Content) > 0 {
			return errors.New("text node with content")
		}
		return nil
	}
	if n.Text != "" {
		return fmt.Errorf("%s node with text", n.Type)
	}
	if err := validateAttrs(n); err != nil {
		return err
	}
	for _, c := range n.Content {
		if c == nil {
			return errors.New("null child")
		}
		if err := tablePlacement(n, c); err != nil {
			return err
		}
		if err := validate(c, depth+1, count); err != nil {
			return err
		}
	}
	n.Content = joinText(n.Content)
	return nil
}

// joinText joins adjacent text nodes with the same marks, as ProseMirror
// does on load and the live document reads them back: two code-marked
// "a" nodes wrote two code spans run together (read as one span holding
// both fences) from the JSON sent, one span "aa" once live. Each run is
// joined once (no quadratic +=).
func joinText(nodes []*Node) []*Node {
	out := nodes[:0]
	for i := 0; i < len(nodes); {
		j := i + 1
		for nodes[i].IsText() && j < len(nodes) && nodes[j].IsText() && SameMarks(nodes[i].Marks, nodes[j].Marks) {
			j++
		}
		if j > i+1 {
			var sb strings.Builder
			for _, t := range nodes[i:j] {
				sb.WriteString(t.Text)
			}
			nodes[i].Text = sb.String()
		}
		out = append(out, nodes[i])
		i = j
	}
	return out
}

func validateAttrs(n *Node) error {
	switch n.Type {
	case TypeHeading:
		if v, ok := n.Attrs["level"]; ok {
			if l, ok := v.(float64); !ok || l != float64(int(l)) || l < 1 || l > 6 {
				return fmt.Errorf("heading level %s", shortValue(v))
			}
		}
	case TypeOrderedList:
		if v, ok := n.Attrs["start"]; ok && v != nil {
			if s, ok := v.(float64); !ok || s != float64(int64(s)) {
				return fmt.Errorf("orderedList start %s", shortValue(v))
			}
		}
	case TypeTaskItem:
		if v, ok := n.Attrs["checked"]; ok && v != nil {
			if _, ok := v.(bool); !ok {
				return fmt.Errorf("taskItem checked %s", shortValue(v))
			}
		}
	case TypeCodeBlock:
		if v, ok := n.Attrs["language"]; ok && v != nil {
			if _, ok := v.(string); !ok {
				return fmt.Errorf("codeBlock language %s", shortValue(v))
			}
		}
		for _, c := range n.Content {
			if c != nil && c.Type != TypeText {
				return fmt.Errorf("codeBlock holds %s", c.Type)
			}
		}
	case TypeImage:
		if _, ok := n.Attrs["src"].(string); !ok {
			return errors.New("image without src")
		}
	case TypeTable, TypeTableRow, TypeTableHeader, TypeTableCell:
		return validateTable(n)
	case TypeMention:
		for _, k := range []string{"id", "label", "mentionSuggestionChar"} {
			if v, ok := n.Attrs[k]; ok && v != nil {
				if _, ok := v.(string); !ok {
					return fmt.Errorf("mention %s %s", k, shortValue(v))
				}
			}
		}
		if len(n.Content) > 0 {
			return errors.New("mention with content")
		}
	case TypeHorizontalRule, TypeHardBreak:
		if len(n.Content) > 0 {
			return fmt.Errorf("%s with content", n.Type)
		}
	}
	return nil
}

// shortValue names a refused attribute value in an error, in a few dozen
// bytes at most: the value comes from the request and may be megabytes
// (a string, or an object formatted whole by %v).
func shortValue(v any) string {
	switch v := v.(type) {
	case string:
		const max = 32
		if len(v) <= max {
			return strconv.Quote(v)
		}
		return strconv.Quote(runecut.Cut(v, max)) + "…"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	default: // float64, bool, nil
		return fmt.Sprint(v)
	}
}
