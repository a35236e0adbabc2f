package ydoc

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"

	y "github.com/skyterra/y-crdt"

	"github.com/quire/quire/prosemirror"
)

// The ProseMirror tree lives in y-prosemirror's layout: one Y.XmlFragment
// named "prosemirror" holds the doc node's children; every non-text node is a
// Y.XmlElement named after its type with the node's attrs as XML attributes;
// each run of adjacent text nodes is one Y.XmlText whose delta carries the
// marks as formatting attributes (key = mark name, value = mark attrs).

// FragmentName is the name of the shared XmlFragment y-prosemirror binds to.
const FragmentName = "prosemirror"

// SeedClientID is the fixed client id of server-side seeding, so that two
// servers seeding the same note produce identical bytes. It is below 2^31
// like the ids yjs picks.
const SeedClientID = 0x51756972 // "Quir"

// maxTreeDepth bounds recursion over documents built by peers.
const maxTreeDepth = 200

var errTooDeep = errors.New("ydoc: prosemirror tree too deep")

// fragment returns doc's "prosemirror" fragment.
func fragment(doc *y.Doc) (*y.YXmlFragment, error) {
	t := doc.GetXmlFragment(FragmentName)
	f, ok := t.(*y.YXmlFragment)
	if !ok {
		return nil, fmt.Errorf("ydoc: %q is a %T, not an XmlFragment", FragmentName, t)
	}
	return f, nil
}

// seedUpdate builds a fresh document whose fragment holds pm, in one
// transaction by SeedClientID, and returns its full state as one v1 update.
// The bytes depend only on pm.
func seedUpdate(pm *prosemirror.Node) ([]byte, error) {
	doc := newDoc(SeedClientID)
	if _, err := replaceProseMirror(doc, pm); err != nil {
		return nil, err
	}
	return y.EncodeStateAsUpdate(doc, nil), nil
}

// replaceProseMirror makes the fragment hold pm's children, in one
// transaction, by applying only the difference (see diffChildren): children
// that did not change keep their items, so concurrent edits to them survive.
// It reports whether anything changed; an identical tree changes nothing.
func replaceProseMirror(doc *y.Doc, pm *prosemirror.Node) (changed bool, err error) {
	return replaceWithin(doc, pm, MaxTextEditCostDefault)
}

// replaceWithin is replaceProseMirror refusing (errEditTooCostly) an edit
// of one Y.XmlText that costs more than maxCost (Config.MaxTextEditCost);
// edits already made to other texts stay: the caller rebuilds.
func replaceWithin(doc *y.Doc, pm *prosemirror.Node, maxCost int64) (changed bool, err error) {
	if pm == nil || pm.Type != prosemirror.TypeDoc {
		return false, errors.New("ydoc: replace needs a doc node")
	}
	if depth(pm, 0) > maxTreeDepth {
		return false, errTooDeep
	}
	frag, err := fragment(doc)
	if err != nil {
		return false, err
	}
	doc.Transact(func(*y.Transaction) {
		changed, err = diffChildren(frag, pm.Content, 0, maxCost)
	}, nil)
	return changed, err
}

func depth(n *prosemirror.Node, d int) int {
	max := d
	for _, c := range n.Content {
		if cd := depth(c, d+1); cd > max {
			max = cd
		}
		if max > maxTreeDepth {
			break
		}
	}
	return max
}

// writeChildren appends nodes to parent, grouping runs of text nodes into one
// XmlText as y-prosemirror does. Each element is attached to its parent
// before its attributes and children are written: that is the order known to
// load correctly in yjs.
func writeChildren(parent *y.YXmlFragment, nodes []*prosemirror.Node) {
	for i := 0; i < len(nodes); {
		if nodes[i].IsText() {
			j := i
			for j < len(nodes) && nodes[j].IsText() {
				j++
			}
			text := y.NewYXmlText()
			parent.Push(y.ArrayAny{text})
			writeText(text, 0, nodes[i:j])
			i = j
			continue
		}
		n := nodes[i]
		el := newXMLElement(n.Type)
		parent.Push(y.ArrayAny{el})
		for _, k := range sortedKeys(n.Attrs) {
			if v := n.Attrs[k]; v != nil {
				el.SetAttribute(k, yValue(v))
			}
		}
		writeChildren(&el.YXmlFragment, n.Content)
		i++
	}
}

// writeText inserts the text nodes at off onwards, each carrying exactly
// its marks (ycrdt_format.go).
func writeText(t *y.YXmlText, off int, nodes []*prosemirror.Node) {
	pieces := make([]formatted, 0, len(nodes))
	for _, n := range nodes {
		attrs := make(y.Object, len(n.Marks))
		for _, m := range n.Marks {
			a := y.Object{}
			for k, v := range m.Attrs {
				a[k] = v
			}
			attrs[m.Type] = a
		}
		pieces = append(pieces, formatted{text: n.Text, attrs: attrs})
	}
	writeFormatted(t, off, pieces)
}

