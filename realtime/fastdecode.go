package realtime

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/zishang520/socket.io/parsers/socket/v3/parser"

	"github.com/quire/quire/internal/jsonscan"
)

// maxAckIDDigits bounds the ack ids taken here, well inside the library's
// own limit (it refuses 20 digits and more); longer ones go to the library.
const maxAckIDDigits = 15

// fastUpdate decodes the commonest text packet, a ydoc:document:update event in
// the default namespace with its update as a JSON array of integers,
// without the library's generic decoder: that copies every message whole
// for a debug log and boxes each byte of the update as a float64 (~13% of
// server CPU in the 1,000-docs load). It returns nil for any other packet
// and for anything it is not sure about; the library then decodes it, so
// what is accepted and what is refused stay the library's
// (TestFastUpdateAgreesWithLibrary, FuzzFastUpdate).
func fastUpdate(b []byte) *parser.Packet {
	if len(b) < 3 || b[0] != '0'+byte(parser.EVENT) {
		return nil
	}
	i := 1
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	var id *uint64
	if i > 1 {
		if i-1 > maxAckIDDigits {
			return nil
		}
		n, err := strconv.ParseUint(string(b[1:i]), 10, 64)
		if err != nil {
			return nil
		}
		id = &n
	}
	// The array must start with the event name exactly as clients write it
	// (no whitespace, no escapes), and end with the packet. What lies
	// between must then be one object and nothing else, which the object
	// decoding below checks: the packet is decoded once, not once per
	// nesting level (pprof: fastUpdate was ~10% of server CPU in bench S2).
	if !bytes.HasPrefix(b[i:], updatePrefix) || b[len(b)-1] != ']' {
		return nil // a namespace, another event, or not an array: the library decides
	}
	body := b[i+len(updatePrefix) : len(b)-1]
	if j := bytes.IndexFunc(body, notJSONSpace); j < 0 || body[j] != '{' {
		return nil
	}
	// Validated once, then walked without decoding: json.Unmarshal into a
	// map of raw values was ~8% of server CPU in bench S2.
	if !json.Valid(body) {
		return nil // not one object: the library decodes (and may refuse) it
	}
	payload := make(map[string]any, 4)
	for key, raw := range jsonscan.Members(body) {
		k, ok := plainString(key)
		if !ok {
			return nil // an escaped key: the library decodes it
		}
		if _, repeated := payload[k]; repeated {
			return nil // the library decodes (and may refuse) every value
		}
		if k == "update" && len(raw) > 0 && raw[0] == '[' {
			u, ok := byteArray(raw)
			if !ok {
				return nil // not all integers 0-255: the library decides
			}
			payload[k] = u
			continue
		}
		if s, ok := plainString(raw); ok {
			payload[k] = s
			continue
		}
		var v any
		if json.Unmarshal(raw, &v) != nil {
			return nil
		}
		payload[k] = v
	}
	name := evDocUpdate
	return &parser.Packet{Type: parser.EVENT, Nsp: "/", Data: []any{name, payload}, Id: id}
}

// updatePrefix opens the event array of a ydoc:document:update packet.
var updatePrefix = []byte(`["` + evDocUpdate + `",`)

func notJSONSpace(r rune) bool { return r != ' ' && r != '\t' && r != '\n' && r != '\r' }

// plainString reads a JSON string literal from valid JSON without
// escapes and of valid UTF-8: its text is its bytes, as encoding/json
// would decode it. ok is false for anything else.
func plainString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || bytes.IndexByte(raw, '\\') >= 0 || !utf8.Valid(raw) {
		return "", false
	}
	return string(raw[1 : len(raw)-1]), true
}

// byteArray reads a valid JSON array whose elements are all integers
// 0-255 (plain digits: valid JSON has no leading zeros). ok is false for
// anything else.
func byteArray(raw []byte) ([]byte, bool) {
	out := make([]byte, 0, len(raw)/3)
	n, digits := 0, 0
	for _, c := range raw[1:] {
		switch {
		case c >= '0' && c <= '9':
			n = n*10 + int(c-'0')
			digits++
			if n > 255 {
				return nil, false
			}
		case c == ',' || c == ']':
			if digits == 0 {
				if c == ']' && len(out) == 0 {
					return out, true // []
				}
				return nil, false
			}
			out = append(out, byte(n))
			n, digits = 0, 0
			if c == ']' {
				return out, true
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
		default:
			return nil, false // a sign, fraction, exponent, or not a number
		}
	}
	return nil, false
}
