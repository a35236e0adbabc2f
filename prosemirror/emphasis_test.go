package prosemirror

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// para is a doc of one paragraph of texts, each with the marks in its
// spec ("b" bold, "i" italic, "s" strike, "c" code, "u"/"v" a link to
// u/v), joined as ProseMirror keeps them (neighbours with equal marks
// are one node).
func para(pieces ...[2]string) *Node {
	p := &Node{Type: TypeParagraph}
	for _, pc := range pieces {
		var ms []Mark
		for _, c := range pc[1] {
			switch c {
			case 'b':
				ms = append(ms, Mark{Type: MarkBold})
			case 'i':
				ms = append(ms, Mark{Type: MarkItalic})
			case 's':
				ms = append(ms, Mark{Type: MarkStrike})
			case 'c':
				ms = append(ms, Mark{Type: MarkCode})
			case 'u', 'v':
				ms = append(ms, Mark{Type: MarkLink, Attrs: map[string]any{"href": string(c)}})
			}
		}
		SortMarks(ms)
		if k := len(p.Content) - 1; k >= 0 && SameMarks(p.Content[k].Marks, ms) {
			p.Content[k].Text += pc[0]
			continue
		}
		p.Content = append(p.Content, &Node{Type: TypeText, Text: pc[0], Marks: ms})
	}
	return &Node{Type: TypeDoc, Content: []*Node{p}}
}

func roundTrips(t *testing.T, doc *Node) string {
	t.Helper()
	md := doc.Markdown()
	want, _ := json.Marshal(doc)
	got, _ := json.Marshal(FromMarkdown(md))
	if string(got) != string(want) {
		t.Errorf("%q reads back other than written\nwant %s\n got %s", md, want, got)
	}
	return md
}

// Marks whose delimiters CommonMark's flanking rules made inert next to
// punctuation ("a*.b*" is no emphasis), or whose adjacent "*" delimiters
// paired otherwise than written, read back as written. md is what is
// written now, "" where only the round trip matters.
func TestEmphasisNextToPunctuationRoundTrips(t *testing.T) {
	t.Parallel()
	type pc = [2]string
	for _, c := range []struct {
		name string
		doc  *Node
		md   string
	}{
		{"word then italic starting with punctuation", para(pc{"a", ""}, pc{".b", "i"}), "&#97;*.b*"},
		{"italic ending with punctuation then word", para(pc{"b.", "i"}, pc{"c", ""}), "*b.*&#99;"},
		{"punctuation italic between words", para(pc{"a", ""}, pc{".", "i"}, pc{"b", ""}), "&#97;*.*&#98;"},
		{"bold", para(pc{"a", ""}, pc{"(x)", "b"}, pc{"y", ""}), "&#97;**(x)**&#121;"},
		{"strike", para(pc{"a", ""}, pc{"!", "s"}, pc{"b", ""}), "&#97;~~!~~&#98;"},
		{"bold italic", para(pc{"a", ""}, pc{"“q”", "bi"}, pc{"b", ""}), "&#97;***“q”***&#98;"},
		{"symbol", para(pc{"costs", ""}, pc{"$5", "i"}), ""},
		{"non-ASCII letter", para(pc{"é", ""}, pc{".", "b"}, pc{"ü", ""}), "&#233;**.**&#252;"},
		{"strike inside bold after a word", para(pc{"a", ""}, pc{"a", "bs"}), "&#97;**~~a~~**"},
		{"strike inside bold before a word", para(pc{"a", "bs"}, pc{"b", ""}), "**~~a~~**&#98;"},
		{"code inside italic", para(pc{"a", ""}, pc{"x", "ic"}, pc{"b", ""}), "&#97;*`x`*&#98;"},
		{"link inside italic", para(pc{"a", ""}, pc{"x", "iu"}), ""},
		{"italic inside link", para(pc{"a", "u"}, pc{".", "ui"}, pc{"b", "u"}), ""},
		{"bold then italic punctuation", para(pc{"a", "b"}, pc{".", "i"}), ""},
		{"italic then bold punctuation", para(pc{".", "i"}, pc{"a", "b"}), ""},
		{"italic then bold italic (fuzz)", para(pc{"!", "i"}, pc{"0", "bi"}), "*!**0***"},
		{"bold, italic, bold italic", para(pc{"a", "b"}, pc{"a", "i"}, pc{"a", "bi"}), "**a**_a**a**_"},
		{"italic, bold, bold italic", para(pc{"a", "i"}, pc{"a", "b"}, pc{"a", "bi"}), ""},
		{"a single character referenced on both sides", para(pc{"a", "b"}, pc{"b", ""}, pc{".", "i"}), ""},
		{"in a link after a word", para(pc{"a", ""}, pc{".", "ub"}), ""},
		{"whole paragraph", para(pc{".", "i"}), "*.*"},
		{"ordinary emphasis unchanged", para(pc{"a ", ""}, pc{"b", "i"}, pc{" c", ""}), "a *b* c"},
		{"intraword emphasis unchanged", para(pc{"un", ""}, pc{"frigging", "i"}, pc{"believable", ""}), "un*frigging*believable"},
		{"bang before a link", para(pc{"!", ""}, pc{"a", "u"}), `\![a](u)`},
	} {
		md := roundTrips(t, c.doc)
		if c.md != "" && md != c.md {
			t.Errorf("%s: wrote %q, want %q", c.name, md, c.md)
		}
	}
}

