package storagetest

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/quire/quire/storage"
)

// BusyPool is a PostgreSQL store whose pool has one connection, which
// Take fills with a CreateUser waiting on a lock another session (Holder)
// holds.
type BusyPool struct {
	Store   *storage.PostgresStore
	Holder  pgx.Tx       // after Take: commit it to free the pool
	Created <-chan error // after Take: the waiting CreateUser's result, once freed
	base    string
}

// NewBusyPool opens a store on a database of its own (NewPostgres) with
// pool_max_conns=1.
func NewBusyPool(t testing.TB) *BusyPool {
	t.Helper()
	ctx := context.Background()
	base := NewPostgres(t)
	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("pool_max_conns", "1")
	u.RawQuery = q.Encode()
	st, err := storage.OpenPostgres(ctx, u.String(), nil)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return &BusyPool{Store: st, base: base}
}

// Take returns once the pool's only connection is taken: another session
// holds the advisory lock CreateUser takes first (storage.firstAccountLock),
// and CreateUser is seen waiting for it.
func (bp *BusyPool) Take(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	other, err := pgx.Connect(ctx, bp.base)
	require.NoError(t, err)
	t.Cleanup(func() { other.Close(context.Background()) })
	tx, err := other.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(0x717569726501))
	require.NoError(t, err)
	created := make(chan error, 1)
	go func() {
		created <- bp.Store.CreateUser(ctx, &storage.User{ID: "u1", Email: "u1@example.com", Name: "U"})
	}()
	require.Eventually(t, func() bool {
		var waiting bool
		err := other.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted)").Scan(&waiting)
		return err == nil && waiting
	}, 60*time.Second, 10*time.Millisecond, "CreateUser waits on the lock, holding the pool")
	bp.Holder, bp.Created = tx, created
}
