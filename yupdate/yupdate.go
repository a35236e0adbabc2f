package yupdate

import (
	"cmp"
	"encoding/json"
	"errors"
	"slices"

	"github.com/quire/quire/internal/jsondepth"
)

// ErrInvalid is wrapped by every parse error; the message names the fault and its offset.
var ErrInvalid = errors.New("yupdate: invalid Yjs v1 data")

// Defaults used for zero Limits fields.
const (
	DefaultMaxBytes   = 64 << 20 // the default maximum document size
	DefaultMaxStructs = 1 << 22
	// maxDepth bounds nesting of Any values and JSON contents; yjs has no limit, but
	// real documents never come close and the Go library decodes them recursively.
	maxDepth = 128
)

// Limits bound what Parse accepts beyond the format's own rules.
type Limits struct {
	// MaxBytes is the largest accepted input in bytes; zero means DefaultMaxBytes.
	MaxBytes int
	// MaxStructs is the most structs (items, GC and skips) in one update; zero means DefaultMaxStructs.
	MaxStructs int
	// MaxStringBytes is the largest single string, key or binary buffer; zero means MaxBytes.
	MaxStringBytes int
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxStructs <= 0 {
		l.MaxStructs = DefaultMaxStructs
	}
	if l.MaxStringBytes <= 0 {
		l.MaxStringBytes = l.MaxBytes
	}
	return l
}

// ID names one struct: the client that made it and its clock (position in that client's log).
type ID struct{ Client, Clock uint64 }

// Range is Len consecutive clocks starting at Clock.
type Range struct{ Clock, Len uint64 }

// End is the first clock after the range.
func (r Range) End() uint64 { return r.Clock + r.Len }

// Update is what an update inserts, deletes and depends on.
type Update struct {
	// Structs holds per client the clock ranges this update inserts (items and GC; skips
	// excluded), in clock order, adjacent ranges merged.
	Structs map[uint64][]Range
	// Deps are the origin, right-origin and parent ids of items that this update does not
	// create itself, sorted and deduplicated.
	Deps []ID
	// Deletes is the delete set per client as written (empty clients and zero-length ranges
	// dropped).
	Deletes map[uint64][]Range
}

// Missing reports whether the update refers to anything a document with state vector sv
// lacks: structs that start after what the document (plus this update's earlier structs)
// has, a dependency not yet present, or a delete range beyond it. yjs would park such an
// update as pending; the Go library loses pending deletes, so the caller must hold it.
func (u *Update) Missing(sv map[uint64]uint64) bool {
	// after is the state per client once this update's structs are integrated.
	after := make(map[uint64]uint64, len(u.Structs))
	for client, ranges := range u.Structs {
		s := sv[client]
		for _, r := range ranges {
			if r.Clock > s {
				return true
			}
			s = max(s, r.End())
		}
		after[client] = s
	}
	state := func(client uint64) uint64 {
		if s, ok := after[client]; ok {
			return s
		}
		return sv[client]
	}
	for _, d := range u.Deps {
		if d.Clock >= state(d.Client) {
			return true
		}
	}
	for client, ranges := range u.Deletes {
		s := state(client)
		for _, r := range ranges {
			if r.End() > s {
				return true
			}
		}
	}
	return false
}

// Parse validates a Yjs v1 update completely and reports its structs, dependencies and
// deletes. Work and allocation are linear in len(b).
func Parse(b []byte, lim Limits) (*Update, error) {
	lim = lim.withDefaults()
	p := &parser{r: reader{b: b}, lim: lim, u: &Update{
		Structs: map[uint64][]Range{},
		Deletes: map[uint64][]Range{},
	}}
	if len(b) > lim.MaxBytes {
		return nil, p.r.errf("update of %d bytes exceeds the limit of %d", len(b), lim.MaxBytes)
	}
	if err := p.structs(); err != nil {
		return nil, err
	}
	if err := p.deleteSet(); err != nil {
		return nil, err
	}
	if p.r.remaining() != 0 {
		return nil, p.r.errf("%d trailing bytes", p.r.remaining())
	}
	p.u.Deps = p.ownDepsRemoved()
	return p.u, nil
}

