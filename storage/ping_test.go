package storage_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/quire/quire/storage"
	"github.com/quire/quire/storage/storagetest"
)

// TestPostgresPingDoesNotWaitForThePool: Ping answers on its own
// connection while every pool connection is taken (here the only one, by a
// CreateUser waiting on a lock another session holds), and again after
// the database dropped that connection. On the pool it waited for the
// lock's holder.
func TestPostgresPingDoesNotWaitForThePool(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := storagetest.NewPostgres(t)
	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("pool_max_conns", "1")
	u.RawQuery = q.Encode()
	st, err := storage.OpenPostgres(ctx, u.String(), nil)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })

	other, err := pgx.Connect(ctx, base)
	require.NoError(t, err)
	defer other.Close(ctx)
	tx, err := other.Begin(ctx)
	require.NoError(t, err)
	// storage.firstAccountLock, which CreateUser takes first.
	_, err = tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(0x717569726501))
	require.NoError(t, err)
	created := make(chan error, 1)
	go func() {
		created <- st.CreateUser(ctx, &storage.User{ID: "u1", Email: "u1@example.com", Name: "U"})
	}()
	require.Eventually(t, func() bool {
		var waiting bool
		err := other.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted)").Scan(&waiting)
		return err == nil && waiting
	}, 60*time.Second, 10*time.Millisecond, "CreateUser waits on the lock, holding the pool")

	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, st.Ping(pctx), "Ping while the pool is taken")
	require.Equal(t, 1, st.PoolStats().InUse, "the pool was still taken")

	// The ping connection dropped by the server: the next Ping reconnects
	// (the failed one may report the drop).
	_, err = tx.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = '' AND state = 'idle'")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return st.Ping(pctx) == nil }, 60*time.Second, 10*time.Millisecond)

	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, <-created)
}
