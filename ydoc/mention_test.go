package ydoc

import (
	"testing"

	y "github.com/skyterra/y-crdt"

	"github.com/quire/quire/prosemirror"
)

// mentionDoc is a paragraph as the stock editor stores a highlighted word
// and a mention (label null, as Tiptap's default), and one starting with a
// mention.
const mentionDoc = `{"type":"doc","content":[
 {"type":"paragraph","content":[{"type":"text","text":"see "},{"type":"text","marks":[{"type":"highlight"}],"text":"bright"},
  {"type":"text","text":" by "},{"type":"mention","attrs":{"id":"u-1","label":null,"mentionSuggestionChar":"@"}},{"type":"text","text":" now"}]},
 {"type":"paragraph","content":[{"type":"mention","attrs":{"id":"u-2","label":"Bob","mentionSuggestionChar":"@"}},
  {"type":"text","marks":[{"type":"bold"},{"type":"highlight"}],"text":" hi"}]}]}`

// TestHighlightAndMentionRoundTripThroughYDoc: a mention is a Y.XmlElement
// between the paragraph's XmlTexts, with its non-null attrs as attributes
// (as y-prosemirror writes it), a highlight a formatting attribute without
// attrs; both read back, render the same, load in y-prosemirror with
// Tiptap's schema, and survive a REST edit of the text beside them.
func TestHighlightAndMentionRoundTripThroughYDoc(t *testing.T) {
	// Not parallel: it reads y-crdt types outside editMu, and the library's
	// search markers share a process-wide timestamp (a data race with other
	// tests' edits under -race).
	pm := mustParse(t, mentionDoc)
	doc, _ := seedAndCheck(t, pm)

	frag := doc.GetXmlFragment(FragmentName).(*y.YXmlFragment)
	p, ok := frag.Get(0).(*y.YXmlElement)
	if !ok || p.NodeName != prosemirror.TypeParagraph || len(p.ToArray()) != 3 {
		t.Fatalf("first block %v", frag.Get(0))
	}
	m, ok := p.Get(1).(*y.YXmlElement)
	if !ok || m.NodeName != prosemirror.TypeMention {
		t.Fatalf("paragraph child 1 is %v", p.Get(1))
	}
	if attrs := m.GetAttributes(); len(attrs) != 2 || attrs["id"] != "u-1" || attrs["mentionSuggestionChar"] != "@" {
		t.Errorf("mention attributes %v", attrs)
	}
	var formats []y.Object
	for _, op := range p.Get(0).(*y.YXmlText).ToDelta(nil, nil, nil) {
		formats = append(formats, op.Attributes)
	}
	if len(formats) != 3 || len(formats[1]) != 1 || formats[1]["highlight"] == nil {
		t.Errorf("text formatting %v", formats)
	}

	if got, want := readProseMirror(doc).Markdown(), "see ==bright== by @u-1 now\n\n@Bob **==hi==**"; got != want {
		t.Errorf("Markdown %q, want %q", got, want)
	}

	// A REST edit of the text after the mention keeps the mention's
	// element and the highlight.
	edited := pm.Clone()
	edited.Content[0].Content[4].Text = " later"
	if err := replaceLocked(doc, edited); err != nil {
		t.Fatal(err)
	}
	if p.Get(1) != m {
		t.Error("the edit replaced the mention's element")
	}
	if after := readProseMirror(doc); after.Markdown() != edited.Markdown() || after.HTML() != edited.HTML() {
		t.Fatalf("after the edit:\n%s\nwant\n%s", after.Markdown(), edited.Markdown())
	}
	res := runCheck(t, [][]byte{y.EncodeStateAsUpdate(doc, nil)}, edited)
	requireJSONEqual(t, res.ExpectRoot, res.Root)
}
