package ydoc

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	y "github.com/skyterra/y-crdt"

	"github.com/quire/quire/prosemirror"
	"github.com/quire/quire/yupdate"
)

// diffCase is a REST edit from one tree to another while a peer holding the
// old tree edits it concurrently; merged is what everyone must end with.
type diffCase struct {
	from, to string
	edit     func(f *y.YXmlFragment) // the peer's concurrent edit, or nil
	merged   string
}

// runDiff seeds from, makes the REST edit on a server Doc and the peer's
// edit on another Doc holding the same seed, then loads the updates in real
// yjs in both orders. It returns the REST edit's update.
func runDiff(t *testing.T, c diffCase) []byte {
	t.Helper()
	seed, err := seedLocked(mustParse(t, c.from))
	if err != nil {
		t.Fatal(err)
	}
	server := newDoc(0)
	y.ApplyUpdate(server, seed, nil)
	rest := captureUpdates(server)
	to := mustParse(t, c.to)
	if err := replaceLocked(server, to); err != nil {
		t.Fatal(err)
	}
	if len(*rest) != 1 {
		t.Fatalf("the REST edit emitted %d updates, want one", len(*rest))
	}
	requireJSONEqual(t, to, readProseMirror(server))

	var edits [][]byte
	if c.edit != nil {
		peer := newDoc(0)
		y.ApplyUpdate(peer, seed, nil)
		got := captureUpdates(peer)
		frag, err := fragment(peer)
		if err != nil {
			t.Fatal(err)
		}
		editMu.Lock()
		peer.Transact(func(*y.Transaction) { c.edit(frag) }, nil)
		editMu.Unlock()
		edits = *got
		if len(edits) == 0 {
			t.Fatal("the concurrent edit changed nothing")
		}
	}
	merged := mustParse(t, c.merged)
	res := runCheck(t, append([][]byte{seed, (*rest)[0]}, edits...), merged)
	requireJSONEqual(t, merged, res.JSON)
	requireJSONEqual(t, res.ExpectRoot, res.Root)
	if c.edit != nil {
		res = runCheck(t, append(append([][]byte{seed}, edits...), (*rest)[0]), nil)
		requireJSONEqual(t, merged, res.JSON)
	}
	return (*rest)[0]
}

// textAt returns the Y.XmlText at path (child indexes from the fragment).
func textAt(t *testing.T, f *y.YXmlFragment, path ...int) *y.YXmlText {
	t.Helper()
	var cur any = f
	for _, i := range path {
		switch c := cur.(type) {
		case *y.YXmlFragment:
			cur = c.Get(i)
		case *y.YXmlElement:
			cur = c.Get(i)
		default:
			t.Fatalf("no child %d in %T", i, cur)
		}
	}
	text, ok := cur.(*y.YXmlText)
	if !ok {
		t.Fatalf("%v is a %T, not a Y.XmlText", path, cur)
	}
	return text
}

func typeAtEnd(t *testing.T, s string, path ...int) func(*y.YXmlFragment) {
	return func(f *y.YXmlFragment) {
		text := textAt(t, f, path...)
		text.Insert(text.Length(), s, nil)
	}
}

func TestDiffAppendKeepsTypingInUnchangedBlocks(t *testing.T) {
	t.Parallel()
	rest := runDiff(t, diffCase{
		from: `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"one"}]},{"type":"paragraph","content":[{"type":"text","text":"two"}]}]}`,
		to:   `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"one"}]},{"type":"paragraph","content":[{"type":"text","text":"two"}]},{"type":"paragraph","content":[{"type":"text","text":"three"}]}]}`,
		edit: func(f *y.YXmlFragment) {
			typeAtEnd(t, " typed", 0, 0)(f)
			typeAtEnd(t, " also", 1, 0)(f)
		},
		merged: `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"one typed"}]},{"type":"paragraph","content":[{"type":"text","text":"two also"}]},{"type":"paragraph","content":[{"type":"text","text":"three"}]}]}`,
	})
	u, err := yupdate.Parse(rest, yupdate.Limits{MaxBytes: len(rest)})
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Deletes) != 0 {
		t.Fatalf("an append deleted items: %+v", u.Deletes)
	}
}

func TestDiffChangesAWordInPlace(t *testing.T) {
	t.Parallel()
	runDiff(t, diffCase{
		from:   `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"the quick brown fox"}]}]}`,
		to:     `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"the slow brown fox"}]}]}`,
		edit:   typeAtEnd(t, " jumps", 0, 0),
		merged: `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"the slow brown fox jumps"}]}]}`,
	})
}

func TestDiffMarks(t *testing.T) {
	t.Parallel()
	runDiff(t, diffCase{
		from: `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"make "},{"type":"text","marks":[{"type":"italic"}],"text":"this"},{"type":"text","text":" bold 😀"}]}]}`,
		to:   `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"make this "},{"type":"text","marks":[{"type":"bold"}],"text":"bold"},{"type":"text","text":" 😀"},{"type":"text","marks":[{"type":"link","attrs":{"href":"https://x.test"}}],"text":"!"}]}]}`,
		edit: func(f *y.YXmlFragment) {
			textAt(t, f, 0, 0).Insert(0, "> ", nil)
		},
		merged: `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"> make this "},{"type":"text","marks":[{"type":"bold"}],"text":"bold"},{"type":"text","text":" 😀"},{"type":"text","marks":[{"type":"link","attrs":{"href":"https://x.test"}}],"text":"!"}]}]}`,
	})
}