// ParseStateVector validates a v1 state vector ([n] then n × [client][clock]).
func ParseStateVector(b []byte, lim Limits) (map[uint64]uint64, error) {
	lim = lim.withDefaults()
	r := &reader{b: b}
	if len(b) > lim.MaxBytes {
		return nil, r.errf("state vector of %d bytes exceeds the limit of %d", len(b), lim.MaxBytes)
	}
	n, err := r.count("number of clients")
	if err != nil {
		return nil, err
	}
	sv := make(map[uint64]uint64, min(n, 64))
	for range n {
		at := r.pos
		client, err := r.uint()
		if err != nil {
			return nil, err
		}
		clock, err := r.uint()
		if err != nil {
			return nil, err
		}
		if _, dup := sv[client]; dup {
			r.pos = at
			return nil, r.errf("client %d listed twice", client)
		}
		sv[client] = clock
	}
	if r.remaining() != 0 {
		return nil, r.errf("%d trailing bytes", r.remaining())
	}
	return sv, nil
}

type parser struct {
	r       reader
	lim     Limits
	u       *Update
	deps    []ID
	structN int
}

// Struct kinds by the low five bits of the info byte (yjs contentRefs; 0 and 10 are structs).
const (
	refGC      = 0
	refDeleted = 1
	refJSON    = 2
	refBinary  = 3
	refString  = 4
	refEmbed   = 5
	refFormat  = 6
	refType    = 7
	refAny     = 8
	refDoc     = 9
	refSkip    = 10
)

// Info byte flags.
const (
	infoOrigin      = 0x80
	infoRightOrigin = 0x40
	infoParentSub   = 0x20
	infoRefMask     = 0x1f
)

// Type refs (yjs typeRefs): XmlElement and XmlHook carry a name.
const (
	typeXmlElement = 3
	typeXmlHook    = 5
	typeLast       = 6 // XmlText
)

func (p *parser) structs() error {
	r := &p.r
	n, err := r.count("number of clients")
	if err != nil {
		return err
	}
	seen := make(map[uint64]struct{}, min(n, 64))
	for range n {
		k, err := r.count("number of structs")
		if err != nil {
			return err
		}
		if p.structN += k; p.structN > p.lim.MaxStructs {
			return r.errf("more than %d structs", p.lim.MaxStructs)
		}
		client, err := r.newClient(seen, "client %d listed twice")
		if err != nil {
			return err
		}
		clock, err := r.uint()
		if err != nil {
			return err
		}
		for range k {
			if clock, err = p.oneStruct(client, clock); err != nil {
				return err
			}
		}
	}
	return nil
}

// oneStruct reads one struct starting at clock and returns the clock after it.
func (p *parser) oneStruct(client, clock uint64) (uint64, error) {
	r := &p.r
	at := r.pos
	info, err := r.byte()
	if err != nil {
		return 0, err
	}
	if info&infoRefMask > refSkip {
		r.pos = at
		return 0, r.errf("unknown content ref %d", info&infoRefMask)
	}
	var n uint64
	switch info & infoRefMask {
	case refGC, refSkip:
		if info != refGC && info != refSkip {
			r.pos = at
			return 0, r.errf("flags 0x%02x on a GC or skip struct", info&^infoRefMask)
		}
		n, err = r.uint()
	default:
		n, err = p.item(info)
	}
	if err != nil {
		return 0, err
	}
	if n == 0 {
		r.pos = at
		return 0, r.errf("zero-length struct")
	}
	if clock+n > maxUint53 {
		r.pos = at
		return 0, r.errf("clock %d+%d exceeds 53 bits", clock, n)
	}
	if info != refSkip {
		p.addStructs(client, Range{clock, n})
	}
	return clock + n, nil
}

