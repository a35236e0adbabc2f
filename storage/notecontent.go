package storage

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/quire/quire/internal/jsonscan"
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
	for key, value := range jsonscan.Members(data) {
		if isContentKey(key) {
			continue
		}
		out = append(out, key...)
		out = append(out, ':')
		out = append(out, value...)
		out = append(out, ',')
	}
	out = append(out, `"content":`...)
	out = append(out, content...)
	return append(out, '}'), nil
}

// hasContent reports whether data's "content" is content byte for byte,
// so that a rendering that changes nothing (an edit undone before its
// render) is not written and does not move updated_at. Renderings are
// deterministic: equal documents give equal bytes.
func hasContent(data, content json.RawMessage) bool {
	data = bytes.TrimLeft(data, " \t\r\n")
	if len(data) == 0 || data[0] != '{' {
		return false
	}
	found := false
	for key, value := range jsonscan.Members(data) {
		if isContentKey(key) {
			if !bytes.Equal(value, content) {
				return false
			}
			found = true
		}
	}
	return found
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
