package ydoc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	y "github.com/skyterra/y-crdt"

	"github.com/quire/quire/prosemirror"
	"github.com/quire/quire/storage"
)

// fuzzMaxInlineCost is the api's maxInlineCost: REST content past it never
// reaches ReplaceContent.
const fuzzMaxInlineCost = 200_000_000

// liveable is what the api lets through to a live document.
func liveable(pm *prosemirror.Node) bool {
	return prosemirror.TableCells(pm) <= prosemirror.MaxTableCells && prosemirror.InlineCost(pm) <= fuzzMaxInlineCost
}

// FuzzProseMirrorToYDoc: whatever ProseMirror JSON Parse accepts (a note's
// content.json from REST) seeds a Y document the same bytes each time,
// which reads back as a tree that renders as the JSON does; and replacing
// that tree with a second document (the diff a REST edit makes) reads
// back as seeding the second would.
func FuzzProseMirrorToYDoc(f *testing.F) {
	for _, s := range []string{
		richDoc,
		`{"type":"doc","content":[{"type":"paragraph"}]}`,
		`{"type":"doc","content":[{"type":"table","content":[{"type":"tableRow","content":[{"type":"tableHeader","attrs":{"colspan":2,"rowspan":1,"colwidth":[100,null]},"content":[{"type":"paragraph","content":[{"type":"text","text":"a|b"}]}]}]}]}]}`,
		`{"type":"doc","content":[{"type":"mention","attrs":{"id":"u1","label":"Bob"}},{"type":"custom","attrs":{"x":[1,{"y":null}],"n":null},"marks":[{"type":"highlight","attrs":{"color":"#f00"}}]}]}`,
		`{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","marks":[{"type":"bold"},{"type":"link","attrs":{"href":"h","target":null}}],"text":"😀a"},{"type":"text","marks":[{"type":"bold"}],"text":"b"},{"type":"hardBreak"},{"type":"text","marks":[{"type":"unknown","attrs":{"k":[true]}}],"text":"c"}]}]}`,
	} {
		f.Add([]byte(s), []byte(`{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"x"}]}]}`))
		f.Add([]byte(s), []byte(richDoc))
	}
	f.Fuzz(checkToYDoc)
}

// FuzzProseMirrorTreeToYDoc is FuzzProseMirrorToYDoc on documents built
// from the bytes (genDoc), which byte-level mutation of JSON rarely
// reaches: nested lists and tables, runs of differently marked text,
// unknown nodes and marks, text in several scripts.
func FuzzProseMirrorTreeToYDoc(f *testing.F) {
	f.Add([]byte{0x01, 0x12, 0x33, 0x40, 0x55, 0x61, 0x7f, 0x02}, []byte{0x01, 0x12, 0x34, 0x40, 0x55})
	f.Add([]byte{0x09, 0x0a, 0x0b, 0x0c, 0x21, 0x22, 0x23, 0x24}, []byte{0x09, 0x0a, 0x0b, 0x0d, 0x21, 0x25})
	f.Add([]byte("paragraphs of text and marks"), []byte("paragraphs of text, marks"))
	f.Fuzz(func(t *testing.T, a, b []byte) { checkToYDoc(t, genDoc(a), genDoc(b)) })
}

// genDoc builds a document from data, one byte per decision.
func genDoc(data []byte) []byte {
	g := &gen{data: data}
	doc := &prosemirror.Node{Type: prosemirror.TypeDoc}
	for len(g.data) > 0 && len(doc.Content) < 8 {
		doc.Content = append(doc.Content, g.block(0))
	}
	j, _ := json.Marshal(doc)
	return j
}

type gen struct{ data []byte }

func (g *gen) next() byte {
	if len(g.data) == 0 {
		return 0
	}
	b := g.data[0]
	g.data = g.data[1:]
	return b
}

var genTexts = []string{"a", "b c", " ", "😀", "é", "x\ny", "**", "|", "<b>&amp;", "שלום", "\u0000"}

