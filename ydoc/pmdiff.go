package ydoc

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash"
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

// differ compares subtrees by signature: a digest of a child's content,
// computed once per child and remembered, so that comparing at every level of
// a deep tree stays linear in its size. Signatures of the live tree are taken
// before anything below them changes and never asked for again afterwards.
type differ struct {
	have    map[any]sig
	want    map[*prosemirror.Node]sig
	maxCost int64 // of one text's edit (updateText)
	err     error // errEditTooCostly: nothing more is edited
}

type sig [sha256.Size]byte

// diffChildren makes parent's children match nodes and reports whether it
// changed anything. It runs inside the caller's transaction. It stops at
// the first text whose edit would cost more than maxCost
// (errEditTooCostly), leaving what it changed before.
func diffChildren(parent *y.YXmlFragment, nodes []*prosemirror.Node, d int, maxCost int64) (bool, error) {
	df := &differ{have: map[any]sig{}, want: map[*prosemirror.Node]sig{}, maxCost: maxCost}
	changed := df.children(parent, nodes, d)
	return changed, df.err
}

// errEditTooCostly: see Config.MaxTextEditCost.
var errEditTooCostly = errors.New("ydoc: edit of a live paragraph too costly")

func (df *differ) children(parent *y.YXmlFragment, nodes []*prosemirror.Node, d int) bool {
	have := parent.ToArray()
	want := unitsOf(nodes)
	same := func(h any, u unit) bool { return df.haveSig(h, d) == df.wantSig(u) }
	l := 0
	for l < len(have) && l < len(want) && same(have[l], want[l]) {
		l++
	}
	r := 0
	for r < len(have)-l && r < len(want)-l && same(have[len(have)-1-r], want[len(want)-1-r]) {
		r++
	}
	have, want = have[l:len(have)-r], want[l:len(want)-r]
	changed := false
	i := 0
	for i < len(have) && i < len(want) && sameKind(have[i], want[i]) {
		changed = df.update(have[i], want[i], d) || changed
		i++
	}
	j := 0
	for j < len(have)-i && j < len(want)-i && sameKind(have[len(have)-1-j], want[len(want)-1-j]) {
		changed = df.update(have[len(have)-1-j], want[len(want)-1-j], d) || changed
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

// haveSig is the signature of a live child; one deeper than maxTreeDepth,
// or of a type no ProseMirror node makes, equals no wanted child.
func (df *differ) haveSig(h any, d int) sig {
	if s, ok := df.have[h]; ok {
		return s
	}
	w := newSigWriter()
	switch h := h.(type) {
	case *y.YXmlElement:
		if d > maxTreeDepth {
			w.field("deep")
			break
		}
		w.field("element")
		w.field(h.NodeName)
		attrs := h.GetAttributes()
		for _, k := range sortedKeys(attrs) {
			if v := attrs[k]; v != nil {
				w.field(k)
				w.json(jsonValue(v))
			}
		}
		for _, c := range h.ToArray() {
			w.sig(df.haveSig(c, d+1))
		}
	case *y.YXmlText:
		w.field("text")
		var runs textRuns
		for _, op := range h.ToDelta(nil, nil, nil) {
			if s, ok := op.Insert.(string); ok {
				runs.add(s, markKey(attributesToMarks(op.Attributes)))
			} else {
				runs.add("\x00embed", "embed") // no wanted mark set is "embed"
			}
		}
		runs.write(w)
	default:
		w.field("other")
	}
	s := w.sum()
	df.have[h] = s
	return s
}

func (df *differ) wantSig(u unit) sig {
	key := u.el
	if key == nil {
		key = u.text[0]
	}
	if s, ok := df.want[key]; ok {
		return s
	}
	w := newSigWriter()
	if u.el != nil {
		w.field("element")
		w.field(u.el.Type)
		for _, k := range sortedKeys(u.el.Attrs) {
			if v := u.el.Attrs[k]; v != nil {
				w.field(k)
				w.json(v)
			}
		}
		for _, c := range unitsOf(u.el.Content) {
			w.sig(df.wantSig(c))
		}
	} else {
		w.field("text")
		var runs textRuns
		for _, n := range u.text {
			runs.add(n.Text, markKey(n.Marks))
		}
		runs.write(w)
	}
	s := w.sum()
	df.want[key] = s
	return s
}

// textRuns is a text in normal form: no empty runs, adjacent runs with the
// same marks joined (as readProseMirror and ProseMirror see it).
type textRuns struct{ text, marks []string }

func (r *textRuns) add(s, marks string) {
	if s == "" {
		return
	}
	if k := len(r.text) - 1; k >= 0 && r.marks[k] == marks {
		r.text[k] += s
		return
	}
	r.text = append(r.text, s)
	r.marks = append(r.marks, marks)
}

func (r *textRuns) write(w *sigWriter) {
	for i := range r.text {
		w.field(r.marks[i])
		w.field(r.text[i])
	}
}

// sigWriter hashes length-prefixed fields, so no two field lists collide by
// concatenation.
type sigWriter struct{ h hash.Hash }

func newSigWriter() *sigWriter { return &sigWriter{h: sha256.New()} }

func (w *sigWriter) field(s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	w.h.Write(n[:])
	w.h.Write([]byte(s))
}

func (w *sigWriter) json(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte("\x00unencodable")
	}
	w.field(string(b))
}

func (w *sigWriter) sig(s sig) { w.field(string(s[:])) }

func (w *sigWriter) sum() (s sig) {
	copy(s[:], w.h.Sum(nil))
	return s
}

func sameJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}

