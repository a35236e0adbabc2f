package storagetest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/storage"
)

// DocLog: the document update log, append, load, compact.

func testDocuments(t *testing.T, b *bundle) {
	ctx := context.Background()
	s := b.store

	t.Run("AppendAndLoad", func(t *testing.T) {
		t.Parallel()
		d1, d2 := "note:"+newID(), "note:"+newID()
		ids, err := s.AppendUpdates(ctx, []storage.DocUpdate{
			{DocID: d1, Data: []byte{1}}, {DocID: d2, Data: []byte{2}}, {DocID: d1, Data: []byte{3}}, {DocID: d1, Data: nil},
		})
		require.NoError(t, err)
		require.Len(t, ids, 4)
		require.True(t, slices.IsSorted(ids) && ids[0] < ids[1] && ids[2] < ids[3], "ids in input order: %v", ids)

		doc, err := s.LoadDocument(ctx, d1)
		require.NoError(t, err)
		require.Equal(t, []storage.DocRecord{{ID: ids[0], Data: []byte{1}}, {ID: ids[2], Data: []byte{3}}, {ID: ids[3], Data: []byte{}}}, doc.Records)
		require.Equal(t, []int64{ids[0], ids[2], ids[3]}, doc.IDs())

		more, err := s.AppendUpdates(ctx, []storage.DocUpdate{{DocID: d2, Data: []byte{4}}})
		require.NoError(t, err)
		require.Greater(t, more[0], ids[3], "later appends get larger ids")
		doc, err = s.LoadDocument(ctx, d2)
		require.NoError(t, err)
		require.Equal(t, []storage.DocRecord{{ID: ids[1], Data: []byte{2}}, {ID: more[0], Data: []byte{4}}}, doc.Records)
	})
	t.Run("Empty", func(t *testing.T) {
		t.Parallel()
		ids, err := s.AppendUpdates(ctx, nil)
		require.NoError(t, err)
		require.Empty(t, ids)
		doc, err := s.LoadDocument(ctx, "note:"+newID())
		require.NoError(t, err)
		require.True(t, doc.Empty())
	})
	t.Run("DeleteDocument", func(t *testing.T) {
		t.Parallel()
		d, other := "note:"+newID(), "note:"+newID()
		_, err := s.AppendUpdates(ctx, []storage.DocUpdate{{DocID: d, Data: []byte{1}}, {DocID: other, Data: []byte{2}}})
		require.NoError(t, err)
		require.NoError(t, s.DeleteDocument(ctx, d))
		require.NoError(t, s.DeleteDocument(ctx, d), "deleting nothing is fine")
		doc, err := s.LoadDocument(ctx, d)
		require.NoError(t, err)
		require.True(t, doc.Empty())
		doc, err = s.LoadDocument(ctx, other)
		require.NoError(t, err)
		require.Len(t, doc.Records, 1)
	})
	t.Run("ConcurrentAppendsKeepOrder", func(t *testing.T) {
		t.Parallel()
		const writers, perWriter = 4, 25
		docs := make([]string, writers)
		var wg sync.WaitGroup
		errs := make([]error, writers)
		for w := range writers {
			docs[w] = "note:" + newID()
			wg.Go(func() {
				for i := range perWriter {
					if _, err := s.AppendUpdates(ctx, []storage.DocUpdate{{DocID: docs[w], Data: []byte{byte(i)}}}); err != nil {
						errs[w] = err
						return
					}
					if _, err := s.LoadDocument(ctx, docs[w]); err != nil {
						errs[w] = err
						return
					}
				}
			})
		}
		wg.Wait()
		for w := range writers {
			require.NoError(t, errs[w])
			doc, err := s.LoadDocument(ctx, docs[w])
			require.NoError(t, err)
			require.Len(t, doc.Records, perWriter)
			for i, r := range doc.Records {
				require.Equal(t, []byte{byte(i)}, r.Data)
			}
		}
	})
}

// The compaction tests use distinct payloads "<n>" and a merge that
// concatenates: nothing is lost while every payload is still inside some row.
func payload(i int) []byte { return fmt.Appendf(nil, "<%d>", i) }

func merge(doc storage.DocState) []byte {
	var b []byte
	for _, r := range doc.Records {
		b = append(b, r.Data...)
	}
	return b
}

func appendN(t testing.TB, s storage.Store, docID string, from, to int) {
	t.Helper()
	var ups []storage.DocUpdate
	for i := from; i < to; i++ {
		ups = append(ups, storage.DocUpdate{DocID: docID, Data: payload(i)})
	}
	_, err := s.AppendUpdates(context.Background(), ups)
	require.NoError(t, err)
}

func requireAllPresent(t testing.TB, s storage.Store, docID string, n int) storage.DocState {
	t.Helper()
	doc, err := s.LoadDocument(context.Background(), docID)
	require.NoError(t, err)
	all := merge(doc)
	for i := range n {
		require.True(t, bytes.Contains(all, payload(i)), "update %d lost; rows: %q", i, all)
	}
	return doc
}

func compact(t testing.TB, s storage.Store, docID string, merged []byte, ids []int64) int64 {
	t.Helper()
	id, err := s.Compact(context.Background(), docID, merged, ids)
	require.NoError(t, err)
	return id
}

