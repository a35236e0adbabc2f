// Package storagetest is the conformance suite every storage.Store driver
// passes, plus NewPostgres, which gives a test its own PostgreSQL database.
package storagetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// EnvDatabaseURL names the PostgreSQL server tests use. The README's test
// command always sets it, so CI never skips the PostgreSQL suite.
const EnvDatabaseURL = "QUIRE_TEST_DATABASE_URL"

// NewPostgres creates a database quire_test_<random> on the server in
// QUIRE_TEST_DATABASE_URL, drops it (WITH (FORCE)) when the test ends, and
// returns its URL. It skips the test only when the variable is unset.
func NewPostgres(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvDatabaseURL)
	if base == "" {
		t.Skipf("%s is not set", EnvDatabaseURL)
	}
	u, err := url.Parse(base)
	require.NoError(t, err, "parse %s", EnvDatabaseURL)

	var b [8]byte
	_, _ = rand.Read(b[:])
	name := "quire_test_" + hex.EncodeToString(b[:])

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	require.NoError(t, err, "connect to %s", EnvDatabaseURL)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+name)
	require.NoError(t, err)

	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop test database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}
