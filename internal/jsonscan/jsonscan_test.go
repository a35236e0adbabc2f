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