func TestDiffAttributesKeepTheElement(t *testing.T) {
	t.Parallel()
	runDiff(t, diffCase{
		from:   `{"type":"doc","content":[{"type":"heading","attrs":{"level":1},"content":[{"type":"text","text":"Title"}]},{"type":"codeBlock","attrs":{"language":"go"},"content":[{"type":"text","text":"x := 1"}]}]}`,
		to:     `{"type":"doc","content":[{"type":"heading","attrs":{"level":3},"content":[{"type":"text","text":"Title"}]},{"type":"codeBlock","content":[{"type":"text","text":"x := 1"}]}]}`,
		edit:   typeAtEnd(t, " typed", 0, 0),
		merged: `{"type":"doc","content":[{"type":"heading","attrs":{"level":3},"content":[{"type":"text","text":"Title typed"}]},{"type":"codeBlock","content":[{"type":"text","text":"x := 1"}]}]}`,
	})
}

func TestDiffNestedListItem(t *testing.T) {
	t.Parallel()
	li := func(s string) string {
		return `{"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"` + s + `"}]}]}`
	}
	list := func(items ...string) string {
		out := `{"type":"doc","content":[{"type":"bulletList","content":[`
		for i, s := range items {
			if i > 0 {
				out += ","
			}
			out += s
		}
		return out + `]}]}`
	}
	nested := func(s string) string {
		return `{"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"outer"}]},` +
			`{"type":"orderedList","attrs":{"start":1},"content":[` + li(s) + `]}]}`
	}
	runDiff(t, diffCase{
		from: list(li("one"), nested("inner"), li("three")),
		to:   list(li("one"), nested("inner edited"), li("three"), li("four")),
		edit: func(f *y.YXmlFragment) {
			typeAtEnd(t, "!", 0, 0, 0, 0)(f) // listItem one
			typeAtEnd(t, "?", 0, 2, 0, 0)(f) // listItem three
			// The nested item, away from where the REST edit types (two
			// inserts at one spot order by the random client ids).
			textAt(t, f, 0, 1, 1, 0, 0, 0).Insert(0, "+", nil)
		},
		merged: list(li("one!"), nested("+inner edited"), li("three?"), li("four")),
	})
}

func TestDiffDeletesAMiddleBlock(t *testing.T) {
	t.Parallel()
	rest := runDiff(t, diffCase{
		from: `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"a"}]},{"type":"blockquote","content":[{"type":"paragraph","content":[{"type":"text","text":"b"}]}]},{"type":"paragraph","content":[{"type":"text","text":"c"}]}]}`,
		to:   `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"a"}]},{"type":"paragraph","content":[{"type":"text","text":"c"}]}]}`,
		edit: func(f *y.YXmlFragment) {
			typeAtEnd(t, "1", 0, 0)(f)
			typeAtEnd(t, "3", 2, 0)(f)
		},
		merged: `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"a1"}]},{"type":"paragraph","content":[{"type":"text","text":"c3"}]}]}`,
	})
	u, err := yupdate.Parse(rest, yupdate.Limits{MaxBytes: len(rest)})
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Structs) != 0 {
		t.Fatalf("deleting a block inserted %d structs", len(u.Structs))
	}
}

// The same tree again changes nothing: no transaction content, no update.
func TestDiffIdenticalIsNoChange(t *testing.T) {
	t.Parallel()
	pm := mustParse(t, richDoc)
	seed, err := seedLocked(pm)
	if err != nil {
		t.Fatal(err)
	}
	doc := newDoc(0)
	y.ApplyUpdate(doc, seed, nil)
	ups := captureUpdates(doc)
	editMu.Lock()
	changed, err := replaceProseMirror(doc, mustParse(t, richDoc))
	editMu.Unlock()
	if err != nil || changed || len(*ups) != 0 {
		t.Fatalf("identical replace: changed=%v err=%v updates=%d", changed, err, len(*ups))
	}
}

