package prosemirror

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

func mustParse(t *testing.T, s string) *Node {
	t.Helper()
	n, err := Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestParse(t *testing.T) {
	t.Parallel()
	ok := []string{
		`{"type":"doc"}`,
		`{"type":"doc","content":[{"type":"heading","attrs":{"level":6},"content":[{"type":"text","text":"h"}]}]}`,
		`{"type":"doc","content":[{"type":"callout","attrs":{"x":[1,{"y":2}]},"content":[{"type":"text","text":"kept"}]}]}`,
	}
	for _, s := range ok {
		if _, err := Parse([]byte(s)); err != nil {
			t.Errorf("Parse(%s): %v", s, err)
		}
	}
	bad := map[string]string{
		"not json":         `{"type":`,
		"root paragraph":   `{"type":"paragraph"}`,
		"trailing data":    `{"type":"doc"} {}`,
		"trailing brace":   `{"type":"doc"}}`,
		"trailing bracket": `{"type":"doc"}]`,
		"trailing garbage": `{"type":"doc"} x`,
		"no type":          `{"type":"doc","content":[{"content":[]}]}`,
		"empty text":       `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":""}]}]}`,
		"text with kids":   `{"type":"doc","content":[{"type":"text","text":"a","content":[{"type":"text","text":"b"}]}]}`,
		"heading level 7":  `{"type":"doc","content":[{"type":"heading","attrs":{"level":7}}]}`,
		"heading level .5": `{"type":"doc","content":[{"type":"heading","attrs":{"level":1.5}}]}`,
		"checked string":   `{"type":"doc","content":[{"type":"taskItem","attrs":{"checked":"yes"}}]}`,
		"image no src":     `{"type":"doc","content":[{"type":"image","attrs":{"alt":"a"}}]}`,
		"link no href":     `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"a","marks":[{"type":"link"}]}]}]}`,
		"null child":       `{"type":"doc","content":[null]}`,
		"code holds para":  `{"type":"doc","content":[{"type":"codeBlock","content":[{"type":"paragraph"}]}]}`,
		"too deep":         `{"type":"doc","content":[` + strings.Repeat(`{"type":"blockquote","content":[`, MaxDepth+1) + strings.Repeat(`]}`, MaxDepth+1) + `]}`,
	}
	for name, s := range bad {
		if _, err := Parse([]byte(s)); err == nil {
			t.Errorf("%s: Parse accepted %.80s", name, s)
		}
	}
}

func TestParseKeepsUnknownNodesAndRoundTripsJSON(t *testing.T) {
	t.Parallel()
	in := `{"type":"doc","content":[{"type":"callout","attrs":{"kind":"info"},"content":[{"type":"paragraph","content":[{"type":"text","marks":[{"type":"highlight","attrs":{"color":"red"}}],"text":"x"}]}]}]}`
	n := mustParse(t, in)
	out, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != in {
		t.Fatalf("JSON changed:\n in: %s\nout: %s", in, out)
	}
}

func TestFromMarkdownStructure(t *testing.T) {
	t.Parallel()
	got, err := json.Marshal(FromMarkdown("## Hi *there*\n\n3. a\n4. b\n\n- [x] done\n- [ ] todo\n\n```go\nx\n```\n\n![a](/i.png)\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"doc","content":[` +
		`{"type":"heading","attrs":{"level":2},"content":[{"type":"text","text":"Hi "},{"type":"text","marks":[{"type":"italic"}],"text":"there"}]},` +
		`{"type":"orderedList","attrs":{"start":3},"content":[{"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"a"}]}]},{"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"b"}]}]}]},` +
		`{"type":"taskList","content":[{"type":"taskItem","attrs":{"checked":true},"content":[{"type":"paragraph","content":[{"type":"text","text":"done"}]}]},{"type":"taskItem","attrs":{"checked":false},"content":[{"type":"paragraph","content":[{"type":"text","text":"todo"}]}]}]},` +
		`{"type":"codeBlock","attrs":{"language":"go"},"content":[{"type":"text","text":"x"}]},` +
		`{"type":"image","attrs":{"alt":"a","src":"/i.png","title":null}}]}`
	if string(got) != want {
		t.Fatalf("FromMarkdown:\n got: %s\nwant: %s", got, want)
	}
}

func TestFromMarkdownEmptyIsOneParagraph(t *testing.T) {
	t.Parallel()
	n := FromMarkdown("")
	if len(n.Content) != 1 || n.Content[0].Type != TypeParagraph {
		t.Fatalf("FromMarkdown(\"\") = %+v", n)
	}
	if n.Markdown() != "" || n.PlainText() != "" {
		t.Fatalf("empty doc renders %q / %q", n.Markdown(), n.PlainText())
	}
}

// Markdown already in the serializer's canonical form survives md → node → md.
func TestMarkdownRoundTrip(t *testing.T) {
	t.Parallel()
	cases := []string{
		"# Title",
		"###### Six",
		"plain paragraph",
		"**bold** and *italic* and ~~strike~~ and `code`",
		"***both*** **bold *nested* more**",
		"[link](https://example.com) and [**bold link**](/rel/path)",
		"line one\\\nline two",
		"- one\n- two\n  - nested\n    1. deep",
		"1. a\n2. b",
		"7. seven\n8. eight",
		"- [x] done\n- [ ] todo",
		"> quote\n>\n> > nested quote",
		"```go\nfunc main() {}\n```",
		"````\ncode with ``` inside\n````",
		"---",
		"![alt](https://example.com/a.png \"Title\")",
		"escaped \\* \\_ \\[x\\] \\` \\\\ \\<b\\>",
		"\\# not a heading",
		"1\\. not a list",
		"\\- not a bullet",
		"code span with ``a`b`` tick",
		"- item\n\n  second paragraph\n- next",
		"- a\n\n* b",
		"1. a\n\n1) b",
		"-\n- x",
		"AT&T and \\&amp; literal",
		"ünïcode 😀 text",
	}
	for _, md := range cases {
		n := FromMarkdown(md)
		if got := n.Markdown(); got != md {
			j, _ := json.Marshal(n)
			t.Errorf("round trip changed Markdown\n  in: %q\n out: %q\njson: %s", md, got, j)
		}
	}
}

// Any Markdown, once serialized, is a fixed point.
func TestMarkdownSerializationIsStable(t *testing.T) {
	t.Parallel()
	inputs := []string{
		"Setext\n======\n\ntext *with* __under__ _scores_\nsoft break",
		"* star list\n+ plus list\n\n    indented code",
		"<div>raw html</div>\n\ntext <b>inline</b> html",
		"- a\n- [x] mixed task\n",
		"**a**b*c*",
		"[x](<url with spaces>)",
		"<https://auto.example> and <me@example.com>",
		"-\n- [ ] not a task: the list is mixed",
	}
	for _, md := range inputs {
		once := FromMarkdown(md).Markdown()
		twice := FromMarkdown(once).Markdown()
		if once != twice {
			t.Errorf("not stable for %q:\n once: %q\ntwice: %q", md, once, twice)
		}
	}
}

func TestHTMLGolden(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("testdata", "rich.json"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []struct{ file, got string }{
		{"rich.html", n.HTML()},
		{"rich.md", n.Markdown()},
		{"rich.txt", n.PlainText()},
	} {
		path := filepath.Join("testdata", g.file)
		if *update {
			if err := os.WriteFile(path, []byte(g.got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if g.got != string(want) {
			t.Errorf("%s differs (go test ./prosemirror -update to accept)\n got: %s\nwant: %s", g.file, g.got, want)
		}
	}
}

func TestHTMLEscapesAndSanitizes(t *testing.T) {
	t.Parallel()
	link := func(href string) *Node {
		return &Node{Type: TypeDoc, Content: []*Node{{Type: TypeParagraph, Content: []*Node{
			{Type: TypeText, Text: "x", Marks: []Mark{{Type: MarkLink, Attrs: map[string]any{"href": href}}}},
		}}}}
	}
	for _, href := range []string{"javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)",
		"java\tscript:alert(1)", "data:text/html,<script>", "vbscript:x", "file:///etc/passwd"} {
		if got := link(href).HTML(); got != "<p>x</p>" {
			t.Errorf("href %q rendered %s", href, got)
		}
	}
	for href, want := range map[string]string{
		"https://e.com/?a=1&b=2": `<p><a href="https://e.com/?a=1&amp;b=2" rel="noopener noreferrer nofollow">x</a></p>`,
		"mailto:a@b.c":           `<p><a href="mailto:a@b.c" rel="noopener noreferrer nofollow">x</a></p>`,
		"/notes/1":               `<p><a href="/notes/1" rel="noopener noreferrer nofollow">x</a></p>`,
		`"><script>`:             `<p><a href="&#34;&gt;&lt;script&gt;" rel="noopener noreferrer nofollow">x</a></p>`,
	} {
		if got := link(href).HTML(); got != want {
			t.Errorf("href %q rendered %s, want %s", href, got, want)
		}
	}
	img := &Node{Type: TypeDoc, Content: []*Node{{Type: TypeImage, Attrs: map[string]any{"src": "javascript:x", "alt": "a"}}}}
	if got := img.HTML(); got != "" {
		t.Errorf("unsafe image rendered %s", got)
	}
	// The stock editor's Link title and Image width and height (a string or
	// a number) are rendered, escaped; null and other values are not.
	titled := link("/n")
	titled.Content[0].Content[0].Marks[0].Attrs["title"] = `"T"`
	if got, want := titled.HTML(), `<p><a href="/n" title="&#34;T&#34;" rel="noopener noreferrer nofollow">x</a></p>`; got != want {
		t.Errorf("titled link rendered %s, want %s", got, want)
	}
	sized := &Node{Type: TypeDoc, Content: []*Node{{Type: TypeImage, Attrs: map[string]any{
		"src": "/i.png", "alt": nil, "width": float64(300), "height": `20"0`, "file": "f", "title": map[string]any{}}}}}
	if got, want := sized.HTML(), `<img src="/i.png" width="300" height="20&#34;0">`; got != want {
		t.Errorf("sized image rendered %s, want %s", got, want)
	}
	text := &Node{Type: TypeDoc, Content: []*Node{{Type: TypeParagraph, Content: []*Node{{Type: TypeText, Text: `<script>"&'`}}}}}
	if got := text.HTML(); got != "<p>&lt;script&gt;&#34;&amp;&#39;</p>" {
		t.Errorf("text rendered %s", got)
	}
}

func TestContentShape(t *testing.T) {
	t.Parallel()
	raw, err := json.Marshal(ContentOf(FromMarkdown("**hi**")))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	_ = json.Unmarshal([]byte(`{"md":"**hi**","html":"<p><strong>hi</strong></p>",
		"json":{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"hi","marks":[{"type":"bold"}]}]}]}}`), &want)
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Fatalf("content:\n got: %s\nwant: %s", g, w)
	}
}

func TestFromMarkdownIsDeterministic(t *testing.T) {
	t.Parallel()
	md := "# a\n\n- [x] b\n\n[c](https://d) **e** `f`"
	first, _ := json.Marshal(FromMarkdown(md))
	for range 20 {
		again, _ := json.Marshal(FromMarkdown(md))
		if string(again) != string(first) {
			t.Fatalf("different trees:\n%s\n%s", first, again)
		}
	}
}

// TestLinkBackslashRoundTrip: a link whose href holds backslashes (one at
// the end, before ")" or "|", a Windows path) keeps it through its
// Markdown, in a paragraph and in a table cell. A backslash at the end
// escaped the closing ")": no link was read back.
func TestLinkBackslashRoundTrip(t *testing.T) {
	t.Parallel()
	for _, href := range []string{`\`, `a\`, `x\)y`, `C:\dir\file`, `a\|b`, `sp ace\`, `\\`} {
		link := &Node{Type: TypeText, Text: "l", Marks: []Mark{{Type: MarkLink, Attrs: map[string]any{"href": href}}}}
		para := &Node{Type: TypeParagraph, Content: []*Node{link}}
		cell := &Node{Type: TypeTableCell, Content: []*Node{para.Clone()}}
		table := &Node{Type: TypeTable, Content: []*Node{{Type: TypeTableRow, Content: []*Node{cell}}}}
		for _, doc := range []*Node{
			{Type: TypeDoc, Content: []*Node{para}},
			{Type: TypeDoc, Content: []*Node{table}},
		} {
			md := doc.Markdown()
			back := FromMarkdown(md)
			var got *Node
			if b := back.Content[0]; b.Type == TypeTable {
				got = b.Content[0].Content[0].Content[0].Content[0]
			} else {
				got = b.Content[0]
			}
			if len(got.Marks) != 1 || got.Marks[0].Attrs["href"] != href {
				t.Errorf("href %q: %q reads back as %s", href, md, mustJSON(back))
			}
		}
	}
}

// A refused attribute's value is named in the error in a few dozen bytes,
// however large it was in the request (the REST 400 quotes the error).
func TestParseErrorsNameValuesBriefly(t *testing.T) {
	t.Parallel()
	big := `"` + strings.Repeat("é", 1<<19) + `"`
	obj := `{"k":` + big + `}`
	cases := map[string]string{
		"heading level string":   `{"type":"heading","attrs":{"level":` + big + `}}`,
		"heading level object":   `{"type":"heading","attrs":{"level":` + obj + `}}`,
		"orderedList start":      `{"type":"orderedList","attrs":{"start":[` + big + `]}}`,
		"taskItem checked":       `{"type":"taskItem","attrs":{"checked":` + big + `}}`,
		"codeBlock language":     `{"type":"codeBlock","attrs":{"language":` + obj + `}}`,
		"mention id":             `{"type":"mention","attrs":{"id":[` + big + `]}}`,
		"table cell colspan":     `{"type":"table","content":[{"type":"tableRow","content":[{"type":"tableCell","attrs":{"colspan":` + big + `},"content":[{"type":"paragraph"}]}]}]}`,
		"table cell colwidth in": `{"type":"table","content":[{"type":"tableRow","content":[{"type":"tableCell","attrs":{"colwidth":[` + big + `]},"content":[{"type":"paragraph"}]}]}]}`,
	}
	for name, node := range cases {
		_, err := Parse([]byte(`{"type":"doc","content":[` + node + `]}`))
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if msg := err.Error(); len(msg) > 160 || !utf8.ValidString(msg) {
			t.Errorf("%s: error of %d bytes: %.200s", name, len(msg), msg)
		}
	}
	if got, want := shortValue(strings.Repeat("é", 40)), `"`+strings.Repeat("é", 16)+`"…`; got != want {
		t.Errorf("shortValue cut %s, want %s", got, want)
	}
}

// TestParseSortsMarks: Parse puts marks in schema rank order, as
// ProseMirror does on load and as the live document reads them back, so
// content.json sent over REST renders as it will once live.
func TestParseSortsMarks(t *testing.T) {
	t.Parallel()
	n := mustParse(t, `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","marks":[{"type":"bold"},{"type":"link","attrs":{"href":"h"}}],"text":"a"}]}]}`)
	if got, want := n.Markdown(), "[**a**](h)"; got != want {
		t.Fatalf("Markdown %q, want %q", got, want)
	}
	if got := n.Content[0].Content[0].Marks; got[0].Type != MarkLink || got[1].Type != MarkBold {
		t.Fatalf("marks %+v, want link then bold", got)
	}
}

// TestMarkdownWhitespaceNodesJoined: whitespace split into differently
// marked nodes writes as the same whitespace in one node does (the live
// document joins and splits text nodes its own way); at the end of a
// paragraph, none (the import would strip it). Before, " " then " "
// wrote one space where "  " wrote none.
func TestMarkdownWhitespaceNodesJoined(t *testing.T) {
	t.Parallel()
	split := mustParse(t, `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","marks":[{"type":"bold"}],"text":"a"},{"type":"text","text":" "},{"type":"text","marks":[{"type":"italic"}],"text":" "}]}]}`)
	joined := mustParse(t, `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","marks":[{"type":"bold"}],"text":"a"},{"type":"text","text":"  "}]}]}`)
	if s, j := split.Markdown(), joined.Markdown(); s != j || s != "**a**" {
		t.Fatalf("split %q, joined %q, want both %q", s, j, "**a**")
	}
}

// TestParseJoinsText: Parse joins adjacent text nodes with the same
// marks, as ProseMirror does on load and as the live document reads them
// back; two code-marked nodes wrote two code spans run together.
func TestParseJoinsText(t *testing.T) {
	t.Parallel()
	n := mustParse(t, `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","marks":[{"type":"code"}],"text":"a"},{"type":"text","marks":[{"type":"code"}],"text":"b"},{"type":"text","text":"c"},{"type":"hardBreak"},{"type":"text","text":"d"},{"type":"text","text":"e"}]}]}`)
	if got, want := n.Markdown(), "`ab`c\\\nde"; got != want {
		t.Fatalf("Markdown %q, want %q", got, want)
	}
	if got := len(n.Content[0].Content); got != 4 {
		t.Fatalf("%d inline nodes, want 4", got)
	}
}
