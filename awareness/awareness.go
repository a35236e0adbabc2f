package awareness

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/quire/quire/internal/jsondepth"
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
		if string(v) != "null" && (v[0] != '{' || jsondepth.Max(v) > maxDepth) {
			return nil, fmt.Errorf("%w: client %d: state is not an object (or nests deeper than %d)", ErrInvalid, id, maxDepth)
		}
		states[id] = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	// Anything but the end of input after the object, even bytes that are
	// not JSON at all, is refused: the update is relayed as sent.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
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

// MaxClientsPerSocket bounds the client ids one socket may hold in one document. A
// browser tab has one Y.Doc, so one id; a few more allow for odd clients.
const MaxClientsPerSocket = 8

// ErrTooManyClients is returned when a socket claims more than MaxClientsPerSocket ids.
var ErrTooManyClients = errors.New("awareness: too many client ids for one socket")

// Registry remembers the last awareness state of every client id per document, grouped by
// the socket that sent it. It is safe for concurrent use.
type Registry struct {
	// MaxBytes limits one update; zero means DefaultMaxBytes.
	MaxBytes int

	mu   sync.Mutex
	docs map[string]*document
	sids map[string]map[string]struct{} // socket → documents it has states in
}

type document struct {
	states map[string]map[uint64]json.RawMessage // socket → client id → state
	owner  map[uint64]string                     // client id → socket
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{docs: map[string]*document{}, sids: map[string]map[string]struct{}{}}
}

// Apply validates update and records it as socket sid's latest states in docID. A state
// makes sid the owner of that client id (a reconnecting browser keeps its id under a new
// socket); null removes the id only if sid owns it, so no socket can erase another's cursor.
// Nothing is recorded when an error is returned.
func (r *Registry) Apply(docID, sid string, update []byte) error {
	states, err := Validate(update, r.MaxBytes)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	doc := r.docs[docID]
	if doc == nil {
		doc = &document{states: map[string]map[uint64]json.RawMessage{}, owner: map[uint64]string{}}
	}
	mine := doc.states[sid]
	added := 0
	for id, st := range states {
		if _, ok := mine[id]; !ok && string(st) != "null" {
			added++
		}
	}
	if len(mine)+added > MaxClientsPerSocket {
		return ErrTooManyClients
	}
	for id, st := range states {
		owner, owned := doc.owner[id]
		if string(st) == "null" {
			if owned && owner == sid {
				delete(mine, id)
				delete(doc.owner, id)
			}
			continue
		}
		if owned && owner != sid {
			delete(doc.states[owner], id)
			r.tidy(doc, docID, owner)
		}
		if mine == nil {
			mine = map[uint64]json.RawMessage{}
			doc.states[sid] = mine
		}
		mine[id] = st // Decode copied it out of the caller's buffer
		doc.owner[id] = sid
	}
	if len(mine) > 0 {
		if r.sids[sid] == nil {
			r.sids[sid] = map[string]struct{}{}
		}
		r.sids[sid][docID] = struct{}{}
	}
	r.tidy(doc, docID, sid)
	if len(doc.states) > 0 {
		r.docs[docID] = doc
	}
	return nil
}

// tidy deletes sid's entry in doc if it holds no states, and doc itself once it is empty.
func (r *Registry) tidy(doc *document, docID, sid string) {
	if len(doc.states[sid]) > 0 {
		return
	}
	delete(doc.states, sid)
	if docs := r.sids[sid]; docs != nil {
		delete(docs, docID)
		if len(docs) == 0 {
			delete(r.sids, sid)
		}
	}
	if len(doc.states) == 0 {
		delete(r.docs, docID)
	}
}

// States returns one update with every live state of docID except exceptSID's, in client
// id order, or nil when there are none.
func (r *Registry) States(docID, exceptSID string) []byte {
	r.mu.Lock()
	all := map[uint64]json.RawMessage{}
	if doc := r.docs[docID]; doc != nil {
		for sid, clients := range doc.states {
			if sid == exceptSID {
				continue
			}
			for id, st := range clients {
				all[id] = st // states are replaced, never mutated, so sharing is safe
			}
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
	doc := r.docs[docID]
	if doc == nil || len(doc.states[sid]) == 0 {
		return nil
	}
	gone := make(map[uint64]json.RawMessage, len(doc.states[sid]))
	for id := range doc.states[sid] {
		gone[id] = json.RawMessage("null")
		delete(doc.owner, id)
	}
	delete(doc.states, sid)
	r.tidy(doc, docID, sid)
	return encode(gone)
}

// RemoveSocket forgets everything of sid (on disconnect) and returns the removal update
// for each document it had states in, or nil.
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

// size reports how many documents and sockets the registry tracks (for tests).
func (r *Registry) size() (docs, sockets int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.docs), len(r.sids)
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
