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

// The state packet is what Emit would write for the same payload.
func TestStatePacketMatchesEmit(t *testing.T) {
	state := []byte("[1,2,255]")
	o := newObject(0).str("document_id", "note:ü\"x").raw("state", state)
	o.key("sessions")
	o.buf = append(o.buf, `["a","b\""]`...)
	want := rawParser{parser.NewParser()}.NewEncoder().Encode(&parser.Packet{
		Type: parser.EVENT, Nsp: "/", Data: []any{evDocState, o.done()},
	})[0].String()
	sessions := []string{"a", "b\""}
	size := statePacketSize("note:ü\"x", state, sessions)
	if got := appendStatePacket(make([]byte, 0, size), "note:ü\"x", state, sessions); string(got) != want || cap(got) != size {
		t.Errorf("state packet %q (cap %d, want %d), want %q", got, cap(got), size, want)
	}
	if got := string(appendStatePacket(nil, "note:x", []byte("[0,0]"), nil)); got != `2["ydoc:document:state",{"document_id":"note:x","state":[0,0],"sessions":[]}]` {
		t.Errorf("empty state packet %q", got)
	}
}

func TestEventPacketMatchesEncoder(t *testing.T) {
	payload := newObject(0).str("document_id", "note:x").ints("update", []byte{1, 2}).done()
	want := rawParser{parser.NewParser()}.NewEncoder().Encode(&parser.Packet{
		Type: parser.EVENT, Nsp: "/", Data: []any{evDocUpdate, payload},
	})[0].String()
	if got := string(appendEventPacket(nil, evDocUpdate, payload)); got != want {
		t.Errorf("event packet %q, want %q", got, want)
	}
}