// The same shapes in a heading and in a table cell.
func TestEmphasisNextToPunctuationInHeadingAndCell(t *testing.T) {
	t.Parallel()
	p := para([2]string{"a", ""}, [2]string{".b", "i"}, [2]string{"c", "bs"}).Content[0]
	h := &Node{Type: TypeDoc, Content: []*Node{{Type: TypeHeading, Attrs: map[string]any{"level": float64(2)}, Content: p.Content}}}
	roundTrips(t, h)
	cell := func(kind string) *Node {
		return &Node{Type: kind, Attrs: map[string]any{"colspan": float64(1), "rowspan": float64(1), "colwidth": nil},
			Content: []*Node{{Type: TypeParagraph, Content: p.Content}}}
	}
	table := &Node{Type: TypeDoc, Content: []*Node{{Type: TypeTable, Content: []*Node{
		{Type: TypeTableRow, Content: []*Node{cell(TypeTableHeader)}},
		{Type: TypeTableRow, Content: []*Node{cell(TypeTableCell)}},
	}}}}
	roundTrips(t, table)
}

// A heading that starts or ends with a hard break is written without the
// space the break becomes there: "##  0" read back as "## 0".
func TestHeadingEdgeHardBreak(t *testing.T) {
	t.Parallel()
	for _, content := range [][]*Node{
		{{Type: TypeHardBreak}, {Type: TypeText, Text: "0"}},
		{{Type: TypeText, Text: "0"}, {Type: TypeHardBreak}},
	} {
		md := (&Node{Type: TypeDoc, Content: []*Node{{Type: TypeHeading, Attrs: map[string]any{"level": float64(2)}, Content: content}}}).Markdown()
		if md != "## 0" {
			t.Errorf("wrote %q, want %q", md, "## 0")
		}
	}
}

// Every paragraph of two texts over a small alphabet, each with any of
// the marks Markdown writes, reads back as written.
func TestEmphasisRoundTripPairs(t *testing.T) {
	t.Parallel()
	texts := []string{"a", ".", "a.", ".a", "a b", "é", "“", "$", "*", "_", "~", "&", "!", "`", "a.b", ")"}
	specs := []string{"", "b", "i", "s", "bi", "bs", "is", "bis", "u", "ui", "ubi", "v", "c", "ci", "bc"}
	for _, t1 := range texts {
		for _, m1 := range specs {
			for _, t2 := range texts {
				for _, m2 := range specs {
					roundTrips(t, para([2]string{t1, m1}, [2]string{t2, m2}))
				}
			}
		}
	}
}

// FuzzInlineMarksRoundTrip: a paragraph of texts over an alphabet of
// letters, punctuation and spaces, each with any of the marks Markdown
// writes, reads back as written (whitespace at a text's ends is left out:
// the writer moves it outside marks, which CommonMark requires).
func FuzzInlineMarksRoundTrip(f *testing.F) {
	f.Add("a|.b", []byte{0, 2})
	f.Add("!|0", []byte{2, 3})
	f.Add("a|a|a", []byte{1, 2, 3})
	f.Add("x|“y”|z!", []byte{0, 7, 16, 0})
	const alphabet = "ab1é.,!?()[]*_~`&;“”=$<\\# "
	runes := []rune(alphabet)
	specs := []string{"", "b", "i", "s", "bi", "bs", "is", "bis", "u", "ui", "ub", "ubis", "v", "vi", "c", "ci", "bc", "bic", "uc"}
	f.Fuzz(func(t *testing.T, text string, marks []byte) {
		if len(marks) == 0 || len(text) > 200 {
			return
		}
		var pieces [][2]string
		for i, s := range strings.Split(text, "|") {
			var sb strings.Builder
			for _, r := range s {
				if !strings.ContainsRune(alphabet, r) {
					r = runes[int(uint32(r))%len(runes)]
				}
				sb.WriteRune(r)
			}
			spec := specs[int(marks[i%len(marks)])%len(specs)]
			piece := sb.String()
			if strings.Contains(spec, "c") {
				piece = strings.ReplaceAll(piece, " ", "a")
			}
			if piece = strings.Trim(piece, " "); piece != "" {
				pieces = append(pieces, [2]string{piece, spec})
			}
		}
		if len(pieces) == 0 {
			return
		}
		roundTrips(t, para(pieces...))
	})
}

