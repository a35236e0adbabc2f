package prosemirror

import (
	"encoding/json"
	"slices"
	"testing"
)

// marksDoc holds what the stock editor's Highlight and Mention store: a
// highlighted word, mentions with a label, with only an id (first in its
// paragraph), with "/" as suggestion character and markup in the label,
// and one in a table cell.
const marksDoc = `{"type":"doc","content":[
 {"type":"paragraph","content":[{"type":"text","text":"see "},{"type":"text","marks":[{"type":"highlight"}],"text":"bright"},
  {"type":"text","text":" by "},{"type":"mention","attrs":{"id":"u-1","label":"Bob","mentionSuggestionChar":"@"}},{"type":"text","text":" now"}]},
 {"type":"paragraph","content":[{"type":"mention","attrs":{"id":"u_2","label":null}},{"type":"text","text":" hi"}]},
 {"type":"paragraph","content":[{"type":"text","marks":[{"type":"bold"},{"type":"highlight"}],"text":"cmd"},{"type":"text","text":" "},
  {"type":"mention","attrs":{"id":"p","label":"<b>&\"","mentionSuggestionChar":"/"}}]},
 {"type":"table","content":[{"type":"tableRow","content":[{"type":"tableCell","attrs":{"colspan":1,"rowspan":1,"colwidth":null},
  "content":[{"type":"paragraph","content":[{"type":"mention","attrs":{"id":"u-1","label":"B|b"}}]}]}]}]}]}`

// TestHighlightAndMentionRender: highlight renders as "==text==" and
// <mark>, a mention as the stock editor shows it ("@label", else "@id";
// "/" as "$") in Markdown and text, and as its span in HTML, escaped.
func TestHighlightAndMentionRender(t *testing.T) {
	t.Parallel()
	doc := mustParse(t, marksDoc)
	wantMD := "see ==bright== by @Bob now\n\n" +
		"@u\\_2 hi\n\n" +
		"**==cmd==** $\\<b\\>&\"\n\n" +
		"| @B\\|b |\n| --- |"
	if got := doc.Markdown(); got != wantMD {
		t.Errorf("Markdown:\n%s\nwant\n%s", got, wantMD)
	}
	span := func(attrs, text string) string {
		return `<span data-type="mention" class="mention"` + attrs + `>` + text + `</span>`
	}
	wantHTML := `<p>see <mark>bright</mark> by ` + span(` data-id="u-1" data-label="Bob" data-mention-suggestion-char="@"`, "@Bob") + ` now</p>` +
		`<p>` + span(` data-id="u_2" data-mention-suggestion-char="@"`, "@u_2") + ` hi</p>` +
		`<p><strong><mark>cmd</mark></strong> ` + span(` data-id="p" data-label="&lt;b&gt;&amp;&#34;" data-mention-suggestion-char="/"`, "$&lt;b&gt;&amp;&#34;") + `</p>` +
		`<table><tbody><tr><td><p>` + span(` data-id="u-1" data-label="B|b" data-mention-suggestion-char="@"`, "@B|b") + `</p></td></tr></tbody></table>`
	if got := doc.HTML(); got != wantHTML {
		t.Errorf("HTML:\n%s\nwant\n%s", got, wantHTML)
	}
	wantText := "see bright by @Bob now\n@u_2 hi\ncmd $<b>&\"\n@B|b"
	if got := doc.PlainText(); got != wantText {
		t.Errorf("PlainText:\n%q\nwant\n%q", got, wantText)
	}
}

// TestParseMention: a mention's attrs are strings or null, and it holds
// nothing.
func TestParseMention(t *testing.T) {
	t.Parallel()
	para := func(mention string) string {
		return `{"type":"doc","content":[{"type":"paragraph","content":[` + mention + `]}]}`
	}
	for _, ok := range []string{
		`{"type":"mention"}`,
		`{"type":"mention","attrs":{"id":"a","label":null,"mentionSuggestionChar":"#"}}`,
	} {
		if _, err := Parse([]byte(para(ok))); err != nil {
			t.Errorf("Parse(%s): %v", ok, err)
		}
	}
	for _, bad := range []string{
		`{"type":"mention","attrs":{"id":7}}`,
		`{"type":"mention","attrs":{"label":{"x":1}}}`,
		`{"type":"mention","attrs":{"mentionSuggestionChar":true}}`,
		`{"type":"mention","attrs":{"id":"a"},"content":[{"type":"text","text":"x"}]}`,
	} {
		if _, err := Parse([]byte(para(bad))); err == nil {
			t.Errorf("Parse accepted %s", bad)
		}
	}
}

// TestFromMarkdownLeavesHighlightAndMentionText: "==x==" and "@x" are not
// parsed back into marks and nodes (see FromMarkdown).
func TestFromMarkdownLeavesHighlightAndMentionText(t *testing.T) {
	t.Parallel()
	got, _ := json.Marshal(FromMarkdown("==bright== by @Bob"))
	want := `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"==bright== by @Bob"}]}]}`
	if string(got) != want {
		t.Fatalf("got %s", got)
	}
}

// TestHighlightRanksAfterStarterKitMarks: marks sort as Tiptap's schema
// orders them, highlight after underline.
func TestHighlightRanksAfterStarterKitMarks(t *testing.T) {
	t.Parallel()
	marks := []Mark{{Type: MarkHighlight}, {Type: MarkUnderline}, {Type: "comment"}, {Type: MarkLink, Attrs: map[string]any{"href": "/"}}}
	SortMarks(marks)
	var got []string
	for _, m := range marks {
		got = append(got, m.Type)
	}
	if want := []string{MarkLink, MarkUnderline, MarkHighlight, "comment"}; !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}
