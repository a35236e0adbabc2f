package presence_test

import (
	"context"
	"testing"
	"time"

	"github.com/quire/quire/internal/redistest"
	"github.com/quire/quire/presence"
	"github.com/quire/quire/presence/presencetest"
)

func TestRedis(t *testing.T) {
	t.Parallel()
	c := redistest.Client(t)
	presencetest.Run(t, func(t *testing.T, now func() time.Time) presence.Manager {
		m, err := presence.NewRedis(presence.RedisConfig{Client: c, Prefix: redistest.Prefix(t, c), Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return m
	})
}

// TestRedisShared: two instances on one prefix answer the same, and the
// sockets of one that stops heartbeating (killed) stop counting on the
// other once the timeout has passed.
func TestRedisShared(t *testing.T) {
	t.Parallel()
	c := redistest.Client(t)
	prefix := redistest.Prefix(t, c)
	var clock presencetest.Clock
	clock.Advance(time.Duration(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()))
	newM := func() *presence.Redis {
		m, err := presence.NewRedis(presence.RedisConfig{Client: c, Prefix: prefix, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b := newM(), newM()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(a.Connect(ctx, "ann", "a1"))
	must(b.Connect(ctx, "bob", "b1"))
	must(a.UseModel(ctx, "a1", "gpt"))
	for _, m := range []*presence.Redis{a, b} {
		got, err := m.Online(ctx)
		must(err)
		if len(got) != 2 || got[0] != "ann" || got[1] != "bob" {
			t.Fatalf("Online = %v on one instance, want [ann bob] on both", got)
		}
		models, err := m.Models(ctx)
		must(err)
		if len(models) != 1 || models[0] != "gpt" {
			t.Fatalf("Models = %v, want [gpt] on both", models)
		}
		if ok, err := m.Owns(ctx, "ann", "a1"); err != nil || !ok {
			t.Fatalf("Owns(ann, a1) = %v, %v on one instance", ok, err)
		}
	}
	// a dies: only b heartbeats from now on.
	for range presence.TimeoutDefault / (30 * time.Second) {
		clock.Advance(30 * time.Second)
		must(b.Touch(ctx, "bob", "b1"))
	}
	clock.Advance(time.Second)
	b.Sweep()
	got, err := b.Online(ctx)
	must(err)
	if len(got) != 1 || got[0] != "bob" {
		t.Fatalf("after a's silence: Online = %v, want [bob]", got)
	}
	if n, err := c.HLen(ctx, prefix+"presence:owners").Result(); err != nil || n != 1 {
		t.Fatalf("the sweep left %d owners (%v), want 1", n, err)
	}
}
