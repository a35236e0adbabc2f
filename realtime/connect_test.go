package realtime_test

import (
	"testing"
)

type connectResult struct {
	Connected bool           `json:"connected"`
	ID        string         `json:"id"`
	Heartbeat map[string]any `json:"heartbeat"`
	Join      map[string]any `json:"join"`
	UserJoin  map[string]any `json:"userJoin"`
}

func TestConnect(t *testing.T) {
	t.Parallel()
	b := setup(t)
	unauth := map[string]any{"ok": false, "error": "unauthenticated"}

	for _, tc := range []struct{ name, token string }{
		{"no token", "-"},
		{"bad token", "not-a-jwt"},
		{"forged token", b.tokens["owner"][:len(b.tokens["owner"])-4] + "AAAA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r connectResult
			node(t, &r, "connect.mjs", b.url, tc.token, b.note.ID)
			if !r.Connected || r.ID == "" {
				t.Fatalf("not connected: %+v", r)
			}
			for name, got := range map[string]map[string]any{"heartbeat": r.Heartbeat, "join": r.Join, "user-join": r.UserJoin} {
				if !equalJSON(got, unauth) {
					t.Errorf("%s ack = %v, want %v", name, got, unauth)
				}
			}
		})
	}

	t.Run("good token", func(t *testing.T) {
		var r connectResult
		node(t, &r, "connect.mjs", b.url, b.tokens["owner"], b.note.ID)
		okAck := map[string]any{"ok": true}
		if !equalJSON(r.Heartbeat, okAck) || !equalJSON(r.Join, okAck) {
			t.Errorf("acks: heartbeat %v, join %v", r.Heartbeat, r.Join)
		}
		u := b.users["owner"]
		want := map[string]any{"ok": true, "id": u.ID, "name": u.Name, "role": u.Role}
		if !equalJSON(r.UserJoin, want) {
			t.Errorf("user-join ack = %v, want %v", r.UserJoin, want)
		}
	})
	if got := b.metric(t, "quire_realtime_rejected_total", map[string]string{"reason": "unauthenticated"}); got != 9 {
		t.Errorf("rejected unauthenticated = %v, want 9", got)
	}
}
