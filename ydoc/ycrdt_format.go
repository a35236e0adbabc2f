package ydoc

import (
	y "github.com/skyterra/y-crdt"
)

// Workarounds for skyterra/y-crdt's formatted text (docs/design.md, "Text
// the server writes"). Every server-side edit of a Y.XmlText goes through
// insertText, deleteText and formatText; the library's YText.Insert,
// Delete and Format get two things wrong that yjs 13.6 gets right:
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
//   - YText.Insert with attributes does not negate the attributes in effect
//     that it was not given (yjs's insertText sets them to null first), so
//     the text inserted takes the marks of the text before it.
//
// Both are fixed from outside: positions are found from the text's start,
// and inserts name every attribute in effect. Delete this file (and call the
// library's methods again) once y-crdt does both.

// textPosition finds index (UTF-16 units) in t walking from its first
// item, as yjs does in formatted text, so CurrentAttributes holds every
// attribute in effect there. It may split an item, as the library's does.
func textPosition(tr *y.Transaction, t *y.YXmlText, index int) *y.ItemTextListPosition {
	pos := y.NewItemTextListPosition(nil, t.Start, 0, y.NewObject())
	return y.FindNextPosition(tr, pos, index)
}

// insertText inserts s at index without formatting, whatever the text
// around it has (formatText adds marks afterwards), as yjs's
// insert(index, s, {}) does. When it has to negate more than one attribute
// the library writes those items in Go's map order: the content is the
// same, the bytes vary. Seeding never needs that (it writes at the end of
// the text, where every mark is already closed), so its bytes do not.
func insertText(t *y.YXmlText, index int, s string) {
	if s == "" {
		return
	}
	y.Transact(t.Doc, func(tr *y.Transaction) {
		pos := textPosition(tr, t, index)
		attrs := y.Object{}
		for k := range pos.CurrentAttributes {
			attrs[k] = nil
		}
		y.InsertText(tr, t, pos, s, attrs)
	}, nil, true)
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

// formatText sets attrs on n UTF-16 units from index (a nil value removes
// that attribute). Pass one key at a time: the library writes the items of
// several in Go's map order, so the update's bytes would vary.
func formatText(t *y.YXmlText, index, n int, attrs y.Object) {
	if n == 0 {
		return
	}
	y.Transact(t.Doc, func(tr *y.Transaction) {
		pos := textPosition(tr, t, index)
		if pos.Right == nil {
			return
		}
		y.FormatText(tr, t, pos, n, attrs)
	}, nil, true)
}
