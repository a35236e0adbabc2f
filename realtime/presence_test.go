package realtime_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quire/quire/auth"
	"github.com/quire/quire/presence"
	"github.com/quire/quire/realtime"
	"github.com/quire/quire/storage"
)

// 200 sockets of 200 accounts connect, heartbeat in rounds (all 200, then
// 50 ms) for 2 s, then leave, while a watcher watches: the watcher sees
// all of them come and go, through diffs batched at most once per presence
// interval, so the messages it gets grow with time, never with heartbeats.
func TestPresenceWatchersGetBatchedDiffs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var tokens []string
	for i := range 200 {
		u := &storage.User{Email: fmt.Sprintf("p%d@example.com", i), Name: "p", Role: storage.RoleUser, SessionStamp: auth.NewSessionStamp()}
		if err := b.store.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		tok, err := b.auth.Issue(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, tok)
	}
	var res struct {
		Batches, Heartbeats, MaxOnline int
		FinalOnline                    []string
		ElapsedMs                      int64
	}
	file := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(file, []byte(strings.Join(tokens, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	node(t, &res, "presence.mjs", b.url, b.tokens["owner"], file)
	t.Logf("%+v", res)
	if res.MaxOnline != 201 || len(res.FinalOnline) != 1 || res.FinalOnline[0] != b.users["owner"].ID {
		t.Fatalf("the watcher's view: max %d online (want 201), final %v (want only itself)", res.MaxOnline, res.FinalOnline)
	}
	if res.Heartbeats < 200 {
		t.Fatalf("only %d heartbeats acknowledged", res.Heartbeats)
	}
	// At most one batch per interval tick while it watched (+1 for a tick
	// straddling each end): the structural bound, not a speed.
	if limit := int(time.Duration(res.ElapsedMs)*time.Millisecond/realtime.PresenceIntervalDefault) + 2; res.Batches > limit || res.Batches < 2 {
		t.Fatalf("%d presence messages in %d ms, want 2..%d", res.Batches, res.ElapsedMs, limit)
	}
	if n := b.metric(t, "quire_realtime_presence_batches_total", nil); n > float64(res.Batches)+2 {
		t.Fatalf("the server sent %v batches, the watcher counted %d", n, res.Batches)
	}
}

// A socket that stops heartbeating expires from presence while still
// connected (a dead client, a crashed instance's orphans): watchers are
// told it went offline.
func TestPresenceExpiry(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *realtime.Config) {
		c.Presence.(*presence.Memory).Timeout = 1500 * time.Millisecond
		c.PresenceInterval = 100 * time.Millisecond
	})
	var res struct {
		Bad     []map[string]any
		Watch   map[string]any
		Came    []string
		Expired []string
	}
	node(t, &res, "expiry.mjs", b.url, b.tokens["owner"], b.tokens["reader"])
	// A malformed presence:watch is refused and changes nothing (the same
	// socket then watches normally).
	for _, a := range res.Bad {
		if !equalJSON(a, map[string]any{"ok": false, "error": "invalid_payload"}) {
			t.Fatalf("malformed presence:watch acks %v, want invalid_payload", res.Bad)
		}
	}
	if len(res.Bad) != 2 || res.Watch["ok"] != true {
		t.Fatalf("acks: bad %v, watch %v", res.Bad, res.Watch)
	}
	// The first diff may list the watcher too (it came online at about the
	// same time); the reader must come, then expire alone.
	reader := b.users["reader"].ID
	if !slices.Contains(res.Came, reader) || len(res.Expired) != 1 || res.Expired[0] != reader {
		t.Fatalf("watcher saw %+v, want the reader online then expired", res)
	}
}
