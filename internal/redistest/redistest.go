// Package redistest gives tests the machine's Redis (QUIRE_TEST_REDIS_URL,
// which the README's test command always sets) and a key prefix of their
// own, whose keys are removed when the test ends.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// EnvURL names the Redis tests use.
const EnvURL = "QUIRE_TEST_REDIS_URL"

// URL is QUIRE_TEST_REDIS_URL; the test is skipped when it is unset.
func URL(t testing.TB) string {
	t.Helper()
	url := os.Getenv(EnvURL)
	if url == "" {
		t.Skip(EnvURL + " not set")
	}
	return url
}

// Client connects to URL, checks Redis answers, and closes when t ends.
func Client(t testing.TB) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(URL(t))
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis at %s: %v", EnvURL, err)
	}
	return c
}

// Prefix is a fresh key prefix; its keys are deleted through c when t ends.
func Prefix(t testing.TB, c *redis.Client) string {
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
