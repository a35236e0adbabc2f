package ydoc

import (
	y "github.com/skyterra/y-crdt"
)

// Workarounds for skyterra/y-crdt's formatted text (docs/design.md, "Text
// the server writes"). The server writes into a Y.XmlText only through
// writeFormatted and deleteText; the library's YText.Insert, Delete and
// Format get three things wrong that yjs 13.6 gets right:
//
//   - Positions in formatted text lose the formatting in effect. A text
//     position carries the attributes in effect there, gathered by walking
//     the text's items from its start. yjs never uses search markers (cached
//     positions) in a text that has formatting (ContentFormat.integrate
//     turns them off for good); y-crdt's GetSearchMarker never returns nil,
//     so markers are always used, and a walk starting at a marker knows no
//     formatting from before it. A delete then removes the items that end a
//     bold run (its cleanup thinks bold was never on), and an insert sees no
//     marks to negate.
//   - Insert with attributes does not negate the attributes in effect that
//     it was not given (yjs's insertText sets them to null first), so the
//     text inserted takes the marks of the text before it.
//   - It writes the formatting items of several attributes in Go's map
//     order, so the same edit gives different bytes (seeding must not).
//
// So positions are found from the text's start, and text is inserted by
// insertFormatted, yjs's insertText with the keys in sorted order, made of
// the library's exported parts. Delete this file (and call the library's
// methods again) once y-crdt does all three.

// textPosition finds index (UTF-16 units) in t walking from its first
// item, as yjs does in formatted text, so CurrentAttributes holds every
// attribute in effect there. It may split an item, as the library's does.
func textPosition(tr *y.Transaction, t *y.YXmlText, index int) *y.ItemTextListPosition {
	pos := y.NewItemTextListPosition(nil, t.Start, 0, y.NewObject())
	return y.FindNextPosition(tr, pos, index)
}

// deleteText deletes n UTF-16 units from index.
func deleteText(t *y.YXmlText, index, n int) {
	if n == 0 {
		return
	}
	y.Transact(t.Doc, func(tr *y.Transaction) {
		y.DeleteText(tr, textPosition(tr, t, index), n)
	}, nil, true)
}

// formatted is a piece of text and the formatting attributes it carries
// (y-prosemirror's: mark name → mark attrs).
type formatted struct {
	text  string
	attrs y.Object
}

// writeFormatted inserts the pieces one after the other from index, each
// with exactly its attributes. One walk to index serves them all: the
// position moves along past each piece written.
func writeFormatted(t *y.YXmlText, index int, pieces []formatted) {
	y.Transact(t.Doc, func(tr *y.Transaction) {
		pos := textPosition(tr, t, index)
		for _, p := range pieces {
			if p.text != "" {
				insertFormatted(tr, t, pos, p.text, p.attrs)
			}
		}
	}, nil, true)
}

// insertFormatted is yjs's insertText for a string: s goes in at pos
// carrying exactly attrs, and pos moves past it (and past the items that
// restore the formatting after it). attrs is not changed.
func insertFormatted(tr *y.Transaction, t *y.YXmlText, pos *y.ItemTextListPosition, s string, attrs y.Object) {
	want := make(y.Object, len(attrs)+len(pos.CurrentAttributes))
	for k := range pos.CurrentAttributes {
		want[k] = nil // in effect but not asked for: negate
	}
	for k, v := range attrs {
		want[k] = v
	}
	// Step over deleted items and formatting that already says what we want.
	y.MinimizeAttributeChanges(pos, want)
	restore := y.Object{}
	for _, k := range sortedKeys(want) {
		if cur := pos.CurrentAttributes[k]; !y.EqualAttrs(cur, want[k]) {
			restore[k] = cur
			insertItem(tr, t, pos, y.NewContentFormat(k, want[k]))
		}
	}
	y.UpdateMarkerChanges(t.GetSearchMarker(), pos.Index, utf16Len(s))
	insertItem(tr, t, pos, y.NewContentString(s))
	// Restore what was in effect, unless the items after already do.
	for pos.Right != nil {
		if !pos.Right.Deleted() {
			f, ok := pos.Right.Content.(*y.ContentFormat)
			if !ok {
				break
			}
			v, negated := restore[f.Key]
			if !negated || !y.EqualAttrs(v, f.Value) {
				break
			}
			delete(restore, f.Key)
		}
		_ = pos.Forward()
	}
	for _, k := range sortedKeys(restore) {
		insertItem(tr, t, pos, y.NewContentFormat(k, restore[k]))
	}
}

// insertItem integrates content at pos as the local client's next item and
// moves pos past it.
func insertItem(tr *y.Transaction, t *y.YXmlText, pos *y.ItemTextListPosition, content y.IAbstractContent) {
	client := tr.Doc.ClientID
	id := y.GenID(client, y.GetState(tr.Doc.Store, client))
	item := y.NewItem(id, pos.Left, y.GetItemLastID(pos.Left), pos.Right, y.GetItemID(pos.Right), t, "", content)
	item.Integrate(tr, 0)
	pos.Right = item
	_ = pos.Forward()
}
