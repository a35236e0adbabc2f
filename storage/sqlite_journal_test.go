package storage

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func openJournalStore(t *testing.T, path string) *SQLiteStore {
	t.Helper()
	s, err := OpenSQLite(context.Background(), path, nil)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func loadData(t *testing.T, s *SQLiteStore, doc string) map[int64]string {
	t.Helper()
	st, err := s.LoadDocument(context.Background(), doc)
	require.NoError(t, err)
	out := map[int64]string{}
	for _, r := range st.Records {
		out[r.ID] = string(r.Data)
	}
	return out
}

// A crash leaves records the database lacks and, perhaps, an append cut
// short: the first are inserted at open, the second (never acknowledged)
// is not, and ids go on above both.
func TestJournalReplaysWhatTheDatabaseLacks(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "quire.db")
	s := openJournalStore(t, path)
	ids, err := s.AppendUpdates(ctx, []DocUpdate{{DocID: "note:a", Data: []byte("one")}})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	// What a crash after two more acknowledged appends and during a third
	// leaves in the journal.
	next := ids[0] + 1
	content := encodeRecords(nil, []journalRecord{
		{id: next, at: 1, docID: "note:a", data: []byte("two")},
		{id: next + 1, at: 1, docID: "note:b", data: []byte("three")},
	})
	torn := encodeRecords(nil, []journalRecord{{id: next + 2, at: 1, docID: "note:a", data: []byte("torn")}})
	content = append(content, torn[:len(torn)-2]...)
	require.NoError(t, os.WriteFile(path+journalSuffix, content, 0o600))

	s = openJournalStore(t, path)
	require.Equal(t, map[int64]string{ids[0]: "one", next: "two"}, loadData(t, s, "note:a"))
	require.Equal(t, map[int64]string{next + 1: "three"}, loadData(t, s, "note:b"))
	fi, err := os.Stat(path + journalSuffix)
	require.NoError(t, err)
	require.Zero(t, fi.Size(), "the journal is emptied once replayed")
	more, err := s.AppendUpdates(ctx, []DocUpdate{{DocID: "note:a", Data: []byte("four")}})
	require.NoError(t, err)
	require.Greater(t, more[0], next+1)
}

// A record already moved into doc_updates may still be in the file (the
// file is emptied without a sync); once its row is compacted away it must
// not come back.
func TestJournalSkipsRecordsAlreadyFlushed(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "quire.db")
	s := openJournalStore(t, path)
	ids, err := s.AppendUpdates(ctx, []DocUpdate{{DocID: "note:a", Data: []byte("old")}})
	require.NoError(t, err)
	snap, err := s.Compact(ctx, "note:a", []byte("merged"), ids)
	require.NoError(t, err)
	require.Greater(t, snap, ids[0])
	// The newest row deleted: only the AUTOINCREMENT high-water mark
	// still knows its id.
	gone, err := s.AppendUpdates(ctx, []DocUpdate{{DocID: "note:b", Data: []byte("gone")}})
	require.NoError(t, err)
	require.NoError(t, s.DeleteDocument(ctx, "note:b"))
	require.NoError(t, s.Close())

	stale := encodeRecords(nil, []journalRecord{
		{id: ids[0], at: 1, docID: "note:a", data: []byte("old")},
		{id: gone[0], at: 1, docID: "note:b", data: []byte("gone")},
	})
	require.NoError(t, os.WriteFile(path+journalSuffix, stale, 0o600))
	s = openJournalStore(t, path)
	require.Equal(t, map[int64]string{snap: "merged"}, loadData(t, s, "note:a"))
	require.Empty(t, loadData(t, s, "note:b"))
}

// Pending records are read with the rest, and a change of doc_updates
// (compaction, deletes) acts on them too: none comes back when the
// flusher runs later.
func TestJournalPendingRecordsReadAndChanged(t *testing.T) {
	ctx := context.Background()
	s := openJournalStore(t, filepath.Join(t.TempDir(), "quire.db"))
	ids, err := s.AppendUpdates(ctx, []DocUpdate{
		{DocID: "note:a", Data: []byte("a1")},
		{DocID: "note:b", Data: []byte("b1")},
		{DocID: "note:a", Data: []byte("a2")},
	})
	require.NoError(t, err)
	require.Len(t, s.journal.pendingOf("note:a"), 2, "not flushed yet")
	st, err := s.LoadDocument(ctx, "note:a")
	require.NoError(t, err)
	require.Equal(t, []DocRecord{{ID: ids[0], Data: []byte("a1")}, {ID: ids[2], Data: []byte("a2")}}, st.Records)

	snap, err := s.Compact(ctx, "note:a", []byte("a12"), []int64{ids[0], ids[2]})
	require.NoError(t, err)
	later, err := s.AppendUpdates(ctx, []DocUpdate{{DocID: "note:a", Data: []byte("a3")}, {DocID: "note:b", Data: []byte("b2")}})
	require.NoError(t, err)
	require.Greater(t, later[0], snap, "ids keep increasing across snapshots")
	st, err = s.LoadDocument(ctx, "note:a")
	require.NoError(t, err)
	require.Equal(t, []DocRecord{{ID: snap, Data: []byte("a12"), Snapshot: true}, {ID: later[0], Data: []byte("a3")}}, st.Records)

	require.NoError(t, s.DeleteDocument(ctx, "note:b"))
	require.NoError(t, s.flush(ctx))
	require.Empty(t, loadData(t, s, "note:b"), "a deleted document's pending rows stay deleted")
	require.Equal(t, map[int64]string{snap: "a12", later[0]: "a3"}, loadData(t, s, "note:a"))
}

// decodeJournal stops at the first record that is cut short or damaged.
func TestDecodeJournalStopsAtDamage(t *testing.T) {
	recs := []journalRecord{
		{id: 1, at: 5, docID: "note:x", data: []byte{1, 2, 3}},
		{id: 2, at: 6, docID: "", data: nil},
		{id: 3, at: 7, docID: "note:y", data: []byte("z")},
	}
	b := encodeRecords(nil, recs)
	got, n := decodeJournal(b)
	require.Len(t, got, 3)
	require.Equal(t, len(b), n)
	require.Equal(t, "note:y", got[2].docID)
	require.Equal(t, []byte("z"), got[2].data)
	require.Equal(t, int64(7), got[2].at)

	second := len(encodeRecords(nil, recs[:1]))
	damaged := append([]byte{}, b...)
	damaged[second+recordHeader+3] ^= 0xff // inside the second record
	got, n = decodeJournal(damaged)
	require.Len(t, got, 1)
	require.Equal(t, second, n)

	for cut := range len(b) {
		got, _ := decodeJournal(b[:cut])
		require.LessOrEqual(t, len(got), 2, "a cut record is never read")
	}
}

// A damaged journal (a torn write, stray bytes) never panics the open:
// what decodes is a prefix of the file that encodes back to itself.
func FuzzDecodeJournal(f *testing.F) {
	f.Add(encodeRecords(nil, []journalRecord{{id: 1, at: 2, docID: "note:a", data: []byte{1, 2}}}))
	f.Add(encodeRecords(nil, []journalRecord{{id: 1, docID: ""}, {id: 9, docID: "x", data: []byte("y")}}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, n := decodeJournal(b)
		if n > len(b) {
			t.Fatalf("decoded %d bytes of %d", n, len(b))
		}
		if again := encodeRecords(nil, recs); string(again) != string(b[:n]) {
			t.Fatalf("records do not encode back to the bytes they came from")
		}
	})
}
