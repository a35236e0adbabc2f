package awareness

import (
	"bytes"
	"container/list"
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

// DefaultMaxDormant is used when Registry.MaxDormant is zero.
const DefaultMaxDormant = 1 << 16

// ErrTooManyClients is returned when a socket claims more than MaxClientsPerSocket ids.
var ErrTooManyClients = errors.New("awareness: too many client ids for one socket")

// ErrForeignClient is returned when an update names a client id another account owns.
var ErrForeignClient = errors.New("awareness: client id belongs to another account")

// Registry remembers the last awareness state of every client id per document, grouped by
// the socket that sent it, and which account owns each client id. It is safe for
// concurrent use.
type Registry struct {
	// MaxBytes limits one update; zero means DefaultMaxBytes.
	MaxBytes int
	// MaxDormant bounds the client ids, over all documents, whose state was removed but
	// whose owner is remembered (so that account, reconnecting, takes its id back and no
	// other can); past it the longest dormant are forgotten. Zero means DefaultMaxDormant.
	MaxDormant int

	mu      sync.Mutex
	docs    map[string]*document
	sids    map[string]map[string]struct{} // socket → documents it has states in
	dormant list.List                      // of *client, longest dormant first
}

type document struct {
	states  map[string]map[uint64]json.RawMessage // socket → client id → live state
	clients map[uint64]*client                    // every client id owned, live or dormant
}

// client is one client id of a document: the account that first sent it, and the socket
// holding its live state ("" when dormant: removed, but still that account's).
type client struct {
	user  string
	sid   string
	docID string
	id    uint64
	elem  *list.Element // in Registry.dormant while dormant
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{docs: map[string]*document{}, sids: map[string]map[string]struct{}{}}
}

// isRemoval: null, or the empty object (the form removals are relayed in), removes a state.
func isRemoval(st json.RawMessage) bool {
	if string(st) == "null" {
		return true
	}
	return len(bytes.Trim(st[1:len(st)-1], " \t\r\n")) == 0
}

// Apply validates update and records it as socket sid's (of account user) latest states in
// docID. A client id belongs to the account that first sent a state for it: an update
// naming an id another account owns is refused whole (ErrForeignClient); the owner, from
// any of its sockets, may set or remove it. A removal (null or {}) keeps the ownership.
// Apply returns exactly what it changed, in the form relayed to the room (removals as {},
// client id order), or nil when nothing changed. Nothing is recorded when an error is
// returned.
func (r *Registry) Apply(docID, sid, user string, update []byte) ([]byte, error) {
	states, err := Validate(update, r.MaxBytes)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	doc := r.docs[docID]
	if doc == nil {
		doc = &document{states: map[string]map[uint64]json.RawMessage{}, clients: map[uint64]*client{}}
	}
	mine := doc.states[sid]
	added := 0
	for id, st := range states {
		if c := doc.clients[id]; c != nil && c.user != user {
			return nil, ErrForeignClient
		}
		if _, ok := mine[id]; !ok && !isRemoval(st) {
			added++
		}
	}
	if len(mine)+added > MaxClientsPerSocket {
		return nil, ErrTooManyClients
	}
	applied := make(map[uint64]json.RawMessage, len(states))
	for id, st := range states {
		c := doc.clients[id]
		if isRemoval(st) {
			if c != nil && c.sid != "" {
				r.release(doc, docID, id, c)
				applied[id] = emptyState
			}
			continue
		}
		if c == nil {
			c = &client{user: user, docID: docID, id: id}
			doc.clients[id] = c
		} else if c.sid == "" {
			r.dormant.Remove(c.elem)
			c.elem = nil
		} else if c.sid != sid { // the same account's other (older) socket
			delete(doc.states[c.sid], id)
			r.tidy(doc, docID, c.sid)
		}
		c.sid = sid
		if mine == nil {
			mine = map[uint64]json.RawMessage{}
			doc.states[sid] = mine
		}
		mine[id] = st // Decode copied it out of the caller's buffer
		applied[id] = st
	}
	if len(mine) > 0 {
		if r.sids[sid] == nil {
			r.sids[sid] = map[string]struct{}{}
		}
		r.sids[sid][docID] = struct{}{}
	}
	r.tidy(doc, docID, sid)
	if len(doc.clients) > 0 {
		r.docs[docID] = doc
	}
	r.trimDormant()
	return encode(applied), nil
}

var emptyState = json.RawMessage("{}")

// release makes live client id of doc dormant: its state is gone, its owner stays.
func (r *Registry) release(doc *document, docID string, id uint64, c *client) {
	delete(doc.states[c.sid], id)
	r.tidy(doc, docID, c.sid)
	r.makeDormant(c)
}

func (r *Registry) makeDormant(c *client) {
	c.sid = ""
	c.elem = r.dormant.PushBack(c)
}

// trimDormant forgets the longest dormant owners past MaxDormant.
func (r *Registry) trimDormant() {
	limit := r.MaxDormant
	if limit <= 0 {
		limit = DefaultMaxDormant
	}
	for r.dormant.Len() > limit {
		c := r.dormant.Remove(r.dormant.Front()).(*client)
		if doc := r.docs[c.docID]; doc != nil {
			delete(doc.clients, c.id)
			if len(doc.clients) == 0 {
				delete(r.docs, c.docID)
			}
		}
	}
}

// tidy deletes sid's entry in doc if it holds no states, and doc itself once it has no
// client ids, live or dormant.
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
	if len(doc.clients) == 0 {
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

// Remove forgets sid's states in docID and returns the update that empties its client
// ids ({"<id>":{},…}) for the room, or nil if it had none. The ids stay their account's.
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
		gone[id] = emptyState
		if c := doc.clients[id]; c != nil {
			r.makeDormant(c)
		}
	}
	delete(doc.states, sid)
	r.tidy(doc, docID, sid)
	r.trimDormant()
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
