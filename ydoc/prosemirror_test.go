package ydoc

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	y "github.com/skyterra/y-crdt"

	"github.com/quire/quire/internal/nodetest"
	"github.com/quire/quire/prosemirror"
)

// checkResult is what testdata/xml/check.mjs reports after loading updates
// in real yjs + y-prosemirror.
type checkResult struct {
	JSON       json.RawMessage `json:"json"`       // normalized yXmlFragmentToProsemirrorJSON
	Root       json.RawMessage `json:"root"`       // yXmlFragmentToProseMirrorRootNode(…).toJSON()
	ExpectRoot json.RawMessage `json:"expectRoot"` // the expectation through the same schema
}

// runCheck loads updates in yjs (in order) and reports what y-prosemirror
// sees; expect, when non-nil, is passed through the same schema.
func runCheck(t testing.TB, updates [][]byte, expect *prosemirror.Node) checkResult {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not on PATH")
	}
	req := struct {
		Updates []string          `json:"updates"`
		Expect  *prosemirror.Node `json:"expect,omitempty"`
	}{Expect: expect}
	for _, u := range updates {
		req.Updates = append(req.Updates, base64.StdEncoding.EncodeToString(u))
	}
	file := filepath.Join(t.TempDir(), "request.json")
	raw, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	var res checkResult
	nodetest.Run(t, &res, filepath.Join("testdata", "xml", "check.mjs"), file)
	return res
}

// requireJSONEqual compares two JSON documents semantically.
func requireJSONEqual(t testing.TB, want, got any) {
	t.Helper()
	w, g := canonicalJSON(t, want), canonicalJSON(t, got)
	if w != g {
		t.Fatalf("JSON differs\nwant: %s\n got: %s", w, g)
	}
}

func canonicalJSON(t testing.TB, v any) string {
	t.Helper()
	raw, ok := v.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	var x any
	if err := json.Unmarshal(raw, &x); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	out, _ := json.Marshal(x) // maps marshal with sorted keys
	return string(out)
}