func (p *parser) addStructs(client uint64, rg Range) {
	rs := p.u.Structs[client]
	if k := len(rs) - 1; k >= 0 && rs[k].End() == rg.Clock {
		rs[k].Len += rg.Len
		return
	}
	p.u.Structs[client] = append(rs, rg)
}

func (p *parser) id() error {
	client, err := p.r.uint()
	if err != nil {
		return err
	}
	clock, err := p.r.uint()
	if err != nil {
		return err
	}
	// Most origins point at structs read just before; dropping those now keeps deps small.
	if id := (ID{client, clock}); !p.creates(id) {
		p.deps = append(p.deps, id)
	}
	return nil
}

// item reads an item's origins, parent and content and returns its length in clocks.
func (p *parser) item(info byte) (uint64, error) {
	r := &p.r
	if info&infoOrigin != 0 {
		if err := p.id(); err != nil {
			return 0, err
		}
	}
	if info&infoRightOrigin != 0 {
		if err := p.id(); err != nil {
			return 0, err
		}
	}
	if info&(infoOrigin|infoRightOrigin) == 0 {
		// Without origins the parent is written: a root type's name or the parent item's id.
		at := r.pos
		kind, err := r.uint()
		if err != nil {
			return 0, err
		}
		switch kind {
		case 1:
			if _, err := r.string("parent name", p.lim.MaxStringBytes); err != nil {
				return 0, err
			}
		case 0:
			if err := p.id(); err != nil {
				return 0, err
			}
		default:
			r.pos = at
			return 0, r.errf("parent info %d is neither 0 nor 1", kind)
		}
		if info&infoParentSub != 0 {
			if _, err := r.string("parent key", p.lim.MaxStringBytes); err != nil {
				return 0, err
			}
		}
	}
	return p.content(info & infoRefMask)
}

func (p *parser) content(ref byte) (uint64, error) {
	r := &p.r
	maxS := p.lim.MaxStringBytes
	switch ref {
	case refDeleted:
		return r.uint()
	case refJSON:
		n, err := r.count("number of JSON values")
		if err != nil {
			return 0, err
		}
		for range n {
			if err := p.json(true); err != nil {
				return 0, err
			}
		}
		return uint64(n), nil
	case refBinary:
		_, err := r.bytes("binary content", maxS)
		return 1, err
	case refString:
		s, err := r.string("string content", maxS)
		return utf16Len(s), err
	case refEmbed:
		return 1, p.json(false)
	case refFormat:
		if _, err := r.string("format key", maxS); err != nil {
			return 0, err
		}
		return 1, p.json(false)
	case refType:
		at := r.pos
		t, err := r.uint()
		if err != nil {
			return 0, err
		}
		if t > typeLast {
			r.pos = at
			return 0, r.errf("unknown type ref %d", t)
		}
		if t == typeXmlElement || t == typeXmlHook {
			if _, err := r.string("XML node name", maxS); err != nil {
				return 0, err
			}
		}
		return 1, nil
	case refAny:
		n, err := r.count("number of Any values")
		if err != nil {
			return 0, err
		}
		for range n {
			if err := p.any(0); err != nil {
				return 0, err
			}
		}
		return uint64(n), nil
	case refDoc:
		if _, err := r.string("subdocument guid", maxS); err != nil {
			return 0, err
		}
		return 1, p.any(0)
	}
	panic("unreachable: oneStruct checked the content ref")
}

// json reads a string holding JSON; ContentJSON also stores undefined as "undefined".
func (p *parser) json(undefinedOK bool) error {
	r := &p.r
	at := r.pos
	s, err := r.string("JSON", p.lim.MaxStringBytes)
	if err != nil {
		return err
	}
	if undefinedOK && string(s) == "undefined" {
		return nil
	}
	if !json.Valid(s) {
		r.pos = at
		return r.errf("content is not valid JSON")
	}
	if jsondepth.Max(s) > maxDepth {
		r.pos = at
		return r.errf("JSON nested deeper than %d", maxDepth)
	}
	return nil
}

