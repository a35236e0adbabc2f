package realtime

import (
	"encoding/json"
	"strconv"

	"github.com/zishang520/socket.io/v3/pkg/types"

	"github.com/quire/quire/internal/docid"
	"github.com/quire/quire/internal/rowid"
)

// fields is a decoded event payload: a JSON object.
type fields map[string]any

// asFields returns the payload as an object, or false.
func asFields(v any) (fields, bool) {
	m, ok := v.(map[string]any)
	return m, ok
}

// str returns the string field key ("" and false when absent or not a string).
func (f fields) str(key string) (string, bool) {
	s, ok := f[key].(string)
	return s, ok
}

// maxNameLen bounds names taken from payloads that name no row: an
// emitted event, a user's display name or colour.
const maxNameLen = 200

// validID reports whether an id from a payload can name a stored row, by
// the rule REST applies too (rowid.Valid).
func validID(id string) bool { return rowid.Valid(id) }

// documentID reads and normalises document_id (docid.Parse): "note_<id>"
// becomes "note:<id>"; anything but a valid note document id is refused.
func (f fields) documentID() (docID, noteID string, ok bool) {
	id, ok := f.str("document_id")
	if !ok {
		return "", "", false
	}
	return docid.Parse(id)
}

// bytesField reads a Yjs or awareness payload: a JSON array of integers
// 0–255, or a binary attachment. present is false when the key is absent;
// ok is false when it is present but malformed.
func (f fields) bytesField(key string) (b []byte, present, ok bool) {
	v, present := f[key]
	if !present || v == nil {
		return nil, false, true
	}
	switch v := v.(type) {
	case []any:
		b := make([]byte, len(v))
		for i, n := range v {
			x, isNum := n.(float64)
			if !isNum || x < 0 || x > 255 || x != float64(int(x)) {
				return nil, true, false
			}
			b[i] = byte(x)
		}
		return b, true, true
	case []byte: // fastUpdate's decoding
		return v, true, true
	case types.BufferInterface:
		return v.Bytes(), true, true
	}
	return nil, true, false
}

// byteText holds "0,".."255," : each byte's decimal text and a comma.
var byteText [256]string

func init() {
	for i := range byteText {
		byteText[i] = strconv.Itoa(i) + ","
	}
}

// appendInts appends b as a JSON array of numbers, the wire form of Yjs
// bytes, without reflection.
func appendInts(dst, b []byte) []byte {
	dst = append(dst, '[')
	for _, c := range b {
		dst = append(dst, byteText[c]...)
	}
	if len(b) > 0 {
		dst = dst[:len(dst)-1] // the last comma
	}
	return append(dst, ']')
}

// appendString appends s as a JSON string.
func appendString(dst []byte, s string) []byte {
	q, _ := json.Marshal(s) // cannot fail for a string
	return append(dst, q...)
}

// object builds a JSON object from pre-encoded values, in order.
type object struct{ buf []byte }

func newObject(sizeHint int) *object {
	o := &object{buf: make([]byte, 0, sizeHint+64)}
	o.buf = append(o.buf, '{')
	return o
}

func (o *object) key(k string) {
	if len(o.buf) > 1 {
		o.buf = append(o.buf, ',')
	}
	o.buf = appendString(o.buf, k)
	o.buf = append(o.buf, ':')
}

func (o *object) str(k, v string) *object { o.key(k); o.buf = appendString(o.buf, v); return o }
func (o *object) ints(k string, b []byte) *object {
	o.key(k)
	o.buf = appendInts(o.buf, b)
	return o
}
func (o *object) raw(k string, v []byte) *object { o.key(k); o.buf = append(o.buf, v...); return o }

// done returns the object as a payload the Socket.IO encoder writes verbatim.
func (o *object) done() preEncoded { return append(o.buf, '}') }
