package realtime

import (
	"encoding/json"
	"testing"

	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
)

func TestAppendInts(t *testing.T) {
	for _, b := range [][]byte{nil, {0}, {0, 9, 10, 99, 100, 255}} {
		var want []int
		for _, c := range b {
			want = append(want, int(c))
		}
		w, _ := json.Marshal(want)
		if want == nil {
			w = []byte("[]")
		}
		if got := appendInts(nil, b); string(got) != string(w) {
			t.Errorf("appendInts(%v) = %s, want %s", b, got, w)
		}
	}
}

// The raw encoder writes exactly what the library's encoder writes.
func TestRawEncoderMatchesLibrary(t *testing.T) {
	payload := newObject(0).str("document_id", "note:ü\"x").ints("update", []byte{1, 200}).done()
	var v any
	if err := json.Unmarshal(payload, &v); err != nil {
		t.Fatal(err)
	}
	id := uint64(7)
	for _, p := range []parser.Packet{
		{Type: parser.EVENT, Nsp: "/"},
		{Type: parser.EVENT, Nsp: "/admin", Id: &id},
	} {
		lib, raw := p, p
		lib.Data = []any{"ev", v}
		raw.Data = []any{"ev", payload}
		want := parser.NewEncoder().Encode(&lib)[0].String()
		got := rawParser{parser.NewParser()}.NewEncoder().Encode(&raw)[0].String()
		if got != want {
			t.Errorf("raw encoder %q, library %q", got, want)
		}
	}
}
