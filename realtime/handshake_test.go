package realtime

import (
	"testing"

	"github.com/zishang520/socket.io/servers/socket/v3"
)

// A connected socket's handshake keeps no copy of the request's headers and
// query, nor the auth map with its token (issue 13 item 4); what identifies
// the connection stays.
func TestTrimHandshake(t *testing.T) {
	t.Parallel()
	h := &socket.Handshake{
		Headers: map[string]any{"Origin": []string{"http://x"}},
		Query:   map[string]any{"EIO": []string{"4"}},
		Auth:    map[string]any{"token": "secret"},
		Address: "127.0.0.1:1", Url: "/ws/socket.io/?EIO=4",
	}
	trimHandshake(h)
	if h.Headers != nil || h.Query != nil || h.Auth != nil {
		t.Fatalf("kept %v %v %v", h.Headers, h.Query, h.Auth)
	}
	if h.Address != "127.0.0.1:1" || h.Url != "/ws/socket.io/?EIO=4" {
		t.Fatalf("lost the address or url: %+v", h)
	}
}
