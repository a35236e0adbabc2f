package realtime

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/v3/pkg/types"
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

// The JSON state packet is what Emit would write for the same payload.
func TestStatePacketMatchesEmit(t *testing.T) {
	update := []byte{1, 2, 255}
	o := newObject(0).str("document_id", "note:ü\"x").ints("state", update)
	o.key("sessions")
	o.buf = append(o.buf, `["a","b\""]`...)
	want := rawParser{parser.NewParser()}.NewEncoder().Encode(&parser.Packet{
		Type: parser.EVENT, Nsp: "/", Data: []any{evDocState, o.done()},
	})[0].String()
	sessions := []string{"a", "b\""}
	size := statePacketSize("note:ü\"x", update, false, sessions)
	if got := appendStatePacket(make([]byte, 0, size), "note:ü\"x", update, false, sessions); string(got) != want || cap(got) != size {
		t.Errorf("state packet %q (cap %d, want %d), want %q", got, cap(got), size, want)
	}
	if got := string(appendStatePacket(nil, "note:x", []byte{0, 0}, false, nil)); got != `2["ydoc:document:state",{"document_id":"note:x","state":[0,0],"sessions":[]}]` {
		t.Errorf("empty state packet %q", got)
	}
}

// The binary state packet's header and its attachment decode, with the
// library's decoder (the same rules as socket.io-client's), to the state
// bytes and the same fields as the JSON form.
func TestBinaryStatePacketDecodes(t *testing.T) {
	update := make([]byte, binaryStateMin)
	for i := range update {
		update[i] = byte(i * 7)
	}
	sessions := []string{"a", "b\""}
	size := statePacketSize("note:ü\"x", update, true, sessions)
	header := appendStatePacket(make([]byte, 0, size), "note:ü\"x", update, true, sessions)
	if cap(header) != size {
		t.Errorf("header grew past its size bound: cap %d, want %d", cap(header), size)
	}
	dec := parser.NewParser().NewDecoder()
	var got *parser.Packet
	_ = dec.On("decoded", func(a ...any) { got = a[0].(*parser.Packet) })
	if err := dec.Add(types.NewStringBuffer(header).String()); err != nil {
		t.Fatal(err)
	}
	if got != nil {
		t.Fatal("decoded before its attachment arrived")
	}
	if err := dec.Add(types.NewBytesBuffer(update)); err != nil {
		t.Fatal(err)
	}
	if got == nil || got.Type != parser.BINARY_EVENT {
		t.Fatalf("decoded %+v", got)
	}
	data := got.Data.([]any)
	f, _ := asFields(data[1])
	if data[0] != evDocState || f["document_id"] != "note:ü\"x" {
		t.Fatalf("decoded %v", data)
	}
	st, present, ok := f.bytesField("state")
	if !present || !ok || !bytes.Equal(st, update) {
		t.Fatalf("state %v (present %v, ok %v)", st, present, ok)
	}
	if s, _ := json.Marshal(f["sessions"]); string(s) != `["a","b\""]` {
		t.Fatalf("sessions %s", s)
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
