package realtime

import (
	"encoding/json"
	"testing"

	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
)

// The library encodes a broadcast packet once per room (adapter.Broadcast);
// these compare the cost of that one encode for a 4 KB update given as the
// library's usual []any/map payload versus our pre-encoded json.RawMessage.
//
//	go test ./realtime -run '^$' -bench Encode -benchmem
func BenchmarkEncodeUpdate(b *testing.B) {
	update := make([]byte, 4096)
	for i := range update {
		update[i] = byte(i * 7)
	}
	enc := parser.NewEncoder()
	b.Run("map", func(b *testing.B) {
		for b.Loop() {
			ints := make([]int, len(update))
			for i, c := range update {
				ints[i] = int(c)
			}
			enc.Encode(&parser.Packet{Type: parser.EVENT, Data: []any{evDocUpdate, map[string]any{
				"document_id": "note:x", "user_id": "u", "update": ints, "socket_id": "s",
			}}})
		}
	})
	b.Run("raw", func(b *testing.B) {
		for b.Loop() {
			p := newObject(len(update)*4).str("document_id", "note:x").str("user_id", "u").
				ints("update", update).str("socket_id", "s").done()
			enc.Encode(&parser.Packet{Type: parser.EVENT, Data: []any{evDocUpdate, json.RawMessage(p)}})
		}
	})
	b.Run("preEncoded", func(b *testing.B) {
		raw := rawParser{parser.NewParser()}.NewEncoder()
		for b.Loop() {
			p := newObject(len(update)*4).str("document_id", "note:x").str("user_id", "u").
				ints("update", update).str("socket_id", "s").done()
			raw.Encode(&parser.Packet{Type: parser.EVENT, Nsp: "/", Data: []any{evDocUpdate, p}})
		}
	})
}