func (g *gen) block(depth int) *prosemirror.Node {
	b := g.next()
	kind := b % 12
	if depth > 4 {
		kind = 0
	}
	p := func() *prosemirror.Node {
		return &prosemirror.Node{Type: prosemirror.TypeParagraph, Content: g.inline()}
	}
	items := func(item string) []*prosemirror.Node {
		var out []*prosemirror.Node
		for range b>>4%3 + 1 {
			it := &prosemirror.Node{Type: item, Content: []*prosemirror.Node{p()}}
			if g.next()%3 == 0 {
				it.Content = append(it.Content, g.block(depth+1))
			}
			if item == prosemirror.TypeTaskItem {
				it.Attrs = map[string]any{"checked": b&0x40 != 0}
			}
			out = append(out, it)
		}
		return out
	}
	switch kind {
	case 1:
		return &prosemirror.Node{Type: prosemirror.TypeHeading, Attrs: map[string]any{"level": float64(b>>4%6 + 1)}, Content: g.inline()}
	case 2:
		return &prosemirror.Node{Type: prosemirror.TypeBulletList, Content: items(prosemirror.TypeListItem)}
	case 3:
		return &prosemirror.Node{Type: prosemirror.TypeOrderedList, Attrs: map[string]any{"start": float64(b >> 5)}, Content: items(prosemirror.TypeListItem)}
	case 4:
		return &prosemirror.Node{Type: prosemirror.TypeTaskList, Content: items(prosemirror.TypeTaskItem)}
	case 5:
		return &prosemirror.Node{Type: prosemirror.TypeBlockquote, Content: []*prosemirror.Node{g.block(depth + 1), g.block(depth + 1)}}
	case 6:
		n := &prosemirror.Node{Type: prosemirror.TypeCodeBlock, Attrs: map[string]any{"language": nil}}
		if t := genTexts[int(b>>4)%len(genTexts)]; t != "" {
			n.Content = []*prosemirror.Node{{Type: prosemirror.TypeText, Text: t}}
		}
		return n
	case 7:
		return &prosemirror.Node{Type: prosemirror.TypeHorizontalRule}
	case 8:
		return &prosemirror.Node{Type: prosemirror.TypeImage, Attrs: map[string]any{"src": "/i.png", "alt": genTexts[int(b>>4)%len(genTexts)], "title": nil, "width": float64(b)}}
	case 9:
		table := &prosemirror.Node{Type: prosemirror.TypeTable}
		for r := range b>>4%3 + 1 {
			row := &prosemirror.Node{Type: prosemirror.TypeTableRow}
			for range b>>6 + 1 {
				cell := prosemirror.TypeTableCell
				if r == 0 {
					cell = prosemirror.TypeTableHeader
				}
				row.Content = append(row.Content, &prosemirror.Node{Type: cell,
					Attrs:   map[string]any{"colspan": float64(1), "rowspan": float64(1), "colwidth": nil},
					Content: []*prosemirror.Node{p()}})
			}
			table.Content = append(table.Content, row)
		}
		return table
	case 10:
		return &prosemirror.Node{Type: "details", Attrs: map[string]any{"open": b&0x10 != 0, "x": []any{float64(b), "s", nil}}, Content: []*prosemirror.Node{p(), g.block(depth + 1)}}
	}
	return p()
}

var genMarks = []prosemirror.Mark{
	{Type: prosemirror.MarkBold}, {Type: prosemirror.MarkItalic}, {Type: prosemirror.MarkCode},
	{Type: prosemirror.MarkStrike}, {Type: prosemirror.MarkUnderline},
	{Type: prosemirror.MarkLink, Attrs: map[string]any{"href": "https://e.com/(x)", "target": "_blank"}},
	{Type: prosemirror.MarkHighlight, Attrs: map[string]any{"color": "#ff0"}},
	{Type: "textStyle", Attrs: map[string]any{"color": nil}},
}

func (g *gen) inline() []*prosemirror.Node {
	var out []*prosemirror.Node
	for n := g.next() % 6; n > 0; n-- {
		b := g.next()
		switch {
		case b%16 == 14:
			out = append(out, &prosemirror.Node{Type: prosemirror.TypeHardBreak})
			continue
		case b%16 == 15:
			out = append(out, &prosemirror.Node{Type: prosemirror.TypeMention, Attrs: map[string]any{"id": "u1", "label": genTexts[int(b>>4)%len(genTexts)]}})
			continue
		}
		t := &prosemirror.Node{Type: prosemirror.TypeText, Text: genTexts[int(b%16)%len(genTexts)]}
		for m := g.next(); m != 0; m >>= 3 {
			mk := genMarks[int(m%8)]
			if !slices.ContainsFunc(t.Marks, func(x prosemirror.Mark) bool { return x.Type == mk.Type }) {
				t.Marks = append(t.Marks, mk)
			}
		}
		out = append(out, t)
	}
	return out
}

// checkToYDoc is FuzzProseMirrorToYDoc's property.
func checkToYDoc(t *testing.T, raw1, raw2 []byte) {
	{
		pm1, err := prosemirror.Parse(raw1)
		if err != nil || !liveable(pm1) {
			return
		}
		u1, err := seedLocked(pm1)
		if err != nil {
			t.Fatalf("%s: seed: %v", raw1, err)
		}
		if again, _ := seedLocked(pm1); !bytes.Equal(u1, again) {
			t.Fatalf("%s: seeded to different bytes twice", raw1)
		}
		editMu.Lock()
		defer editMu.Unlock()
		doc := newDoc(0)
		y.ApplyUpdate(doc, u1, nil)
		requireSameRendering(t, raw1, pm1, readProseMirror(doc))

		pm2, err := prosemirror.Parse(raw2)
		if err != nil || !liveable(pm2) {
			return
		}
		if _, err := replaceProseMirror(doc, pm2); err != nil {
			if errors.Is(err, errEditTooCostly) {
				return
			}
			t.Fatalf("%s → %s: replace: %v", raw1, raw2, err)
		}
		got := readProseMirror(doc)
		requireSameRendering(t, raw2, pm2, got)
		fresh := newDoc(0)
		u2, err := seedUpdate(pm2)
		if err != nil {
			t.Fatal(err)
		}
		y.ApplyUpdate(fresh, u2, nil)
		a, _ := json.Marshal(got)
		b, _ := json.Marshal(readProseMirror(fresh))
		if !bytes.Equal(a, b) {
			t.Fatalf("%s → %s: replaced tree %s, seeded %s", raw1, raw2, a, b)
		}
	}
}

