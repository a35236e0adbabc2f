package prosemirror

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"
)

// TestFromMarkdownLinearInPieces: a paragraph of many short text pieces
// (every unmatched "*" or "[" is one) allocates in proportion to its size.
// Joining the pieces with += allocated about 9 KB per input byte here.
// Not parallel: it reads the process-wide allocation counter.
func TestFromMarkdownLinearInPieces(t *testing.T) {
	for name, md := range map[string]string{
		"emphasis openers": strings.Repeat("*a ", 16000),
		"link openers":     strings.Repeat("[", 16000) + "x",
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		doc := FromMarkdown(md)
		runtime.ReadMemStats(&after)
		if perByte := (after.TotalAlloc - before.TotalAlloc) / uint64(len(md)); perByte > 2048 {
			t.Errorf("%s: %d bytes allocated per input byte", name, perByte)
		}
		if got := plainInline(doc.Content[0].Content); got != strings.TrimSpace(md) {
			t.Errorf("%s: text not kept whole: %d bytes of %d", name, len(got), len(strings.TrimSpace(md)))
		}
	}
}

// TestFromMarkdownImageAltJoined: an image's alt text made of several
// pieces is read whole.
func TestFromMarkdownImageAltJoined(t *testing.T) {
	t.Parallel()
	doc := FromMarkdown(`![a *b \[c *](x.png)`)
	j, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"doc","content":[{"type":"image","attrs":{"alt":"a *b [c *","src":"x.png","title":null}}]}`
	if string(j) != want {
		t.Fatalf("got  %s\nwant %s", j, want)
	}
}

// TestFromMarkdownDepthBounded: however deeply the Markdown nests
// blockquotes and lists, the document made from it passes Parse (whose
// MaxDepth the rest of the server relies on) and keeps the text.
func TestFromMarkdownDepthBounded(t *testing.T) {
	t.Parallel()
	var lists strings.Builder
	for i := range 150 {
		lists.WriteString(strings.Repeat("  ", i) + "- [x](https://e.com) **item**\n")
	}
	for name, md := range map[string]string{
		"blockquotes":      strings.Repeat(">", 10000) + " deep [x](https://e.com)",
		"lists":            lists.String(),
		"quoted lists":     strings.Repeat("> - ", 2000) + "deep",
		"max nesting fits": strings.Repeat(">", maxMarkdownNesting) + " **[x](https://e.com)**",
	} {
		doc := FromMarkdown(md)
		j, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(j); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if !strings.Contains(string(j), `"deep`) && !strings.Contains(string(j), `"item"`) && !strings.Contains(string(j), `"x"`) {
			t.Errorf("%s: text lost: %.200s", name, j)
		}
	}
}
