package ydoc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
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
	f.Fuzz(func(t *testing.T, raw1, raw2 []byte) {
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
	})
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