// Markdown the import read other than CommonMark does, or not as its own
// Markdown reads back (FuzzMarkdownRoundTrip's finds).
func TestFromMarkdownAsCommonMark(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ md, want string }{
		// An escaped backslash, then a hard break's: goldmark kept
		// "a\\\\" and a soft break.
		{"a\\\\\\\nb", `[{"type":"paragraph","content":[{"type":"text","text":"a\\"},{"type":"hardBreak"},{"type":"text","text":"b"}]}]`},
		{"a\\\\\\\\\\\nb", `[{"type":"paragraph","content":[{"type":"text","text":"a\\\\"},{"type":"hardBreak"},{"type":"text","text":"b"}]}]`},
		{"a\\\\\nb", `[{"type":"paragraph","content":[{"type":"text","text":"a\\ b"}]}]`},
		// A tag over two lines kept its newline, written back as a soft
		// break (a space).
		{"<A\nA>0", `[{"type":"paragraph","content":[{"type":"text","text":"\u003cA A\u003e0"}]}]`},
		// A code span's line endings are spaces.
		{"`0\n``0`", `[{"type":"paragraph","content":[{"type":"text","marks":[{"type":"code"}],"text":"0 ` + "``" + `0"}]}]`},
		{"`\r0 `0", `[{"type":"paragraph","content":[{"type":"text","marks":[{"type":"code"}],"text":"0"},{"type":"text","text":"0"}]}]`},
		{"` \r0\r\n `", `[{"type":"paragraph","content":[{"type":"text","marks":[{"type":"code"}],"text":" 0 "}]}]`},
		{"` 0 `", `[{"type":"paragraph","content":[{"type":"text","marks":[{"type":"code"}],"text":"0"}]}]`},
		{"`  `", `[{"type":"paragraph","content":[{"type":"text","marks":[{"type":"code"}],"text":"  "}]}]`},
		// U+0000 and bytes that are not UTF-8 are U+FFFD; goldmark read a
		// stray byte as the "~" before it, and "~~" after a "~" opens nothing.
		{"*~~\xa5~~*\x00", `[{"type":"paragraph","content":[{"type":"text","marks":[{"type":"italic"},{"type":"strike"}],"text":"\ufffd"},{"type":"text","text":"\ufffd"}]}]`},
	} {
		doc := FromMarkdown(c.md)
		got, _ := json.Marshal(doc.Content)
		if want := strings.ReplaceAll(c.want, `\ufffd`, "\ufffd"); string(got) != want {
			t.Errorf("%q: got %s, want %s", c.md, got, want)
		}
		if again := FromMarkdown(doc.Markdown()); !reflect.DeepEqual(again, doc) {
			t.Errorf("%q: its Markdown %q reads back other", c.md, doc.Markdown())
		}
	}
}

// BenchmarkMarkdownMarks writes a note of 200 paragraphs, each of 20 texts
// with changing marks, half next to punctuation.
func BenchmarkMarkdownMarks(b *testing.B) {
	specs := []string{"", "b", "i", "bi", "s", "u", "c", "is"}
	texts := []string{"word", ".x", "y!", "plain text"}
	doc := &Node{Type: TypeDoc}
	for p := 0; p < 200; p++ {
		var pieces [][2]string
		for i := 0; i < 20; i++ {
			pieces = append(pieces, [2]string{texts[(p+i)%len(texts)], specs[(p*3+i)%len(specs)]})
		}
		doc.Content = append(doc.Content, para(pieces...).Content...)
	}
	b.SetBytes(int64(len(doc.Markdown())))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = doc.Markdown()
	}
}

// A long paragraph of the shapes that need references and "_" reads back
// whole (the repair is linear: each delimiter is rewritten once).
func TestEmphasisLongParagraph(t *testing.T) {
	t.Parallel()
	var pieces [][2]string
	for i := 0; i < 3000; i++ {
		pieces = append(pieces, [2]string{"a", "b"}, [2]string{"a", "i"}, [2]string{"a", "bi"}, [2]string{".", ""}, [2]string{"x", "s"})
	}
	roundTrips(t, para(pieces...))
}

// Text ending in a backslash before a hard break, then a line starting
// with an escape: goldmark read the line after "\\\" as if escaped.
func TestBackslashBeforeHardBreak(t *testing.T) {
	t.Parallel()
	doc := &Node{Type: TypeDoc, Content: []*Node{{Type: TypeParagraph, Content: []*Node{
		{Type: TypeText, Text: `a\`}, {Type: TypeHardBreak}, {Type: TypeText, Text: "<b"},
	}}}}
	if md := roundTrips(t, doc); md != "a&#92;\\\n\\<b" {
		t.Errorf("wrote %q", md)
	}
}
