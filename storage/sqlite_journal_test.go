package storage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
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

// copyCrashState copies what a kill -9 would leave on disk (page cache
// included) to a new directory: the database, its WAL and the journal.
func copyCrashState(t *testing.T, path string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "quire.db")
	for _, suf := range []string{"", "-wal", journalSuffix} {
		b, err := os.ReadFile(path + suf)
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(dst+suf, b, 0o600))
	}
	return dst
}

// holdWriter takes the store's one writer connection; run starts work
// that needs it and returns once that work waits for it (and so has done
// whatever comes before, such as taking a flush's batch).
func holdWriter(t *testing.T, s *SQLiteStore, run func()) (release func()) {
	t.Helper()
	conn, err := s.w.Conn(context.Background())
	require.NoError(t, err)
	waits := s.w.Stats().WaitCount
	run()
	require.Eventually(t, func() bool { return s.w.Stats().WaitCount > waits }, time.Minute, time.Millisecond)
	return func() { require.NoError(t, conn.Close()) }
}

// An update acknowledged while a compaction flushes gets an id above the
// snapshot's. Its id was below once: the snapshot's commit raised the
// recovery floor over it, and a crash before the next flush lost it
// (found in review).
func TestJournalUpdateAckedDuringCompactionSurvivesCrash(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "quire.db")
	s := openJournalStore(t, path)
	a, err := s.AppendUpdates(ctx, []DocUpdate{{DocID: "note:a", Data: []byte("a1")}})
	require.NoError(t, err)

	compacted := make(chan int64, 1)
	release := holdWriter(t, s, func() {
		go func() {
			id, err := s.Compact(ctx, "note:a", []byte("a-merged"), a)
			assert.NoError(t, err)
			compacted <- id
		}()
	})
	b, err := s.AppendUpdates(ctx, []DocUpdate{{DocID: "note:b", Data: []byte("b1")}})
	require.NoError(t, err) // acknowledged: durable in the journal
	release()
	snap := <-compacted
	require.Greater(t, b[0], snap, "ids rise in acknowledgement order")

	// The crash comes before the flusher moves b1.
	s.journal.flushMu.Lock()
	require.Len(t, s.journal.pendingOf("note:b"), 1, "b1 not flushed yet")
	crashed := copyCrashState(t, path)
	s.journal.flushMu.Unlock()

	s2 := openJournalStore(t, crashed)
	require.Equal(t, map[int64]string{b[0]: "b1"}, loadData(t, s2, "note:b"), "acknowledged update lost")
}

// A second open of the database while the server runs (quire token
// beside it) leaves the server's journal alone: it used to replay and
// empty it, so the server's flushes failed forever on the replayed ids
// and its next appends landed past a hole that the next open read as the
// end (found in review). The second store may read documents' logs, not
// write them.
func TestJournalSecondOpenLeavesTheServersJournal(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "quire.db")
	server, err := OpenSQLite(ctx, path, nil)
	require.NoError(t, err)
	server.journal.flushMu.Lock() // the flusher's delay has not passed
	before, err := server.AppendUpdates(ctx, []DocUpdate{{DocID: "note:a", Data: []byte("before")}})
	require.NoError(t, err)

	other, err := OpenSQLite(ctx, path, nil)
	require.NoError(t, err)
	_, err = other.AppendUpdates(ctx, []DocUpdate{{DocID: "note:a", Data: []byte("x")}})
	require.ErrorIs(t, err, errJournalHeld)
	require.ErrorIs(t, other.DeleteDocument(ctx, "note:a"), errJournalHeld)
	_, err = other.Compact(ctx, "note:a", []byte("m"), before)
	require.ErrorIs(t, err, errJournalHeld)
	_, err = other.LoadDocument(ctx, "note:a")
	require.NoError(t, err)
	require.NoError(t, other.Close())
	server.journal.flushMu.Unlock()

	after, err := server.AppendUpdates(ctx, []DocUpdate{{DocID: "note:a", Data: []byte("after")}})
	require.NoError(t, err)
	require.NoError(t, server.flush(ctx))
	require.NoError(t, server.Close())

	again := openJournalStore(t, path)
	require.Equal(t, map[int64]string{before[0]: "before", after[0]: "after"}, loadData(t, again, "note:a"))
}

// Under steady appends some record is always pending when a flush ends;
// past truncateBytes the flush moves those too and empties the file,
// which otherwise grew for as long as the server stayed busy (found in
// review).
func TestJournalEmptiedUnderSteadyAppends(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "quire.db")
	s := openJournalStore(t, path)
	data := make([]byte, 64<<10)
	// The flusher waits: at load the appends may take past its delay, and
	// its flush would empty the file before this test's does.
	s.journal.flushMu.Lock()
	for journalOff(s) < truncateBytes {
		_, err := s.AppendUpdates(ctx, []DocUpdate{{DocID: "note:a", Data: data}})
		require.NoError(t, err)
	}
	s.journal.flushMu.Unlock()
	flushed := make(chan error, 1)
	release := holdWriter(t, s, func() { go func() { flushed <- s.flush(ctx) }() })
	late, err := s.AppendUpdates(ctx, []DocUpdate{{DocID: "note:a", Data: []byte("late")}})
	require.NoError(t, err) // arrives while the flush's transaction waits
	release()
	require.NoError(t, <-flushed)
	fi, err := os.Stat(path + journalSuffix)
	require.NoError(t, err)
	require.Zero(t, fi.Size(), "the journal is emptied")
	require.Empty(t, s.journal.pendingOf("note:a"))
	require.Equal(t, "late", loadData(t, s, "note:a")[late[0]])
}

// Many documents' appends at once, past truncateBytes (so flushes empty
// the file with appends held off), beside compactions: after a crash
// every acknowledged update is there.
func TestJournalConcurrentAppendsSurviveCrash(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "quire.db")
	s := openJournalStore(t, path)
	const writers, each = 6, 120
	data := make([]byte, 8<<10)
	acked := make([][]int64, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			doc := fmt.Sprintf("note:%d", w)
			for range each {
				ids, err := s.AppendUpdates(ctx, []DocUpdate{{DocID: doc, Data: data}})
				if !assert.NoError(t, err) {
					return
				}
				acked[w] = append(acked[w], ids...)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	compactions, compacted := 0, int64(0) // note:0's ids up to compacted were merged
	for loop := true; loop; {
		select {
		case <-done:
			loop = false
		case <-time.After(5 * time.Millisecond):
			require.NoError(t, s.flush(ctx))
			if compactions < 3 {
				st, err := s.LoadDocument(ctx, "note:0")
				require.NoError(t, err)
				var ids []int64
				for _, r := range st.Records {
					ids = append(ids, r.ID)
				}
				if len(ids) > 0 {
					_, err := s.Compact(ctx, "note:0", []byte("merged"), ids)
					require.NoError(t, err)
					compactions, compacted = compactions+1, slices.Max(ids)
				}
			}
		}
	}
	s.journal.flushMu.Lock()
	crashed := copyCrashState(t, path)
	s.journal.flushMu.Unlock()
	s2 := openJournalStore(t, crashed)
	for w := range writers {
		got := loadData(t, s2, fmt.Sprintf("note:%d", w))
		for _, id := range acked[w] {
			if w > 0 || id > compacted {
				require.Contains(t, got, id, "note:%d's acknowledged update", w)
			}
		}
	}
}

// journalOff is the end of the journal's records.
func journalOff(s *SQLiteStore) int64 {
	s.journal.mu.Lock()
	defer s.journal.mu.Unlock()
	return s.journal.off
}
