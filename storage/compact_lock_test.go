package storage_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/quire/quire/storage"
	"github.com/quire/quire/storage/storagetest"
)

// TestPostgresCompactsOneInstanceAtATime: while another connection (an
// instance mid-compaction) holds a document's compaction lock, Compact
// changes nothing and answers ErrCompactionBusy; other documents compact;
// once the lock is released the same call succeeds.
func TestPostgresCompactsOneInstanceAtATime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storagetest.NewPostgres(t)
	opened, err := storage.Open(ctx, url, t.TempDir(), nil)
	require.NoError(t, err)
	t.Cleanup(func() { opened.Close() })
	s := compactLocker{opened, opened.(storage.CompactLocker)}

	ids, err := s.AppendUpdates(ctx, []storage.DocUpdate{{DocID: "note:a", Data: []byte{1}}, {DocID: "note:a", Data: []byte{2}}, {DocID: "note:b", Data: []byte{3}}})
	require.NoError(t, err)

	other, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = other.Close(ctx) })
	tx, err := other.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", storage.CompactLockClass, "note:a")
	require.NoError(t, err)

	_, err = s.TryCompact(ctx, "note:a", []byte{9}, ids[:2])
	require.ErrorIs(t, err, storage.ErrCompactionBusy)
	st, err := s.LoadDocument(ctx, "note:a")
	require.NoError(t, err)
	require.Equal(t, ids[:2], st.IDs(), "a busy compaction changed the log")

	_, err = s.TryCompact(ctx, "note:b", []byte{8}, ids[2:])
	require.NoError(t, err, "another document's lock is not this one's")

	require.NoError(t, tx.Rollback(ctx))
	snap, err := s.TryCompact(ctx, "note:a", []byte{9}, ids[:2])
	require.NoError(t, err)
	st, err = s.LoadDocument(ctx, "note:a")
	require.NoError(t, err)
	require.Equal(t, []int64{snap}, st.IDs())
}

type compactLocker struct {
	storage.Store
	storage.CompactLocker
}
