package api

import (
	"encoding/json"
	"reflect"
	"testing"
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
