package ydoc

import (
	"encoding/json"
	"slices"

	y "github.com/skyterra/y-crdt"

	"github.com/quire/quire/prosemirror"
)

// A REST content edit is applied as the difference between the live tree and
// the new one, so what peers type concurrently into blocks the edit keeps
// lands in items that still exist. The matching follows the idea of
// y-prosemirror's updateYFragment: equal children are paired from both ends
// and left alone, then children of the same kind are updated in place (from
// both ends), and whatever is left is deleted and inserted.

// unit is one child of a Y.XmlFragment as the new tree describes it: an
// element node, or a run of adjacent text nodes (one Y.XmlText).
type unit struct {
	el   *prosemirror.Node
	text []*prosemirror.Node
}

func unitsOf(nodes []*prosemirror.Node) []unit {
	var out []unit
	for i := 0; i < len(nodes); {
		if !nodes[i].IsText() {
			out = append(out, unit{el: nodes[i]})
			i++
			continue
		}
		j := i
		for j < len(nodes) && nodes[j].IsText() {
			j++
		}
		out = append(out, unit{text: nodes[i:j]})
		i = j
	}
	return out
}

// diffChildren makes parent's children match nodes and reports whether it
// changed anything. It runs inside the caller's transaction.
func diffChildren(parent *y.YXmlFragment, nodes []*prosemirror.Node, d int) bool {
	have := parent.ToArray()
	want := unitsOf(nodes)
	l := 0
	for l < len(have) && l < len(want) && sameUnit(have[l], want[l], d) {
		l++
	}
	r := 0
	for r < len(have)-l && r < len(want)-l && sameUnit(have[len(have)-1-r], want[len(want)-1-r], d) {
		r++
	}
	have, want = have[l:len(have)-r], want[l:len(want)-r]
	changed := false
	i := 0
	for i < len(have) && i < len(want) && sameKind(have[i], want[i]) {
		changed = updateUnit(have[i], want[i], d) || changed
		i++
	}
	j := 0
	for j < len(have)-i && j < len(want)-i && sameKind(have[len(have)-1-j], want[len(want)-1-j]) {
		changed = updateUnit(have[len(have)-1-j], want[len(want)-1-j], d) || changed
		j++
	}
	at := l + i
	if n := len(have) - i - j; n > 0 {
		parent.Delete(at, n)
		changed = true
	}
	for _, u := range want[i : len(want)-j] {
		insertUnit(parent, at, u)
		at++
		changed = true
	}
	return changed
}

// insertUnit inserts u at index at, attaching each new type to its parent
// before writing into it (the order known to load correctly in yjs).
func insertUnit(parent *y.YXmlFragment, at int, u unit) {
	if u.el == nil {
		text := y.NewYXmlText()
		parent.Insert(at, y.ArrayAny{text})
		writeText(text, 0, u.text)
		return
	}
	el := newXMLElement(u.el.Type)
	parent.Insert(at, y.ArrayAny{el})
	for _, k := range sortedKeys(u.el.Attrs) {
		if v := u.el.Attrs[k]; v != nil {
			el.SetAttribute(k, yValue(v))
		}
	}
	writeChildren(&el.YXmlFragment, u.el.Content)
}

func sameKind(h any, u unit) bool {
	switch h := h.(type) {
	case *y.YXmlElement:
		return u.el != nil && h.NodeName == u.el.Type
	case *y.YXmlText:
		return u.el == nil
	}
	return false
}

func sameUnit(h any, u unit, d int) bool {
	if d > maxTreeDepth {
		return false
	}
	switch h := h.(type) {
	case *y.YXmlElement:
		if u.el == nil || h.NodeName != u.el.Type || !sameAttrs(h.GetAttributes(), u.el.Attrs) {
			return false
		}
		kids := h.ToArray()
		want := unitsOf(u.el.Content)
		if len(kids) != len(want) {
			return false
		}
		for i := range kids {
			if !sameUnit(kids[i], want[i], d+1) {
				return false
			}
		}
		return true
	case *y.YXmlText:
		if u.el != nil {
			return false
		}
		w := wantChars(u.text, nil)
		return slices.Equal(charsOf(h, w).keys, w.keys)
	}
	return false
}

// sameAttrs compares attributes the way readChildren and writeChildren see
// them: a nil value is no attribute.
func sameAttrs(have y.Object, want map[string]any) bool {
	n := 0
	for k, v := range want {
		if v == nil {
			continue
		}
		n++
		if hv := have[k]; hv == nil || !sameJSON(jsonValue(hv), v) {
			return false
		}
	}
	for _, v := range have {
		if v != nil {
			n--
		}
	}
	return n == 0
}

func sameJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}

func updateUnit(h any, u unit, d int) bool {
	switch h := h.(type) {
	case *y.YXmlElement:
		return updateElement(h, u.el, d)
	case *y.YXmlText:
		return updateText(h, u.text)
	}
	return false
}

