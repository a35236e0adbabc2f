package storage_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/storage"
)

// TestSQLiteAppendFixedCost: a one-update commit under a deadline (as ydoc's
// writer calls it) allocates what the statements need, not a database/sql
// transaction with its watcher goroutines and the driver's interrupt
// watcher per statement: 45 allocations per call before
// (sqlite_append.go), 21 after.
func TestSQLiteAppendFixedCost(t *testing.T) {
	s := openSQLite(t, filepath.Join(t.TempDir(), "quire.db"))
	ups := []storage.DocUpdate{{DocID: "note:alloc", Data: []byte{0, 0}}}
	allocs := testing.AllocsPerRun(50, func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := s.AppendUpdates(ctx, ups)
		require.NoError(t, err)
	})
	require.LessOrEqual(t, allocs, 30.0, "allocations per one-update AppendUpdates")
	st, err := s.LoadDocument(context.Background(), "note:alloc")
	require.NoError(t, err)
	require.Len(t, st.Records, 51) // AllocsPerRun's warm-up call too
}

// TestSQLiteAppendEndedContext: a context that has ended stores nothing
// and says why; the writer stays usable.
func TestSQLiteAppendEndedContext(t *testing.T) {
	s := openSQLite(t, filepath.Join(t.TempDir(), "quire.db"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.AppendUpdates(ctx, []storage.DocUpdate{{DocID: "note:x", Data: []byte{0, 0}}})
	require.ErrorIs(t, err, context.Canceled)
	st, err := s.LoadDocument(context.Background(), "note:x")
	require.NoError(t, err)
	require.True(t, st.Empty())
	ids, err := s.AppendUpdates(context.Background(), []storage.DocUpdate{{DocID: "note:x", Data: []byte{0, 0}}, {DocID: "note:y", Data: nil}})
	require.NoError(t, err)
	require.Len(t, ids, 2)
	require.Less(t, ids[0], ids[1])
}