func (df *differ) update(h any, u unit, d int) bool {
	if df.err != nil {
		return false
	}
	switch h := h.(type) {
	case *y.YXmlElement:
		return df.updateElement(h, u.el, d)
	case *y.YXmlText:
		return df.updateText(h, u.text)
	}
	return false
}

// updateElement brings el's attributes and children in line with n.
func (df *differ) updateElement(el *y.YXmlElement, n *prosemirror.Node, d int) bool {
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
	return df.children(&el.YXmlFragment, n.Content, d+1) || changed
}

// chars is a text's characters (runes; an embed is -1, which no wanted
// character equals) with an index per character into marks, the distinct
// mark sets. keys packs both for comparison.
type chars struct {
	runes []rune
	marks []int // index into sets
	sets  []string
	index map[string]int // sets' positions: a text may hold many distinct sets
	nodes [][]prosemirror.Mark
	keys  []int64
}

// addRun appends s's characters, all with the same marks; the mark set is
// encoded once per run, not per character.
func (c *chars) addRun(s string, embed bool, marks []prosemirror.Mark) {
	k := markKey(marks)
	idx, ok := c.index[k]
	if !ok {
		idx = len(c.sets)
		c.sets = append(c.sets, k)
		c.index[k] = idx
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
	c := &chars{index: map[string]int{}}
	if shared != nil {
		c.sets, c.nodes, c.index = shared.sets, shared.nodes, shared.index
	}
	for _, op := range t.ToDelta(nil, nil, nil) {
		s, ok := op.Insert.(string)
		c.addRun(s, !ok, attributesToMarks(op.Attributes))
	}
	c.pack()
	return c
}

func wantChars(nodes []*prosemirror.Node, shared *chars) *chars {
	c := &chars{index: map[string]int{}}
	if shared != nil {
		c.sets, c.nodes, c.index = shared.sets, shared.nodes, shared.index
	}
	for _, n := range nodes {
		c.addRun(n.Text, false, n.Marks)
	}
	c.pack()
	return c
}

// runs is how many runs of one mark set c holds.
func (c *chars) runs() int {
	n := 0
	for i := range c.marks {
		if i == 0 || c.marks[i] != c.marks[i-1] {
			n++
		}
	}
	return n
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
// (text and marks both equal) with the wanted characters, unless that
// costs more than df.maxCost (then df.err, and t is left alone).
func (df *differ) updateText(t *y.YXmlText, nodes []*prosemirror.Node) bool {
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
	// The bound counts each piece as walking t from its start, past the
	// live pieces (runs of one mark set) and those written before it, as
	// the library's Insert did. writeText now walks once for all pieces
	// (ycrdt_format.go), yet the edit's cost still grows as r×(l+r), a few
	// times more slowly (Config.MaxTextEditCost).
	if r := int64(len(add)); r*(int64(have.runs())+r) > df.maxCost {
		df.err = errEditTooCostly
		return false
	}
	off := utf16Runes(have.runes[:p])
	if n := utf16Runes(del); n > 0 {
		deleteText(t, off, n)
	}
	writeText(t, off, add)
	return true
}
