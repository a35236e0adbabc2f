package prosemirror_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/prosemirror"
)

// TestInlineCost: each run of adjacent text nodes costs its size squared,
// a text node being one plus its marks; other nodes (hard breaks,
// mentions: elements between the texts) split runs.
func TestInlineCost(t *testing.T) {
	t.Parallel()
	text := func(marks ...string) *prosemirror.Node {
		n := &prosemirror.Node{Type: prosemirror.TypeText, Text: "x"}
		for _, m := range marks {
			n.Marks = append(n.Marks, prosemirror.Mark{Type: m})
		}
		return n
	}
	para := func(c ...*prosemirror.Node) *prosemirror.Node {
		return &prosemirror.Node{Type: "paragraph", Content: c}
	}
	br := &prosemirror.Node{Type: "hard_break"}
	mention := &prosemirror.Node{Type: prosemirror.TypeMention, Attrs: map[string]any{"id": "a"}}
	doc := &prosemirror.Node{Type: prosemirror.TypeDoc, Content: []*prosemirror.Node{
		para(text(), text("bold"), text()),                               // 1+2+1 = 4 → 16
		para(text("bold", "italic"), br, text(), text()),                 // 3 → 9, then 2 → 4
		{Type: "blockquote", Content: []*prosemirror.Node{para(text())}}, // 1
		para(),
		para(text(), text(), mention, text("bold")), // an inline atom splits runs: 2 → 4, then 2 → 4
	}}
	require.Equal(t, int64(16+9+4+1+4+4), prosemirror.InlineCost(doc))
	require.Equal(t, int64(0), prosemirror.InlineCost(&prosemirror.Node{Type: prosemirror.TypeDoc}))
}