// requireSameRendering: got, read back from a Y document, renders as pm
// but for the marks of non-text nodes, which the Y document does not keep
// (nor does y-prosemirror: it writes a node's attrs only).
func requireSameRendering(t *testing.T, raw []byte, pm, got *prosemirror.Node) {
	t.Helper()
	pm = withoutNodeMarks(pm.Clone())
	want, have := prosemirror.ContentOf(pm), prosemirror.ContentOf(got)
	if want.MD != have.MD || want.HTML != have.HTML || pm.PlainText() != got.PlainText() {
		j, _ := json.Marshal(got)
		t.Fatalf("%s reads back as %s\nmd:   %q\n      %q\nhtml: %q\n      %q", raw, j, want.MD, have.MD, want.HTML, have.HTML)
	}
}

// FuzzApplyUpdate: any bytes a socket sends as an update to a live
// document (seeded from richDoc) leave the Manager running; a refused
// update leaves the state as it was; the state afterwards renders.
func FuzzApplyUpdate(f *testing.F) {
	seedPM := mustParse(f, richDoc)
	seed, err := seedLocked(seedPM)
	if err != nil {
		f.Fatal(err)
	}
	// Edits a browser holding the seeded document would send.
	for _, next := range []string{
		`{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"x"}]}]}`,
		`{"type":"doc","content":[{"type":"heading","attrs":{"level":1},"content":[{"type":"text","marks":[{"type":"italic"}],"text":"é😀"}]},{"type":"table","content":[{"type":"tableRow","content":[{"type":"tableCell","content":[{"type":"paragraph"}]}]}]}]}`,
		`{"type":"doc"}`,
	} {
		p := newPeer()
		p.apply(seed)
		f.Add(p.replace(f, mustParse(f, next)))
	}
	f.Add(seed)
	f.Add([]byte{0, 0})
	updates, _ := loadEditLog(f)
	for _, u := range updates[:4] {
		f.Add(u) // the first applies; the others wait for it (held)
	}

	store, err := storage.OpenSQLite(context.Background(), filepath.Join(f.TempDir(), "quire.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = store.Close() })
	b := startManager(f, store, Config{RenderDebounce: time.Millisecond, RenderMaxWait: time.Millisecond})
	content, err := json.Marshal(map[string]any{"content": map[string]any{"json": seedPM}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, update []byte) {
		ctx := context.Background()
		doc := newNote(t, store, string(content))
		before, err := b.m.Join(ctx, doc, "s1")
		if err != nil {
			t.Fatal(err)
		}
		err = b.m.Apply(ctx, doc, "s1", update)
		after, serr := b.m.State(ctx, doc)
		if serr != nil {
			t.Fatalf("%x: state after: %v", update, serr)
		}
		switch {
		case err == nil:
		case errors.Is(err, ErrInvalidUpdate), errors.Is(err, ErrTooLarge), errors.Is(err, ErrBusy):
			if !bytes.Equal(before.Update, after.Update) {
				t.Fatalf("%x: refused (%v) but changed the state", update, err)
			}
		default:
			t.Fatalf("%x: %v", update, err)
		}
		editMu.Lock()
		defer editMu.Unlock()
		d := newDoc(0)
		y.ApplyUpdate(d, after.Update, nil)
		_ = prosemirror.ContentOf(readProseMirror(d))
		b.m.Leave(ctx, doc, "s1")
	})
}

func withoutNodeMarks(n *prosemirror.Node) *prosemirror.Node {
	if !n.IsText() {
		n.Marks = nil
	}
	for _, c := range n.Content {
		withoutNodeMarks(c)
	}
	return n
}

// TestNumberAttrsReadBackAsJSON: a number attribute reads back from the Y
// document as JSON decodes it (float64), so the live note's HTML keeps an
// image's width; read back as an int, htmlAttr dropped it.
func TestNumberAttrsReadBackAsJSON(t *testing.T) {
	t.Parallel()
	pm := mustParse(t, `{"type":"doc","content":[{"type":"image","attrs":{"src":"/i.png","width":32}}]}`)
	u, err := seedLocked(pm)
	if err != nil {
		t.Fatal(err)
	}
	editMu.Lock()
	defer editMu.Unlock()
	doc := newDoc(0)
	y.ApplyUpdate(doc, u, nil)
	got := readProseMirror(doc)
	if w, ok := got.Content[0].Attrs["width"].(float64); !ok || w != 32 {
		t.Fatalf("width read back as %#v", got.Content[0].Attrs["width"])
	}
	if html := got.HTML(); !strings.Contains(html, `width="32"`) {
		t.Fatalf("HTML %q has no width", html)
	}
}
