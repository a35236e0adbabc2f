package storage

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// withContentByMap is the merge withContent replaced: decode into a map,
// set the key, marshal. withContent must agree with it on every input
// (same refusals; equal JSON objects otherwise).
func withContentByMap(data, content json.RawMessage) (json.RawMessage, error) {
	m := map[string]json.RawMessage{}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, err
		}
	}
	if m == nil {
		m = map[string]json.RawMessage{}
	}
	m["content"] = content
	return json.Marshal(m)
}

func checkWithContent(t *testing.T, data, content string) {
	t.Helper()
	want, wantErr := withContentByMap(json.RawMessage(data), json.RawMessage(content))
	got, err := withContent(json.RawMessage(data), json.RawMessage(content))
	if wantErr != nil {
		require.ErrorIs(t, err, errDataNotObject, "data %q", data)
		return
	}
	require.NoError(t, err, "data %q", data)
	var w, g map[string]any
	require.NoError(t, json.Unmarshal(want, &w))
	require.NoError(t, json.Unmarshal(got, &g), "data %q gave %s", data, got)
	require.Equal(t, w, g, "data %q", data)
}

func TestWithContent(t *testing.T) {
	content := `{"md":"a <b> & c","html":"\u003cp\u003ea\u003c/p\u003e","json":{"type":"doc","content":[1,2.5e3,true,null]}}`
	for _, data := range []string{
		``, `null`, ` null `, `{}`, ` { } `, `{"content":1}`, `{"content":{"md":"old"},"files":[1],"x":{"y":true}}`,
		`{"a":1,"content":"x","b":[{"content":2}],"content":{"z":[]}}`, `{"\u0063ontent":1,"c":"\"}\\"}`,
		`{"n":-1.5e+10,"t":true,"f":false,"z":null,"s":"a,b}]"}`, "{\n\t\"a\" : [ 1 , 2 ] ,\r\n \"b\" : { } \n}",
		`["not","an","object"]`, `"s"`, `1`, `{`, `{"a":}`, `{"a":1}x`, `   `, `{"a":1,}`, `nul`,
	} {
		checkWithContent(t, data, content)
	}
}

// FuzzWithContent: withContent agrees with the map merge on any data.
func FuzzWithContent(f *testing.F) {
	for _, s := range []string{`{}`, `null`, `{"content":1,"a":[{"b":"}"}]}`, `[1]`, `{"a":"\\"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		checkWithContent(t, data, `{"md":"x"}`)
	})
}

// BenchmarkWithContent: one render's merge into a note's data holding the
// previous rendering of about the same size.
func BenchmarkWithContent(b *testing.B) {
	for _, kb := range []int{1, 16} {
		text := strings.Repeat("some <b>text</b> & more ", kb*1024/24)
		c, err := json.Marshal(map[string]any{"md": text, "html": "<p>" + text + "</p>", "json": map[string]any{"type": "doc", "text": text}})
		require.NoError(b, err)
		data, err := withContentByMap(json.RawMessage(`{"files":[],"x":1}`), c)
		require.NoError(b, err)
		for name, merge := range map[string]func(data, content json.RawMessage) (json.RawMessage, error){"splice": withContent, "map": withContentByMap} {
			b.Run(fmt.Sprintf("%dKB/%s", kb, name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := merge(data, c); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