// Any value tags (lib0 encoding.writeAny).
const (
	anyUndefined = 127
	anyNull      = 126
	anyInt       = 125
	anyFloat32   = 124
	anyFloat64   = 123
	anyBigInt    = 122
	anyFalse     = 121
	anyTrue      = 120
	anyString    = 119
	anyObject    = 118
	anyArray     = 117
	anyBytes     = 116
)

func (p *parser) any(depth int) error {
	r := &p.r
	if depth > maxDepth {
		return r.errf("Any value nested deeper than %d", maxDepth)
	}
	at := r.pos
	tag, err := r.byte()
	if err != nil {
		return err
	}
	switch tag {
	case anyUndefined, anyNull, anyFalse, anyTrue:
		return nil
	case anyInt:
		return r.int()
	case anyFloat32:
		return r.skip(4)
	case anyFloat64, anyBigInt:
		return r.skip(8)
	case anyString:
		_, err := r.string("Any string", p.lim.MaxStringBytes)
		return err
	case anyObject:
		n, err := r.count("number of Any object entries")
		if err != nil {
			return err
		}
		for range n {
			if _, err := r.string("Any object key", p.lim.MaxStringBytes); err != nil {
				return err
			}
			if err := p.any(depth + 1); err != nil {
				return err
			}
		}
		return nil
	case anyArray:
		n, err := r.count("number of Any array elements")
		if err != nil {
			return err
		}
		for range n {
			if err := p.any(depth + 1); err != nil {
				return err
			}
		}
		return nil
	case anyBytes:
		_, err := r.bytes("Any buffer", p.lim.MaxStringBytes)
		return err
	}
	r.pos = at
	return r.errf("unknown Any tag %d", tag)
}

func (p *parser) deleteSet() error {
	r := &p.r
	n, err := r.count("number of delete set clients")
	if err != nil {
		return err
	}
	seen := make(map[uint64]struct{}, min(n, 64))
	for range n {
		client, err := r.newClient(seen, "delete set lists client %d twice")
		if err != nil {
			return err
		}
		k, err := r.count("number of delete ranges")
		if err != nil {
			return err
		}
		for range k {
			at := r.pos
			clock, err := r.uint()
			if err != nil {
				return err
			}
			n, err := r.uint()
			if err != nil {
				return err
			}
			if clock+n > maxUint53 {
				r.pos = at
				return r.errf("delete range %d+%d exceeds 53 bits", clock, n)
			}
			if n > 0 {
				p.u.Deletes[client] = append(p.u.Deletes[client], Range{clock, n})
			}
		}
	}
	return nil
}

// ownDepsRemoved sorts and deduplicates the collected ids, dropping those this update creates.
func (p *parser) ownDepsRemoved() []ID {
	slices.SortFunc(p.deps, func(a, b ID) int {
		if a.Client != b.Client {
			return cmp.Compare(a.Client, b.Client)
		}
		return cmp.Compare(a.Clock, b.Clock)
	})
	out := p.deps[:0]
	for i, d := range p.deps {
		if i > 0 && d == p.deps[i-1] {
			continue
		}
		if p.creates(d) {
			continue
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil
	}
	return slices.Clip(out)
}

func (p *parser) creates(d ID) bool {
	rs := p.u.Structs[d.Client]
	i, _ := slices.BinarySearchFunc(rs, d.Clock, func(r Range, c uint64) int {
		if r.End() <= c {
			return -1
		}
		if r.Clock > c {
			return 1
		}
		return 0
	})
	return i < len(rs) && rs[i].Clock <= d.Clock && d.Clock < rs[i].End()
}