func mustParse(t testing.TB, s string) *prosemirror.Node {
	t.Helper()
	n, err := prosemirror.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// richDoc covers every StarterKit node, attribute and mark, overlapping marks
// (bold+italic, link+bold), inline nodes between texts and non-BMP text.
const richDoc = `{"type":"doc","content":[
 {"type":"heading","attrs":{"level":2},"content":[{"type":"text","text":"Title "},{"type":"text","marks":[{"type":"italic"}],"text":"é😀"}]},
 {"type":"paragraph","content":[
   {"type":"text","text":"plain "},
   {"type":"text","marks":[{"type":"bold"}],"text":"bold "},
   {"type":"text","marks":[{"type":"bold"},{"type":"italic"}],"text":"both"},
   {"type":"hardBreak"},
   {"type":"text","marks":[{"type":"link","attrs":{"href":"https://example.com/?a=1&b=2","target":"_blank"}},{"type":"bold"}],"text":"link"},
   {"type":"text","marks":[{"type":"code"}],"text":"x<y"},
   {"type":"text","marks":[{"type":"strike"},{"type":"underline"}],"text":" gone"}]},
 {"type":"bulletList","content":[
   {"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"one"}]},
     {"type":"orderedList","attrs":{"start":3},"content":[
       {"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"nested"}]}]}]}]},
   {"type":"listItem","content":[{"type":"paragraph"}]}]},
 {"type":"taskList","content":[
   {"type":"taskItem","attrs":{"checked":true},"content":[{"type":"paragraph","content":[{"type":"text","text":"done"}]}]},
   {"type":"taskItem","attrs":{"checked":false},"content":[{"type":"paragraph","content":[{"type":"text","text":"todo"}]}]}]},
 {"type":"codeBlock","attrs":{"language":"go"},"content":[{"type":"text","text":"func main() {}\n"}]},
 {"type":"blockquote","content":[{"type":"paragraph","content":[{"type":"text","text":"quote"}]}]},
 {"type":"horizontalRule"},
 {"type":"image","attrs":{"src":"https://example.com/a.png","alt":"a","title":"t"}},
 {"type":"paragraph"}]}`

func TestSeedUpdateLoadsInYjs(t *testing.T) {
	t.Parallel()
	pm := mustParse(t, richDoc)
	update, err := seedLocked(pm)
	if err != nil {
		t.Fatal(err)
	}
	res := runCheck(t, [][]byte{update}, pm)
	requireJSONEqual(t, pm, res.JSON)
	requireJSONEqual(t, res.ExpectRoot, res.Root)

	// And the Go side reads back what it wrote.
	doc := newDoc(0)
	y.ApplyUpdate(doc, update, nil)
	requireJSONEqual(t, pm, readProseMirror(doc))
}

func TestSeedUpdateIsDeterministic(t *testing.T) {
	t.Parallel()
	first, err := seedLocked(mustParse(t, richDoc))
	if err != nil {
		t.Fatal(err)
	}
	// Many runs, so that Go's random map order would show if it leaked in.
	for range 20 {
		again, err := seedLocked(mustParse(t, richDoc))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, again) {
			t.Fatalf("seeding the same document twice gave different bytes (%d vs %d bytes)", len(first), len(again))
		}
	}
	other, err := seedLocked(mustParse(t, `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"x"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(first, other) {
		t.Fatal("different documents seeded to the same bytes")
	}
}

// captureUpdates records every update doc emits.
func captureUpdates(doc *y.Doc) *[][]byte {
	var got [][]byte
	doc.On("update", y.NewObserverHandler(func(v ...any) {
		got = append(got, append([]byte(nil), v[0].([]byte)...))
	}))
	return &got
}

func TestReplaceProseMirrorUpdateAppliesInYjs(t *testing.T) {
	t.Parallel()
	seed, err := seedLocked(mustParse(t, richDoc))
	if err != nil {
		t.Fatal(err)
	}
	doc := newDoc(0)
	y.ApplyUpdate(doc, seed, nil)
	updates := captureUpdates(doc)

	next := mustParse(t, `{"type":"doc","content":[
	  {"type":"heading","attrs":{"level":1},"content":[{"type":"text","text":"New"}]},
	  {"type":"paragraph","content":[{"type":"text","marks":[{"type":"italic"}],"text":"replaced"}]}]}`)
	if err := replaceLocked(doc, next); err != nil {
		t.Fatal(err)
	}
	if len(*updates) != 1 {
		t.Fatalf("replace emitted %d updates, want exactly one transaction", len(*updates))
	}
	requireJSONEqual(t, next, readProseMirror(doc))

	// A browser holding the seeded state applies the replace update.
	res := runCheck(t, [][]byte{seed, (*updates)[0]}, next)
	requireJSONEqual(t, next, res.JSON)
	requireJSONEqual(t, res.ExpectRoot, res.Root)
}

func TestReplaceProseMirrorRejectsNonDoc(t *testing.T) {
	t.Parallel()
	doc := newDoc(0)
	if err := replaceLocked(doc, &prosemirror.Node{Type: "paragraph"}); err == nil {
		t.Fatal("replace accepted a paragraph as the root")
	}
	if err := replaceLocked(doc, nil); err == nil {
		t.Fatal("replace accepted nil")
	}
}

func TestMarkdownNoteRoundTripsThroughYDoc(t *testing.T) {
	t.Parallel()
	md := "# Notes\n\nSome **bold**, *italic*, ~~gone~~ and `code` with a [link](https://example.com).\n\n" +
		"- one\n- two\n  1. nested\n\n- [x] done\n- [ ] todo\n\n> quoted\n\n```go\nx := 1\n```\n\n---\n"
	pm := prosemirror.FromMarkdown(md)
	update, err := seedLocked(pm)
	if err != nil {
		t.Fatal(err)
	}
	doc := newDoc(0)
	y.ApplyUpdate(doc, update, nil)
	got := readProseMirror(doc)
	requireJSONEqual(t, pm, got)
	if got.Markdown() != pm.Markdown() {
		t.Fatalf("markdown differs after the round trip:\n%s\n---\n%s", pm.Markdown(), got.Markdown())
	}
	res := runCheck(t, [][]byte{update}, pm)
	requireJSONEqual(t, pm, res.JSON)
	requireJSONEqual(t, res.ExpectRoot, res.Root)
}

// seedLocked and replaceLocked make local edits as the Manager does, under
// editMu: y-crdt bumps a package-level counter on index-based edits, so
// parallel tests editing unlocked race (go test -race).
func seedLocked(pm *prosemirror.Node) ([]byte, error) {
	editMu.Lock()
	defer editMu.Unlock()
	return seedUpdate(pm)
}

// seedAndCheck seeds a Doc from pm and requires that it reads back with
// pm's Markdown, HTML and text, and that y-prosemirror loads the seed as
// the same tree. Callers read y-crdt types outside editMu afterwards, so
// they must not run in parallel.
func seedAndCheck(t testing.TB, pm *prosemirror.Node) (doc *y.Doc, update []byte) {
	t.Helper()
	update, err := seedLocked(pm)
	if err != nil {
		t.Fatal(err)
	}
	doc = newDoc(0)
	y.ApplyUpdate(doc, update, nil)
	got := readProseMirror(doc)
	if got.Markdown() != pm.Markdown() || got.HTML() != pm.HTML() || got.PlainText() != pm.PlainText() {
		t.Fatalf("renders differ after the round trip:\n%s\n---\n%s", pm.Markdown(), got.Markdown())
	}
	res := runCheck(t, [][]byte{update}, pm)
	requireJSONEqual(t, got, res.JSON)
	requireJSONEqual(t, res.ExpectRoot, res.Root)
	return doc, update
}

func replaceLocked(doc *y.Doc, pm *prosemirror.Node) error {
	editMu.Lock()
	defer editMu.Unlock()
	_, err := replaceProseMirror(doc, pm)
	return err
}

// TestNullInsideAttributesReadsBackAsNull: a null inside an attribute's
// array or object is written as yjs writes null, and reads back as null on
// both sides. The library writes a Go nil as undefined and reads null and
// undefined back as its own marker types, so a reloaded document read
// [34,"s",{}] (found by FuzzProseMirrorTreeToYDoc), and yjs dropped the
// object's member.
func TestNullInsideAttributesReadsBackAsNull(t *testing.T) {
	t.Parallel()
	pm := mustParse(t, `{"type":"doc","content":[{"type":"details","attrs":{"open":false,"x":[34,"s",null,{"y":null,"z":[null]}]},"content":[{"type":"paragraph"}]}]}`)
	update, err := seedLocked(pm)
	if err != nil {
		t.Fatal(err)
	}
	doc := newDoc(0)
	y.ApplyUpdate(doc, update, nil)
	requireJSONEqual(t, pm, readProseMirror(doc))
	requireJSONEqual(t, pm, runCheck(t, [][]byte{update}, nil).JSON)
}
