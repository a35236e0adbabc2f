package awareness

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"
)

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("awareness: invalid update")

// DefaultMaxBytes is used when Validate is given maxBytes <= 0.
const DefaultMaxBytes = 64 << 10

// maxDepth bounds nesting inside one state; cursors and user records are shallow.
const maxDepth = 32

const maxUint53 = 1<<53 - 1

// Validate checks an awareness update: UTF-8 JSON of one object whose keys are canonical
// decimal client ids below 2^53, each present once, and whose values are objects or null.
// It returns the states by client id (null as the 4 bytes "null").
func Validate(update []byte, maxBytes int) (map[uint64]json.RawMessage, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if len(update) > maxBytes {
		return nil, fmt.Errorf("%w: %d bytes exceed the limit of %d", ErrInvalid, len(update), maxBytes)
	}
	// encoding/json would silently replace invalid UTF-8; browsers never send it.
	if !utf8.Valid(update) {
		return nil, fmt.Errorf("%w: not valid UTF-8", ErrInvalid)
	}
	dec := json.NewDecoder(bytes.NewReader(update))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("%w: not a JSON object", ErrInvalid)
	}
	states := map[uint64]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		key, _ := tok.(string)
		id, ok := clientID(key)
		if !ok {
			return nil, fmt.Errorf("%w: key %.40q is not a client id", ErrInvalid, key)
		}
		if _, dup := states[id]; dup {
			return nil, fmt.Errorf("%w: client %d listed twice", ErrInvalid, id)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%w: client %d: %v", ErrInvalid, id, err)
		}
		if string(v) != "null" && (v[0] != '{' || depth(v) > maxDepth) {
			return nil, fmt.Errorf("%w: client %d: state is not an object (or nests deeper than %d)", ErrInvalid, id, maxDepth)
		}
		states[id] = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("%w: data after the object", ErrInvalid)
	}
	return states, nil
}

// clientID parses the way JSON.stringify writes a numeric key: no sign, no leading zero.
func clientID(s string) (uint64, bool) {
	if s == "" || len(s) > 16 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	id, err := strconv.ParseUint(s, 10, 64)
	return id, err == nil && id <= maxUint53
}

// depth is the deepest array/object nesting of valid JSON v.
func depth(v []byte) int {
	d, deepest, inString := 0, 0, false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			d++
			deepest = max(deepest, d)
		case c == ']' || c == '}':
			d--
		}
	}
	return deepest
}

// Registry remembers the last awareness state of every client id per document, grouped by
// the socket that sent it. It is safe for concurrent use.
type Registry struct {
	// MaxBytes limits one update; zero means DefaultMaxBytes.
	MaxBytes int

	mu   sync.Mutex
	docs map[string]map[string]map[uint64]json.RawMessage // doc → socket → client → state
	sids map[string]map[string]struct{}                   // socket → docs it has states in
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{
		docs: map[string]map[string]map[uint64]json.RawMessage{},
		sids: map[string]map[string]struct{}{},
	}
}

// Apply validates update and records it as socket sid's latest states in docID. A state
// makes sid the owner of that client id (a reconnecting browser keeps its id under a new
// socket); null removes the id only if sid owns it, so no socket can erase another's cursor.
func (r *Registry) Apply(docID, sid string, update []byte) error {
	states, err := Validate(update, r.MaxBytes)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	doc := r.docs[docID]
	for id, st := range states {
		if string(st) == "null" {
			r.drop(docID, sid, id)
			continue
		}
		if doc == nil {
			doc = map[string]map[uint64]json.RawMessage{}
			r.docs[docID] = doc
		}
		for other, clients := range doc {
			if _, ok := clients[id]; ok && other != sid {
				r.drop(docID, other, id)
			}
		}
		mine := doc[sid]
		if mine == nil {
			mine = map[uint64]json.RawMessage{}
			doc[sid] = mine
			if r.sids[sid] == nil {
				r.sids[sid] = map[string]struct{}{}
			}
			r.sids[sid][docID] = struct{}{}
		}
		mine[id] = slices.Clone(st) // st aliases the caller's buffer
	}
	return nil
}

// drop forgets one client id of sid in docID, deleting maps that become empty.
func (r *Registry) drop(docID, sid string, id uint64) {
	doc := r.docs[docID]
	mine := doc[sid]
	if _, ok := mine[id]; !ok {
		return
	}
	delete(mine, id)
	if len(mine) == 0 {
		r.forget(docID, sid)
	}
}

// forget deletes sid's entry in docID and any maps that become empty.
func (r *Registry) forget(docID, sid string) {
	doc := r.docs[docID]
	delete(doc, sid)
	if len(doc) == 0 {
		delete(r.docs, docID)
	}
	delete(r.sids[sid], docID)
	if len(r.sids[sid]) == 0 {
		delete(r.sids, sid)
	}
}

// States returns one update with every live state of docID except exceptSID's, in client
// id order, or nil when there are none.
func (r *Registry) States(docID, exceptSID string) []byte {
	r.mu.Lock()
	all := map[uint64]json.RawMessage{}
	for sid, clients := range r.docs[docID] {
		if sid == exceptSID {
			continue
		}
		for id, st := range clients {
			all[id] = st // states are never mutated after Apply, so sharing is safe
		}
	}
	r.mu.Unlock()
	return encode(all)
}

// Remove forgets sid's states in docID and returns the update that removes its client
// ids ({"<id>":null,…}) for the room, or nil if it had none.
func (r *Registry) Remove(docID, sid string) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.remove(docID, sid)
}

func (r *Registry) remove(docID, sid string) []byte {
	clients := r.docs[docID][sid]
	if len(clients) == 0 {
		return nil
	}
	gone := make(map[uint64]json.RawMessage, len(clients))
	for id := range clients {
		gone[id] = json.RawMessage("null")
	}
	r.forget(docID, sid)
	return encode(gone)
}

// RemoveSocket forgets everything of sid (on disconnect) and returns the removal update
// for each document it had states in.
func (r *Registry) RemoveSocket(sid string) map[string][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.sids[sid]) == 0 {
		return nil
	}
	out := make(map[string][]byte, len(r.sids[sid]))
	for docID := range r.sids[sid] {
		if u := r.remove(docID, sid); u != nil {
			out[docID] = u
		}
	}
	return out
}

// encode writes states as one JSON object in ascending client id order, nil if empty.
func encode(states map[uint64]json.RawMessage) []byte {
	if len(states) == 0 {
		return nil
	}
	ids := make([]uint64, 0, len(states))
	size := 2
	for id, st := range states {
		ids = append(ids, id)
		size += len(st) + 20
	}
	slices.Sort(ids)
	b := make([]byte, 0, size)
	b = append(b, '{')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = strconv.AppendUint(b, id, 10)
		b = append(b, '"', ':')
		b = append(b, states[id]...)
	}
	return append(b, '}')
}
