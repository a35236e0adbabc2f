package ydoc

import (
	"bytes"
	"strings"
	"testing"

	y "github.com/skyterra/y-crdt"
)

// A REST edit that writes text next to formatted text must give the new
// text exactly its own marks, in the server's document and in yjs
// (ycrdt_format.go). Each case but the one at the start failed before the
// workaround: the new text (or the text after it) read back with the marks
// of the text before it.
func TestReplaceWritesTextWithItsOwnMarks(t *testing.T) {
	t.Parallel()
	const (
		bold   = `{"type":"bold"}`
		italic = `{"type":"italic"}`
		code   = `{"type":"code"}`
		link   = `{"type":"link","attrs":{"href":"https://a.test","target":"_blank"}}`
		link2  = `{"type":"link","attrs":{"href":"https://b.test","target":"_blank"}}`
	)
	// text is a text node with marks; paragraph a doc of one paragraph.
	text := func(s string, marks ...string) string {
		if len(marks) == 0 {
			return `{"type":"text","text":"` + s + `"}`
		}
		return `{"type":"text","marks":[` + strings.Join(marks, ",") + `],"text":"` + s + `"}`
	}
	paragraph := func(nodes ...string) string {
		return `{"type":"doc","content":[{"type":"paragraph","content":[` + strings.Join(nodes, ",") + `]}]}`
	}
	for _, c := range []struct{ name, from, to string }{
		{"plain after bold italic", // the fuzzer's case
			paragraph(text("x", bold, italic), text("e", code)),
			paragraph(text("x", bold, italic), text("e"))},
		{"plain inside a bold run",
			paragraph(text("abc", bold)),
			paragraph(text("a", bold), text("X"), text("c", bold))},
		{"another mark inside a bold run",
			paragraph(text("abc", bold)),
			paragraph(text("a", bold), text("X", italic), text("c", bold))},
		{"plain after a link",
			paragraph(text("see "), text("here", link), text("!", code)),
			paragraph(text("see "), text("here", link), text("!"))},
		{"another link inside a link",
			paragraph(text("abc", link)),
			paragraph(text("a", link), text("X", link2), text("c", link))},
		// Passed before too (nothing is in effect at index 0, and the
		// library finds index 0 without a search marker): a guard.
		{"plain and italic at the start",
			paragraph(text("ab", bold), text("c", italic)),
			paragraph(text("X"), text("Y", italic), text("b", bold), text("c", italic))},
		{"plain between two formatted runs",
			paragraph(text("ab", bold), text("cd", italic)),
			paragraph(text("a", bold), text("X"), text("d", italic))},
		{"bold between italic runs",
			paragraph(text("ab", italic, bold), text("cd", italic)),
			paragraph(text("a", italic, bold), text("X", bold), text("d", italic))},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			runDiff(t, diffCase{from: c.from, to: c.to, merged: c.to})
		})
	}
}

// TestReplaceBytesDoNotDependOnMapOrder: text written inside a run of
// three marks negates all three; the same edit by the same client gives
// the same bytes every time (the library writes such items in Go's map
// order).
func TestReplaceBytesDoNotDependOnMapOrder(t *testing.T) {
	t.Parallel()
	marks := `[{"type":"bold"},{"type":"italic"},{"type":"strike"}]`
	seed, err := seedLocked(mustParse(t, `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","marks":`+marks+`,"text":"abc"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	to := mustParse(t, `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","marks":`+marks+`,"text":"a"},{"type":"text","text":"X"},{"type":"text","marks":`+marks+`,"text":"c"}]}]}`)
	var first []byte
	for i := range 20 {
		doc := newDoc(7)
		y.ApplyUpdate(doc, seed, nil)
		got := captureUpdates(doc)
		if err := replaceLocked(doc, to); err != nil {
			t.Fatal(err)
		}
		if len(*got) != 1 {
			t.Fatalf("%d updates, want one", len(*got))
		}
		if i == 0 {
			first = (*got)[0]
			requireJSONEqual(t, to, readProseMirror(doc))
		} else if !bytes.Equal(first, (*got)[0]) {
			t.Fatalf("run %d: the same edit gave different bytes", i)
		}
	}
}
