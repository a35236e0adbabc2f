package presence_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quire/quire/presence"
	"github.com/quire/quire/presence/presencetest"
)

// redisClient connects to QUIRE_TEST_REDIS_URL or skips.
func redisClient(t *testing.T) *redis.Client {
	t.Helper()
	url := os.Getenv("QUIRE_TEST_REDIS_URL")
	if url == "" {
		t.Skip("QUIRE_TEST_REDIS_URL not set")
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("QUIRE_TEST_REDIS_URL: %v", err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis at QUIRE_TEST_REDIS_URL: %v", err)
	}
	return c
}

// testPrefix is a fresh key prefix whose keys are deleted when t ends.
func testPrefix(t *testing.T, c *redis.Client) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	prefix := "quire-test-" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		keys, err := c.Keys(ctx, prefix+"*").Result()
		if err == nil && len(keys) > 0 {
			err = c.Del(ctx, keys...).Err()
		}
		if err != nil {
			t.Errorf("remove the test's redis keys: %v", err)
		}
	})
	return prefix
}

func TestRedis(t *testing.T) {
	t.Parallel()
	c := redisClient(t)
	presencetest.Run(t, func(t *testing.T, now func() time.Time) presence.Manager {
		m, err := presence.NewRedis(presence.RedisConfig{Client: c, Prefix: testPrefix(t, c), Now: now})
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
	c := redisClient(t)
	prefix := testPrefix(t, c)
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
