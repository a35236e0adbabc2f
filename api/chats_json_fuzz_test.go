package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"
)

// FuzzChatJSON: a chat body (POST /api/v1/chats/new, …/{id}) that
// checkChat passes is parsed by parseChat without a panic; what it parses
// encodes back to valid JSON holding the same values as the body (a
// repeated key's last value, as JSON.parse), and merging it into a stored
// chat (mergeChat, an update) also encodes to valid JSON.
func FuzzChatJSON(f *testing.F) {
	for _, s := range []string{
		`{"title":"t","models":["m"],"history":{"currentId":"b","messages":{"a":{"id":"a","role":"user","content":"hi","childrenIds":["b"]},"b":{"id":"b","parentId":"a","role":"assistant","content":"yo"}}},"messages":[{"id":"a"},{"id":"b"}]}`,
		`{"title":"x","Title":"y","title":"z"}`,
		`{"history":null,"tags":[],"n":1e3,"s":"\u00e9\ud83d\ude00"}`,
		`{"history":{"messages":{"a":1}},"files":[{"type":"file"}]}`,
		` {"a": {"b": [1, 2, {"c": null}]}} `,
	} {
		f.Add([]byte(s))
	}
	stored, err := parseObject([]byte(`{"title":"old","history":{"currentId":"a","messages":{"a":{"id":"a","content":"old"}}},"keep":true}`))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !utf8.Valid(raw) {
			return // readJSON refuses the body before checkChat
		}
		if _, err := checkChat(raw, 1<<20); err != nil {
			return
		}
		obj, err := parseChat(raw)
		if err != nil {
			return
		}
		out := obj.encode()
		var want, got any
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatalf("%s: checkChat passed what json refuses: %v", raw, err)
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%s: encodes to invalid JSON %s: %v", raw, out, err)
		}
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("%s: encodes to %s, another value", raw, out)
		}
		cur, _ := parseObject(stored.encode())
		if merged := mergeChat(cur, obj).encode(); !json.Valid(merged) {
			t.Fatalf("%s: merged into a stored chat gives invalid JSON %s", raw, merged)
		}
	})
}

// FuzzParseObject: parseObject reads every object as a json.Decoder
// reading it token by token does (the implementation it replaced, kept
// here as decodeObjectTokens): the same keys in the same order with the same
// values, byte for byte. It refuses more: what is not one valid JSON value
// (the decoder stopped after the object and ignored the rest).
func FuzzParseObject(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":[1,{"c":"d"}],"a":2}`, ` { "k\u00e9" : "v" , "\"q" : null } `, `{}`, `[1]`, `{"a":1} x`,
		"{\"\xff\":1}", `{"a":"\ud800"}`, `{"a":1,}`, `{"x":{"y":{}}}`, `"s"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := parseObject(raw)
		want, werr := decodeObjectTokens(raw)
		if err != nil {
			if werr == nil && json.Valid(raw) {
				t.Fatalf("%q: refused (%v), the decoder read it", raw, err)
			}
			return
		}
		if werr != nil {
			t.Fatalf("%q: read, the decoder refused it: %v", raw, werr)
		}
		if !reflect.DeepEqual(got.keys, want.keys) {
			t.Fatalf("%q: keys %q, the decoder %q", raw, got.keys, want.keys)
		}
		for _, k := range want.keys {
			if string(got.vals[k]) != string(want.vals[k]) {
				t.Fatalf("%q: %q is %s, the decoder %s", raw, k, got.vals[k], want.vals[k])
			}
		}
	})
}

func decodeObjectTokens(b []byte) (*rawObject, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errNotObject
	}
	o := newRawObject()
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		o.set(k, v)
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return o, nil
}
