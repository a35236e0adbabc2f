package realtime_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quire/quire/realtime"
	"github.com/quire/quire/realtime/brokertest"
)

// redisClient connects to QUIRE_TEST_REDIS_URL (the README's test command
// always sets it) or skips.
func redisClient(t testing.TB) *redis.Client {
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

func testPrefix(t *testing.T) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "quire-test-" + hex.EncodeToString(b) + ":"
}

func TestRedisBroker(t *testing.T) {
	t.Parallel()
	client := redisClient(t)
	brokertest.Run(t, func(t *testing.T) func(string) realtime.Broker {
		prefix := testPrefix(t) // one deployment per case
		return func(instance string) realtime.Broker {
			b, err := realtime.NewRedisBroker(realtime.RedisBrokerConfig{Client: client, Prefix: prefix, Instance: instance})
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	})
}

// TestRedisBrokerMalformedFrames: whatever else is published on the
// broker's channels is dropped, and what follows still arrives.
func TestRedisBrokerMalformedFrames(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client := redisClient(t)
	prefix := testPrefix(t)
	b, err := realtime.NewRedisBroker(realtime.RedisBrokerConfig{Client: client, Prefix: prefix, Instance: "b"})
	if err != nil {
		t.Fatal(err)
	}
	rec := brokertest.NewRecorder()
	if err := b.Start(ctx, rec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Stop(ctx) })
	if err := b.Subscribe(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	for _, junk := range []string{"", "\x01", "\x01\x01a", "\x01\x01a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
		"\x01\x01a\x01x\x01e\x00\x00\x00\x00\x00\xff\xff\xff\xff\x0f", "\x02\x01a", "\x09\x01a"} {
		for _, ch := range []string{prefix + "room:x", prefix + "commands"} {
			if err := client.Publish(ctx, ch, junk).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	a, err := realtime.NewRedisBroker(realtime.RedisBrokerConfig{Client: client, Prefix: prefix, Instance: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx, brokertest.NewRecorder()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Stop(ctx) })
	want := realtime.Message{Room: "x", Event: "e", Payload: []byte(`{"ok":1}`)}
	if err := a.Publish(ctx, want); err != nil {
		t.Fatal(err)
	}
	got := rec.WaitMessages(t, 1)
	if len(got) != 1 || string(got[0].Payload) != `{"ok":1}` || len(rec.Commands()) != 0 {
		t.Fatalf("after junk frames: messages %+v, commands %+v; want only the good message", got, rec.Commands())
	}
}
