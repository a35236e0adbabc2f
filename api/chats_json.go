package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"unicode/utf8"

	"github.com/quire/quire/internal/jsonscan"
)

// rawObject is a JSON object whose values stay encoded and whose keys keep
// their order. Chats are edited through it: Open WebUI keeps a chat's keys
// in the order they were written, and the frontend reads some of that order
// back (the first messages of a conversation are found by walking
// history.messages), so an edit must not sort them.
type rawObject struct {
	keys []string
	vals map[string]json.RawMessage
}

var (
	errNotObject = errors.New("not a JSON object")
	errNotJSON   = errors.New("not valid JSON")
)

func newRawObject() *rawObject { return &rawObject{vals: map[string]json.RawMessage{}} }

// parseObject reads one JSON object; a repeated key keeps its first place
// and its last value, as JSON.parse does. The values are slices of b (b
// must not change afterwards), each capped so that an append copies: one
// validation and a skip over the members, where a json.Decoder copied
// every value and scanned it again (30% of the CPU of saving a long chat,
// BenchmarkChatSave).
func parseObject(b []byte) (*rawObject, error) {
	if !json.Valid(b) {
		return nil, errNotJSON
	}
	if b = bytes.TrimLeft(b, " \t\r\n"); len(b) == 0 || b[0] != '{' {
		return nil, errNotObject
	}
	o := newRawObject()
	for lit, v := range jsonscan.Members(b) {
		k, err := objectKey(lit)
		if err != nil {
			return nil, err
		}
		o.set(k, json.RawMessage(v[:len(v):len(v)]))
	}
	return o, nil
}

// objectKey decodes a member's key from the string literal it is written
// as: the bytes between the quotes when there is nothing to decode.
// (Invalid UTF-8 decodes to U+FFFD, as encoding/json does.)
func objectKey(lit []byte) (string, error) {
	if bytes.IndexByte(lit, '\\') < 0 && utf8.Valid(lit) {
		return string(lit[1 : len(lit)-1]), nil
	}
	var k string
	err := json.Unmarshal(lit, &k)
	return k, err
}

// objectOrNew parses b, or starts an empty object when b is absent or not
// an object (a stored chat written before a field existed).
func objectOrNew(b []byte) *rawObject {
	if o, err := parseObject(b); err == nil {
		return o
	}
	return newRawObject()
}

func (o *rawObject) get(k string) (json.RawMessage, bool) {
	v, ok := o.vals[k]
	return v, ok
}

// set replaces k's value in place, or appends k.
func (o *rawObject) set(k string, v json.RawMessage) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

// setValue sets k to v encoded (strings, numbers, bools, nil, slices and
// maps of them; setObject and encodeList for the others).
func (o *rawObject) setValue(k string, v any) {
	o.set(k, mustJSON(v))
}

// deleteAll removes the keys in drop, in one pass over the keys (one
// scan per key is n² when many go).
func (o *rawObject) deleteAll(drop map[string]bool) {
	o.keys = slices.DeleteFunc(o.keys, func(k string) bool { return drop[k] })
	for k := range drop {
		delete(o.vals, k)
	}
}

// object returns k's value as an object, or an empty one.
func (o *rawObject) object(k string) *rawObject {
	v, _ := o.get(k)
	return objectOrNew(v)
}

// str returns k's value when it is a string.
func (o *rawObject) str(k string) (string, bool) {
	var s string
	v, ok := o.get(k)
	return s, ok && json.Unmarshal(v, &s) == nil && v[0] == '"'
}

// encode writes o as JSON: its values as they were read (valid JSON,
// whitespace and all), no re-encoding, which on a chat of megabytes costs
// more than everything else an edit does.
func (o *rawObject) encode() json.RawMessage {
	n := 2
	for _, k := range o.keys {
		n += len(k) + len(o.vals[k]) + 4
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	for i, k := range o.keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, mustJSON(k)...)
		b = append(b, ':')
		b = append(b, o.vals[k]...)
	}
	return append(b, '}')
}

// setObject sets k to v encoded.
func (o *rawObject) setObject(k string, v *rawObject) { o.set(k, v.encode()) }

// encodeList writes a JSON array of values as they are.
func encodeList(vals []json.RawMessage) json.RawMessage {
	b := []byte{'['}
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, v...)
	}
	return append(b, ']')
}

// mustJSON encodes values that always encode (strings, bools, numbers,
// slices and maps of them, rawObjects), without HTML escaping; anything
// else would be null.
func mustJSON(v any) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return json.RawMessage("null")
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}
