package jsonscan

import (
	"bytes"
	"encoding/json"
	"testing"
)

// checkMembers: on a valid JSON object, Members yields what encoding/json
// decodes (each key once, the last value of a repeated key winning); on
// anything else (a JSON array, invalid bytes) it ends without panicking.
func checkMembers(t *testing.T, s string) {
	t.Helper()
	var want map[string]json.RawMessage
	object := json.Unmarshal([]byte(s), &want) == nil && want != nil
	got := map[string]json.RawMessage{}
	for k, v := range Members([]byte(s)) {
		if !object {
			continue // garbage, but it must end without panicking
		}
		var key string
		if err := json.Unmarshal(k, &key); err != nil {
			t.Fatalf("%q: key %q is not a string literal", s, k)
		}
		if !json.Valid(v) {
			t.Fatalf("%q: value %q of %q is not JSON", s, v, k)
		}
		got[key] = v
	}
	if !object {
		return
	}
	if len(got) != len(want) {
		t.Fatalf("%q: members %v, want %v", s, got, want)
	}
	for k, w := range want {
		if !bytes.Equal(got[k], bytes.TrimSpace(w)) {
			t.Fatalf("%q: %q = %q, want %q", s, k, got[k], w)
		}
	}
}

var corpus = []string{
	`{}`, ` { } `, `{"a":1}`, `{"a":-1.5e+10,"b":true,"c":false,"d":null,"e":"x,}]"}`,
	"{\n\t\"a\" : [ 1 , {\"b\":[]} ] ,\r\n \"c\\\"d\" : { } \n}", `{"a":1,"a":2}`, `{"\u0063":"\\"}`,
	`[1]`, `"s"`, `{`, `{"a":}`, `{"a"`, `{"a":"`, ``, `{"a":1}x`,
}

func TestMembers(t *testing.T) {
	t.Parallel()
	for _, s := range corpus {
		checkMembers(t, s)
	}
}

func FuzzMembers(f *testing.F) {
	for _, s := range corpus {
		f.Add(s)
	}
	f.Fuzz(checkMembers)
}

// stringEndBytewise is stringEnd as it was, byte by byte: a backslash
// skips the next byte, a quote ends the literal.
func stringEndBytewise(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// FuzzStringEnd: stringEnd, jumping from quote to quote, ends every
// literal where reading it byte by byte does, on any bytes.
func FuzzStringEnd(f *testing.F) {
	for _, s := range []string{`"a"`, `"a\"b"`, `"\\"x"`, `"\\\"x"`, `"\`, `"ab`, `""`, `"\\\\"`, `"\u0022"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for i := range b {
			if b[i] != '"' {
				continue
			}
			if got, want := stringEnd(b, i), stringEndBytewise(b, i); got != want {
				t.Fatalf("%q from %d: %d, want %d", b, i, got, want)
			}
		}
	})
}
