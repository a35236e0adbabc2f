package server_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/server"
)

// TestRedisNeedsSharedDatabaseAndSecret: instances behind one address must
// share PostgreSQL and the signing key; --redis-url without either is a
// configuration error naming the missing flag, and New refuses it.
func TestRedisNeedsSharedDatabaseAndSecret(t *testing.T) {
	t.Parallel()
	base := server.Config{RedisURL: "redis://127.0.0.1:6379/0", DatabaseURL: "postgres://x@127.0.0.1/db",
		Secret: "shared-secret-0123456789abcdef", DataDir: t.TempDir()}.WithDefaults()
	require.NoError(t, base.Validate())
	require.Equal(t, server.RedisPrefixDefault, base.RedisPrefix)

	for want, edit := range map[string]func(*server.Config){
		"--database-url": func(c *server.Config) { c.DatabaseURL = "" },
		"--secret":       func(c *server.Config) { c.Secret = "" },
		"--redis-prefix": func(c *server.Config) { c.RedisPrefix = "a b*" },
	} {
		c := base
		edit(&c)
		err := c.Validate()
		require.Error(t, err, want)
		require.Contains(t, err.Error(), want)
		_, err = server.New(c, nil)
		require.ErrorContains(t, err, want)
	}
}