// updateElement brings el's attributes and children in line with n.
func updateElement(el *y.YXmlElement, n *prosemirror.Node, d int) bool {
	changed := false
	have := el.GetAttributes()
	keys := make([]string, 0, len(have))
	for k := range have {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if have[k] != nil && n.Attrs[k] == nil {
			el.RemoveAttribute(k)
			changed = true
		}
	}
	for _, k := range sortedKeys(n.Attrs) {
		v := n.Attrs[k]
		if v == nil {
			continue
		}
		if hv := have[k]; hv == nil || !sameJSON(jsonValue(hv), v) {
			el.SetAttribute(k, yValue(v))
			changed = true
		}
	}
	if d+1 > maxTreeDepth {
		return changed
	}
	return diffChildren(&el.YXmlFragment, n.Content, d+1) || changed
}

// chars is a text's characters (runes; an embed is -1, which no wanted
// character equals) with an index per character into marks, the distinct
// mark sets. keys packs both for comparison.
type chars struct {
	runes []rune
	marks []int // index into sets
	sets  []string
	nodes [][]prosemirror.Mark
	keys  []int64
}

// addRun appends s's characters, all with the same marks; the mark set is
// encoded once per run, not per character.
func (c *chars) addRun(s string, embed bool, marks []prosemirror.Mark) {
	k := markKey(marks)
	idx := slices.Index(c.sets, k)
	if idx < 0 {
		idx = len(c.sets)
		c.sets = append(c.sets, k)
		c.nodes = append(c.nodes, marks)
	}
	if embed {
		c.runes = append(c.runes, -1)
		c.marks = append(c.marks, idx)
		return
	}
	for _, r := range s {
		c.runes = append(c.runes, r)
		c.marks = append(c.marks, idx)
	}
}

// markKey is a canonical encoding of a sorted mark set; empty attrs count
// as none.
func markKey(marks []prosemirror.Mark) string {
	norm := make([]prosemirror.Mark, len(marks))
	for i, m := range marks {
		norm[i] = prosemirror.Mark{Type: m.Type}
		if len(m.Attrs) > 0 {
			norm[i].Attrs = m.Attrs
		}
	}
	prosemirror.SortMarks(norm)
	b, _ := json.Marshal(norm)
	return string(b)
}

// charsOf reads t's delta. Mark sets are interned in shared (the wanted
// side's table when comparing) so equal sets get equal indexes.
func charsOf(t *y.YXmlText, shared *chars) *chars {
	c := &chars{}
	if shared != nil {
		c.sets, c.nodes = shared.sets, shared.nodes
	}
	for _, op := range t.ToDelta(nil, nil, nil) {
		s, ok := op.Insert.(string)
		c.addRun(s, !ok, attributesToMarks(op.Attributes))
	}
	c.pack()
	return c
}

func wantChars(nodes []*prosemirror.Node, shared *chars) *chars {
	c := &chars{}
	if shared != nil {
		c.sets, c.nodes = shared.sets, shared.nodes
	}
	for _, n := range nodes {
		c.addRun(n.Text, false, n.Marks)
	}
	c.pack()
	return c
}

func (c *chars) pack() {
	c.keys = make([]int64, len(c.runes))
	for i, r := range c.runes {
		c.keys[i] = int64(c.marks[i])<<32 | int64(uint32(r))
	}
}

func utf16Runes(rs []rune) int {
	n := 0
	for _, r := range rs {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// updateText replaces the part of t between the common prefix and suffix
// (text and marks both equal) with the wanted characters.
func updateText(t *y.YXmlText, nodes []*prosemirror.Node) bool {
	want := wantChars(nodes, nil)
	have := charsOf(t, want)
	want.sets, want.nodes = have.sets, have.nodes
	p := 0
	for p < len(have.keys) && p < len(want.keys) && have.keys[p] == want.keys[p] {
		p++
	}
	s := 0
	for s < len(have.keys)-p && s < len(want.keys)-p && have.keys[len(have.keys)-1-s] == want.keys[len(want.keys)-1-s] {
		s++
	}
	del := have.runes[p : len(have.runes)-s]
	ins := want.runes[p : len(want.runes)-s]
	if len(del) == 0 && len(ins) == 0 {
		return false
	}
	off := utf16Runes(have.runes[:p])
	if n := utf16Runes(del); n > 0 {
		t.Delete(off, n)
	}
	// Group the inserted characters into text nodes by mark set.
	var add []*prosemirror.Node
	for i := p; i < len(want.runes)-s; {
		j := i
		for j < len(want.runes)-s && want.marks[j] == want.marks[i] {
			j++
		}
		add = append(add, &prosemirror.Node{Type: prosemirror.TypeText, Text: string(want.runes[i:j]), Marks: want.nodes[want.marks[i]]})
		i = j
	}
	writeText(t, off, add)
	return true
}
