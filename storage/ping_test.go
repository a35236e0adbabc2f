package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
	bp := storagetest.NewBusyPool(t)
	bp.Take(t)
	st, tx, created := bp.Store, bp.Holder, bp.Created

	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, st.Ping(pctx), "Ping while the pool is taken")
	require.Equal(t, 1, st.PoolStats().InUse, "the pool was still taken")

	// The ping connection dropped by the server: the next Ping reconnects
	// (the failed one may report the drop).
	_, err := tx.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = '' AND state = 'idle'")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return st.Ping(pctx) == nil }, 60*time.Second, 10*time.Millisecond)

	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, <-created)
}