func testCompact(t *testing.T, b *bundle) {
	ctx := context.Background()
	s := b.store

	t.Run("SnapshotFirst", func(t *testing.T) {
		t.Parallel()
		d := "note:" + newID()
		appendN(t, s, d, 0, 3)
		read, err := s.LoadDocument(ctx, d)
		require.NoError(t, err)
		appendN(t, s, d, 3, 4) // arrives between the read and the compaction
		compact(t, s, d, merge(read), read.IDs())

		doc := requireAllPresent(t, s, d, 4)
		require.Len(t, doc.Records, 2)
		require.True(t, doc.Records[0].Snapshot)
		require.Equal(t, []byte("<0><1><2>"), doc.Records[0].Data)
		require.False(t, doc.Records[1].Snapshot)
		require.Equal(t, payload(3), doc.Records[1].Data)

		// Compacting again folds the snapshot in too.
		read, err = s.LoadDocument(ctx, d)
		require.NoError(t, err)
		compact(t, s, d, merge(read), read.IDs())
		doc = requireAllPresent(t, s, d, 4)
		require.Len(t, doc.Records, 1)
		require.True(t, doc.Records[0].Snapshot)
	})
	t.Run("ReturnsSnapshotID", func(t *testing.T) {
		t.Parallel()
		d, other := "note:"+newID(), "note:"+newID()
		appendN(t, s, other, 0, 1)
		appendN(t, s, d, 0, 4)
		read, err := s.LoadDocument(ctx, d)
		require.NoError(t, err)
		rows := read.Records
		otherBefore, err := s.LoadDocument(ctx, other)
		require.NoError(t, err)

		first := compact(t, s, d, []byte("<0><1>"), []int64{rows[0].ID, rows[1].ID})
		doc, err := s.LoadDocument(ctx, d)
		require.NoError(t, err)
		require.Equal(t, []storage.DocRecord{{ID: first, Data: []byte("<0><1>"), Snapshot: true}, rows[2], rows[3]},
			doc.Records, "the returned id is the snapshot row's; the rows not given are untouched")

		// The returned id is what a caller passes to fold its own snapshot
		// into the next one.
		second := compact(t, s, d, []byte("<0><1><2>"), []int64{first, rows[2].ID})
		require.Greater(t, second, first)
		doc, err = s.LoadDocument(ctx, d)
		require.NoError(t, err)
		require.Equal(t, []storage.DocRecord{{ID: second, Data: []byte("<0><1><2>"), Snapshot: true}, rows[3]}, doc.Records)
		otherAfter, err := s.LoadDocument(ctx, other)
		require.NoError(t, err)
		require.Equal(t, otherBefore, otherAfter, "another document's rows are untouched")
	})
	t.Run("OnlyItsDocument", func(t *testing.T) {
		t.Parallel()
		d, other := "note:"+newID(), "note:"+newID()
		ids, err := s.AppendUpdates(ctx, []storage.DocUpdate{{DocID: d, Data: []byte{1}}, {DocID: other, Data: []byte{2}}})
		require.NoError(t, err)
		// Ids of another document are never deleted.
		compact(t, s, d, []byte{1}, ids)
		doc, err := s.LoadDocument(ctx, other)
		require.NoError(t, err)
		require.Len(t, doc.Records, 1)
	})
	t.Run("RacingFromSameRead", func(t *testing.T) {
		t.Parallel()
		d := "note:" + newID()
		appendN(t, s, d, 0, 10)
		read, err := s.LoadDocument(ctx, d)
		require.NoError(t, err)
		var wg sync.WaitGroup
		errs, ids := make([]error, 2), make([]int64, 2)
		for i := range errs {
			wg.Go(func() { ids[i], errs[i] = s.Compact(ctx, d, merge(read), read.IDs()) })
		}
		wg.Wait()
		require.NoError(t, errs[0])
		require.NoError(t, errs[1])
		doc := requireAllPresent(t, s, d, 10)
		require.Len(t, doc.Records, 2, "two duplicate snapshots, every update row gone")
		require.True(t, doc.Records[0].Snapshot && doc.Records[1].Snapshot)
		require.ElementsMatch(t, ids, doc.IDs(), "each compaction returned its own snapshot's id")
	})
	t.Run("RacingFromOverlappingReads", func(t *testing.T) {
		t.Parallel()
		d := "note:" + newID()
		appendN(t, s, d, 0, 5)
		first, err := s.LoadDocument(ctx, d)
		require.NoError(t, err)
		appendN(t, s, d, 5, 10)
		second, err := s.LoadDocument(ctx, d)
		require.NoError(t, err)
		compact(t, s, d, merge(second), second.IDs())
		appendN(t, s, d, 10, 12)
		compact(t, s, d, merge(first), first.IDs())
		third, err := s.LoadDocument(ctx, d)
		require.NoError(t, err)
		appendN(t, s, d, 12, 13)
		compact(t, s, d, merge(third), third.IDs())
		requireAllPresent(t, s, d, 13)
	})
	t.Run("ConcurrentWithAppends", func(t *testing.T) {
		t.Parallel()
		d := "note:" + newID()
		const total = 60
		var wg sync.WaitGroup
		var appendErr error
		wg.Go(func() {
			for i := range total {
				if _, err := s.AppendUpdates(ctx, []storage.DocUpdate{{DocID: d, Data: payload(i)}}); err != nil {
					appendErr = err
					return
				}
			}
		})
		compactErrs := make([]error, 2)
		for c := range compactErrs {
			wg.Go(func() {
				for range 10 {
					read, err := s.LoadDocument(ctx, d)
					if err == nil && !read.Empty() {
						_, err = s.Compact(ctx, d, merge(read), read.IDs())
					}
					if err != nil {
						compactErrs[c] = err
						return
					}
				}
			})
		}
		wg.Wait()
		require.NoError(t, appendErr)
		require.NoError(t, compactErrs[0])
		require.NoError(t, compactErrs[1])
		requireAllPresent(t, s, d, total)
	})
}