// Random pairs of trees drawn from a small pool of blocks, so that equal,
// same-kind and different blocks all meet: the diff always reaches the new
// tree, and real yjs applies its update to the old state with that result.
func TestDiffRandomTrees(t *testing.T) {
	t.Parallel()
	rnd := rand.New(rand.NewPCG(8, 1))
	text := func() string {
		words := []string{"a", "b", "quick", "é", "😀", " ", "fox"}
		var parts []string
		for range 1 + rnd.IntN(3) {
			mark := []string{"", "", `,"marks":[{"type":"bold"}]`, `,"marks":[{"type":"link","attrs":{"href":"https://x.test"}}]`}[rnd.IntN(4)]
			parts = append(parts, `{"type":"text","text":"`+words[rnd.IntN(len(words))]+`"`+mark+`}`)
		}
		return strings.Join(parts, ",")
	}
	var block func(d int) string
	block = func(d int) string {
		switch k := rnd.IntN(7); {
		case k == 0:
			return `{"type":"heading","attrs":{"level":` + strconv.Itoa(1+rnd.IntN(2)) + `},"content":[` + text() + `]}`
		case k == 1 && d < 2:
			return `{"type":"bulletList","content":[{"type":"listItem","content":[` + block(d+1) + `]}]}`
		case k == 2 && d < 2:
			return `{"type":"blockquote","content":[` + block(d+1) + `,` + block(d+1) + `]}`
		case k == 3:
			return `{"type":"paragraph","content":[` + text() + `,{"type":"hardBreak"},` + text() + `]}`
		case k == 4:
			return `{"type":"paragraph"}`
		}
		return `{"type":"paragraph","content":[` + text() + `]}`
	}
	pool := make([]string, 8)
	for i := range pool {
		pool[i] = block(0)
	}
	tree := func() string {
		var bs []string
		for range rnd.IntN(6) {
			bs = append(bs, pool[rnd.IntN(len(pool))])
		}
		return `{"type":"doc","content":[` + strings.Join(bs, ",") + `]}`
	}
	checked := 0
	for i := range 300 {
		from, to := mustParse(t, tree()), mustParse(t, tree())
		seed, err := seedLocked(from)
		if err != nil {
			t.Fatal(err)
		}
		server := newDoc(0)
		y.ApplyUpdate(server, seed, nil)
		ups := captureUpdates(server)
		if err := replaceLocked(server, to); err != nil {
			t.Fatal(err)
		}
		want := readProseMirror(server)
		normal := newDoc(0) // to as a fresh seed reads it: the normal form
		toSeed, err := seedLocked(to)
		if err != nil {
			t.Fatal(err)
		}
		y.ApplyUpdate(normal, toSeed, nil)
		requireJSONEqual(t, readProseMirror(normal), want)
		if i%50 == 0 && len(*ups) > 0 { // a few through yjs (a node process each)
			checked++
			res := runCheck(t, append([][]byte{seed}, *ups...), nil)
			requireJSONEqual(t, want, res.JSON)
		}
	}
	if checked == 0 {
		t.Fatal("no random edit went through yjs")
	}
}

// A one-character edit at the bottom of a deep tree: every level compares
// its children by remembered signatures, so the work stays linear in the
// tree (before signatures, 95 levels over 900 kB of text took ~27 s).
func BenchmarkDiffDeepTree(b *testing.B) {
	mk := func(last string) *prosemirror.Node {
		n := &prosemirror.Node{Type: "paragraph", Content: []*prosemirror.Node{{Type: "text", Text: strings.Repeat("abcdefgh ", 10000) + last}}}
		for range 95 {
			n = &prosemirror.Node{Type: "blockquote", Content: []*prosemirror.Node{n}}
		}
		return &prosemirror.Node{Type: "doc", Content: []*prosemirror.Node{n}}
	}
	seed, err := seedLocked(mk("x"))
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		doc := newDoc(0)
		y.ApplyUpdate(doc, seed, nil)
		b.StartTimer()
		if err := replaceLocked(doc, mk(strconv.Itoa(i))); err != nil {
			b.Fatal(err)
		}
	}
}

// runsDoc is a paragraph of n text runs, bold and plain in turn; the plain
// ones say word.
func runsDoc(n int, word string) string {
	parts := make([]string, n)
	for i := range parts {
		if i%2 == 0 {
			parts[i] = `{"type":"text","marks":[{"type":"bold"}],"text":"b` + strconv.Itoa(i) + ` "}`
		} else {
			parts[i] = `{"type":"text","text":"` + word + strconv.Itoa(i) + ` "}`
		}
	}
	return `{"type":"doc","content":[{"type":"paragraph","content":[` + strings.Join(parts, ",") + `]}]}`
}

// BenchmarkReplaceManyRuns rewrites every plain run of a paragraph of 5,400
// runs: about MaxTextEditCostDefault (r×(l+r) with r ≈ l ≈ 5,400).
// Measured (2 cores, shared): 0.53–0.93 s with the library's
// Insert/Format, 2.1–2.5 s with positions found from the text's start for
// each piece, 54–99 ms writing all pieces from one position
// (ycrdt_format.go).
func BenchmarkReplaceManyRuns(b *testing.B) {
	seed, err := seedLocked(mustParse(b, runsDoc(5400, "p")))
	if err != nil {
		b.Fatal(err)
	}
	to := mustParse(b, runsDoc(5400, "q"))
	for b.Loop() {
		b.StopTimer()
		doc := newDoc(0)
		y.ApplyUpdate(doc, seed, nil)
		b.StartTimer()
		if _, err := replaceWithin(doc, to, math.MaxInt64); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSeedManyRuns seeds the same paragraph: 112–143 ms before,
// 8–10 ms now.
func BenchmarkSeedManyRuns(b *testing.B) {
	pm := mustParse(b, runsDoc(5400, "p"))
	for b.Loop() {
		if _, err := seedUpdate(pm); err != nil {
			b.Fatal(err)
		}
	}
}
