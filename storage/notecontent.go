package storage

import (
	"bytes"
	"encoding/json"
	"errors"
)

// errDataNotObject: a note's data is not a JSON object (nor null), so a
// rendering has nowhere to go; the note is left as it is.
var errDataNotObject = errors.New("storage: note data is not a JSON object")

// withContent is data with its "content" member set to content and every
// other member kept byte for byte. content must be valid JSON.
//
// Renders call it for every note they store. It used to decode data into a
// map and marshal it back, which decoded the old content (the bulk of a
// note's data: its md, html and json) and re-encoded the new one, escaping
// its HTML again; now data is validated once and its other members are
// copied as they are (bench S2: the SELECT, this merge and the UPDATE were
// ~6% of server CPU).
func withContent(data, content json.RawMessage) (json.RawMessage, error) {
	if len(data) == 0 || bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return append(append([]byte(`{"content":`), content...), '}'), nil
	}
	data = bytes.TrimLeft(data, " \t\r\n")
	if len(data) == 0 || data[0] != '{' || !json.Valid(data) {
		return nil, errDataNotObject
	}
	out := make([]byte, 0, len(data)+len(content)+12)
	out = append(out, '{')
	for key, member := range objectMembers(data) {
		if isContentKey(key) {
			continue
		}
		out = append(out, member...)
		out = append(out, ',')
	}
	out = append(out, `"content":`...)
	out = append(out, content...)
	return append(out, '}'), nil
}

// isContentKey reports whether a member's key (a JSON string literal)
// is "content", however it is escaped.
func isContentKey(key []byte) bool {
	if bytes.IndexByte(key, '\\') < 0 {
		return string(key) == `"content"`
	}
	var k string
	return json.Unmarshal(key, &k) == nil && k == "content"
}

// objectMembers yields each member of a valid JSON object: its key (the
// string literal) and the whole member (key, colon and value, without
// surrounding whitespace).
func objectMembers(obj []byte) func(yield func(key, member []byte) bool) {
	return func(yield func(key, member []byte) bool) {
		i := 1 // past '{'
		for {
			i = skipSpace(obj, i)
			if i >= len(obj) || obj[i] != '"' {
				return // '}' of an empty object, or the end
			}
			start := i
			i = stringEnd(obj, i)
			key := obj[start:i]
			i = skipSpace(obj, i) + 1 // past ':'
			i = valueEnd(obj, skipSpace(obj, i))
			if !yield(key, obj[start:i]) {
				return
			}
			i = skipSpace(obj, i)
			if i >= len(obj) || obj[i] != ',' {
				return
			}
			i++
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// stringEnd returns the index just past the string literal starting at i.
func stringEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// valueEnd returns the index just past the valid JSON value starting at i.
func valueEnd(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch c := b[i]; {
		case c == '"':
			i = stringEnd(b, i)
			if depth == 0 {
				return i
			}
			continue
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			if depth == 0 {
				return i // the end of the enclosing object
			}
			depth--
			if depth == 0 {
				return i + 1
			}
		case depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n'):
			return i // the end of a number, true, false or null
		}
		i++
	}
	return i
}