// utf16Len is the length Yjs counts text in.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// yValue converts a JSON-decoded value to what the library encodes like
// yjs does: integral numbers as integers (yjs writes those as varints),
// null as null (the library writes a Go nil as undefined), nested objects
// and arrays converted recursively.
func yValue(v any) any {
	switch v := v.(type) {
	case nil:
		return y.Null
	case float64:
		if v == math.Trunc(v) && math.Abs(v) <= 1<<31-1 {
			return int(v)
		}
		return v
	case map[string]any:
		o := y.Object{}
		for k, e := range v {
			o[k] = yValue(e)
		}
		return o
	case []any:
		a := make(y.ArrayAny, len(v))
		for i, e := range v {
			a[i] = yValue(e)
		}
		return a
	}
	return v
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// readProseMirror reads doc's fragment into a ProseMirror tree the way
// y-prosemirror's yXmlFragmentToProseMirrorRootNode sees it: elements become
// nodes with their attributes, XmlText deltas become text nodes with marks,
// adjacent text nodes with equal marks are joined (as ProseMirror's Fragment
// does). It walks ToArray/ToDelta, never the library's quadratic ToString.
func readProseMirror(doc *y.Doc) *prosemirror.Node {
	root := &prosemirror.Node{Type: prosemirror.TypeDoc}
	frag, err := fragment(doc)
	if err != nil {
		return root
	}
	root.Content = readChildren(frag, 0)
	return root
}

func readChildren(parent *y.YXmlFragment, d int) []*prosemirror.Node {
	if d > maxTreeDepth {
		return nil
	}
	var out []*prosemirror.Node
	for _, c := range parent.ToArray() {
		switch c := c.(type) {
		case *y.YXmlElement:
			n := &prosemirror.Node{Type: c.NodeName}
			if attrs := c.GetAttributes(); len(attrs) > 0 {
				n.Attrs = make(map[string]any, len(attrs))
				for k, v := range attrs {
					n.Attrs[k] = jsonValue(v)
				}
			}
			n.Content = readChildren(&c.YXmlFragment, d+1)
			out = append(out, n)
		case *y.YXmlText:
			out = appendText(out, c)
		}
	}
	return out
}

// appendText appends the text nodes of t's delta to out, joining with the
// previous node when the marks are equal.
func appendText(out []*prosemirror.Node, t *y.YXmlText) []*prosemirror.Node {
	for _, op := range t.ToDelta(nil, nil, nil) {
		s, ok := op.Insert.(string)
		if !ok || s == "" {
			continue // embeds have no ProseMirror text form
		}
		marks := attributesToMarks(op.Attributes)
		if k := len(out) - 1; k >= 0 && out[k].IsText() && prosemirror.SameMarks(out[k].Marks, marks) {
			out[k].Text += s
			continue
		}
		out = append(out, &prosemirror.Node{Type: prosemirror.TypeText, Text: s, Marks: marks})
	}
	return out
}

// hashedMark matches y-prosemirror's keys for overlapping marks
// ("<mark>--<8 base64 chars>").
var hashedMark = regexp.MustCompile(`^(.*)--[a-zA-Z0-9+/=]{8}$`)

func attributesToMarks(attrs y.Object) []prosemirror.Mark {
	var marks []prosemirror.Mark
	for key, v := range attrs {
		if v == nil {
			continue
		}
		name := key
		if m := hashedMark.FindStringSubmatch(key); m != nil {
			name = m[1]
		}
		mark := prosemirror.Mark{Type: name}
		if o, ok := jsonValue(v).(map[string]any); ok && len(o) > 0 {
			mark.Attrs = o
		}
		marks = append(marks, mark)
	}
	prosemirror.SortMarks(marks)
	return marks
}

// jsonValue converts a decoded Yjs value to plain JSON-marshalable Go values.
func jsonValue(v any) any {
	switch v := v.(type) {
	case y.Object:
		o := make(map[string]any, len(v))
		for k, e := range v {
			o[k] = jsonValue(e)
		}
		return o
	case y.ArrayAny:
		a := make([]any, len(v))
		for i, e := range v {
			a[i] = jsonValue(e)
		}
		return a
	case float32:
		return float64(v)
	case int:
		// Numbers as JSON decodes them, so the tree renders as the JSON
		// it was written from: an image's width read back as an int was
		// dropped from the note's HTML (htmlAttr takes float64).
		return float64(v)
	case int64: // a bigint
		return float64(v)
	case []byte:
		return append([]byte(nil), v...)
	case y.NullType, y.UndefinedType: // how the library reads them back
		return nil
	}
	return v
}
