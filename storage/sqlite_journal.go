package storage

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// The SQLite store's update journal (docs/design.md, "The update journal").
//
// An update committed through SQLite costs ~44 system calls (WAL frames,
// locks, fsync), each entering the Go runtime as a blocking call. Between
// updates a few milliseconds apart every P is idle, so the first of them
// wakes the runtime's monitor thread, which then polls every 20 µs until
// the process is idle again: a fifth of the CPU of 1,000 busy documents
// (bench S2). So AppendUpdates writes its updates to an append-only file
// with one pwrite and one fdatasync made as raw system calls (no runtime
// entry, sqlite_journal_raw.go), and a flusher moves them into
// doc_updates in batches. Every read or change of doc_updates flushes
// first, so no reader of the Store sees the journal; at open, records the
// database lacks are inserted before anything else runs.

// journalSuffix names the journal beside the database file.
const journalSuffix = "-updates"

const (
	// flushDelay: how long appended records may wait for the flusher.
	flushDelay = 500 * time.Millisecond
	// flushRows and flushBytes flush early when this much is pending.
	flushRows  = 1024
	flushBytes = 16 << 20
	// truncateBytes: past this size a flush moves every pending record,
	// appends held off meanwhile, and empties the file.
	truncateBytes = 4 << 20
	// maxPendingBytes: appends are refused while this much waits for
	// flushes that keep failing.
	maxPendingBytes = 256 << 20
	// A raw fdatasync holds its P (and so delays a stop-the-world) for as
	// long as the disk takes; after one slower than slowSync, syncs go
	// through the runtime for slowHold: a disk that stays slow costs one
	// raw sync per slowHold. This VM's syncs take 0.1-3 ms, with outliers
	// of tens of ms under load.
	slowSync = 20 * time.Millisecond
	slowHold = 2 * time.Second
)

// A record: u32 length of the rest, u32 CRC-32C of the rest, then i64 id,
// i64 created_at, u32 length of the document id, the document id, the
// update.
const (
	recordHeader = 8
	recordFixed  = 20 // id, created_at, the document id's length
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// journalRecord is one update in the journal.
type journalRecord struct {
	id    int64
	at    int64
	docID string
	data  []byte
}

// size is the record's length in the file.
func (r journalRecord) size() int { return recordHeader + recordFixed + len(r.docID) + len(r.data) }

// errJournalBroken: an fdatasync failed, so what the file holds is not
// known; appends are refused until the process restarts and recovers.
var errJournalBroken = errors.New("storage: update journal: a sync failed; restart to recover")

// errJournalHeld: another process (the server, when this is a command
// such as quire token) holds the journal: it alone may write documents'
// logs, as it hands out their ids and moves its records into the database.
var errJournalHeld = errors.New("storage: another Quire process is serving this database; documents' logs are read-only here")

type journal struct {
	f      *os.File
	logger *slog.Logger

	// flushMu makes one flush at a time, and holds flushes off while a
	// change of doc_updates (Compact, deletes) runs after its own flush.
	flushMu sync.Mutex

	mu        sync.Mutex // everything below
	next      int64      // the next row id
	off       int64      // the end of the file's records
	pending   []journalRecord
	pendBytes int
	foreign   bool // another process holds the file (errJournalHeld)
	slowUntil time.Time
	broken    error
	closed    bool

	kick, full, stop chan struct{}
	done             chan struct{}
}

// openJournal opens (creating) the journal beside the database at dbPath,
// inserts the records the database lacks (ids above doc_updates'
// AUTOINCREMENT high-water mark: lower ones were flushed, perhaps
// compacted away since) and empties it.
func (s *SQLiteStore) openJournal(ctx context.Context, dbPath string) error {
	path := dbPath + journalSuffix
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("storage: open update journal: %w", err)
	}
	// The file's name must outlive a crash as its records do; cheap
	// enough to do at every open rather than tell a new file.
	if err := syncDir(filepath.Dir(path)); err != nil {
		f.Close()
		return fmt.Errorf("storage: create update journal: %w", err)
	}
	j := &journal{f: f, logger: s.logger, kick: make(chan struct{}, 1), full: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	held, err := lockFile(f)
	if err != nil {
		f.Close()
		return fmt.Errorf("storage: lock update journal: %w", err)
	}
	if !held {
		// A running server's records are its own to move: replaying or
		// emptying them here would break its flushes and ids.
		j.foreign = true
		close(j.done)
		s.journal = j
		s.logger.Info("update journal held by another process: documents' logs are read-only here")
		return nil
	}
	if err := s.recoverJournal(ctx, j); err != nil {
		f.Close()
		return err
	}
	s.journal = j
	go s.flusher()
	return nil
}

func (s *SQLiteStore) recoverJournal(ctx context.Context, j *journal) error {
	content, err := os.ReadFile(j.f.Name())
	if err != nil {
		return fmt.Errorf("storage: read update journal: %w", err)
	}
	recs, valid := decodeJournal(content)
	var seq, maxID sql.NullInt64
	if err := s.w.QueryRowContext(ctx, "SELECT (SELECT seq FROM sqlite_sequence WHERE name = 'doc_updates'), (SELECT max(id) FROM doc_updates)").Scan(&seq, &maxID); err != nil {
		return fmt.Errorf("storage: read update journal: %w", err)
	}
	// Every id up to floor reached doc_updates (flushed, perhaps deleted
	// since); the records above it did not.
	floor := max(seq.Int64, maxID.Int64)
	high := floor
	var missing []journalRecord
	for _, r := range recs {
		high = max(high, r.id)
		if r.id > floor {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		if err := s.insertRecords(ctx, missing); err != nil {
			return fmt.Errorf("storage: replay update journal: %w", sqliteErr("insert", err))
		}
	}
	if err := j.f.Truncate(0); err != nil {
		return fmt.Errorf("storage: empty update journal: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("storage: empty update journal: %w", err)
	}
	j.next = high + 1
	if len(content) > 0 {
		s.logger.Info("update journal recovered", "records", len(recs), "replayed", len(missing),
			"ignored_tail_bytes", len(content)-valid)
	}
	return nil
}

// decodeJournal reads records up to the first that is cut short or fails
// its checksum (an append the crash interrupted, never acknowledged) and
// returns them with the number of bytes they span.
func decodeJournal(b []byte) ([]journalRecord, int) {
	var recs []journalRecord
	off := 0
	for len(b)-off >= recordHeader {
		n := int(binary.LittleEndian.Uint32(b[off:]))
		sum := binary.LittleEndian.Uint32(b[off+4:])
		body := b[off+recordHeader:]
		if n < recordFixed || n > len(body) || crc32.Checksum(body[:n], crcTable) != sum {
			break
		}
		body = body[:n]
		idLen := int(binary.LittleEndian.Uint32(body[16:]))
		if idLen > n-recordFixed {
			break
		}
		recs = append(recs, journalRecord{
			id:    int64(binary.LittleEndian.Uint64(body)),
			at:    int64(binary.LittleEndian.Uint64(body[8:])),
			docID: string(body[recordFixed : recordFixed+idLen]),
			data:  body[recordFixed+idLen:],
		})
		off += recordHeader + n
	}
	return recs, off
}

// encodeRecords appends the records' encoding to b.
func encodeRecords(b []byte, recs []journalRecord) []byte {
	for _, r := range recs {
		start := len(b)
		b = binary.LittleEndian.AppendUint32(b, uint32(r.size()-recordHeader))
		b = binary.LittleEndian.AppendUint32(b, 0) // the checksum, below
		b = binary.LittleEndian.AppendUint64(b, uint64(r.id))
		b = binary.LittleEndian.AppendUint64(b, uint64(r.at))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(r.docID)))
		b = append(b, r.docID...)
		b = append(b, r.data...)
		binary.LittleEndian.PutUint32(b[start+4:], crc32.Checksum(b[start+recordHeader:], crcTable))
	}
	return b
}

// AppendUpdates appends every update to the journal in one write and one
// fdatasync (durable when it returns) and returns their row ids.
func (s *SQLiteStore) AppendUpdates(ctx context.Context, updates []DocUpdate) ([]int64, error) {
	if len(updates) == 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, sqliteErr("append updates", err)
	}
	j := s.journal
	at := time.Now().UnixNano()
	recs := make([]journalRecord, len(updates))
	ids := make([]int64, len(updates))
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil, sqliteErr("append updates", errors.New("store closed"))
	}
	switch {
	case j.foreign:
		return nil, errJournalHeld
	case j.broken != nil:
		return nil, j.broken
	case j.pendBytes >= maxPendingBytes:
		return nil, fmt.Errorf("storage: append updates: %d bytes of the update journal wait for the database, whose writes fail", j.pendBytes)
	}
	size := 0
	for i, u := range updates {
		recs[i] = journalRecord{id: j.next + int64(i), at: at, docID: u.DocID, data: u.Data}
		ids[i] = recs[i].id
		size += recs[i].size()
	}
	// Taken even if the append fails: a record cutBack could not remove
	// must not share its id with a later one.
	j.next += int64(len(updates))
	buf := encodeRecords(make([]byte, 0, size), recs)
	if err := pwriteAll(j.f, buf, j.off); err != nil {
		j.cutBack()
		return nil, fmt.Errorf("storage: append updates: write journal: %w", err)
	}
	if err := j.sync(); err != nil {
		j.cutBack()
		j.broken = fmt.Errorf("%w (%w)", errJournalBroken, err)
		s.logger.Error("update journal sync failed: refusing appends until restart", "err", err)
		return nil, j.broken
	}
	// Pending records keep their bytes in buf, which nothing writes again,
	// not in the caller's slices.
	for i, off := 0, 0; i < len(recs); i++ {
		n := recs[i].size()
		recs[i].data = buf[off+n-len(recs[i].data) : off+n]
		off += n
	}
	j.off += int64(len(buf))
	wasEmpty := len(j.pending) == 0
	j.pending = append(j.pending, recs...)
	j.pendBytes += len(buf)
	if wasEmpty {
		signal(j.kick)
	}
	if len(j.pending) >= flushRows || j.pendBytes >= flushBytes {
		signal(j.full)
	}
	return ids, nil
}

// cutBack drops whatever a failed append left past the last good record,
// so that it cannot be replayed: its sender was told it failed. If that
// cannot be made durable either, the journal is broken.
func (j *journal) cutBack() {
	err := j.f.Truncate(j.off)
	if err == nil {
		err = j.f.Sync()
	}
	if err != nil && j.broken == nil {
		j.broken = fmt.Errorf("%w (cutting a failed append: %w)", errJournalBroken, err)
		j.logger.Error("update journal: cutting a failed append failed: refusing appends until restart", "err", err)
	}
}

// sync makes the file durable: a raw fdatasync while the disk is quick,
// one through the runtime for slowHold after it was not.
func (j *journal) sync() error {
	start := time.Now()
	var err error
	if start.Before(j.slowUntil) {
		err = j.f.Sync()
	} else {
		err = rawFdatasync(j.f)
	}
	if d := time.Since(start); d > slowSync {
		if !start.Before(j.slowUntil) {
			j.logger.Warn("update journal: a sync was slow; syncing through the runtime for a while",
				"took", d, "for", slowHold)
		}
		j.slowUntil = time.Now().Add(slowHold)
	}
	return err
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// flusher moves pending records into doc_updates flushDelay after the
// first of them, or as soon as flushRows or flushBytes are pending.
func (s *SQLiteStore) flusher() {
	j := s.journal
	defer close(j.done)
	for {
		select {
		case <-j.kick:
		case <-j.stop:
			return
		}
		failed := false
		for {
			// After a failed flush the next try is flushDelay away, however
			// full the journal: every append past flushRows signals full.
			full := j.full
			if failed {
				full = nil
			}
			t := time.NewTimer(flushDelay)
			select {
			case <-t.C:
			case <-full:
				t.Stop()
			case <-j.stop:
				t.Stop()
				return
			}
			err := s.flush(context.Background())
			if failed = err != nil; failed {
				s.logger.Error("update journal: flush failed; will retry", "err", err)
			}
			j.mu.Lock()
			more := len(j.pending) > 0
			j.mu.Unlock()
			if !more {
				break
			}
		}
	}
}

// flush moves every pending record into doc_updates.
func (s *SQLiteStore) flush(ctx context.Context) error {
	s.journal.flushMu.Lock()
	defer s.journal.flushMu.Unlock()
	return s.flushLocked(ctx)
}

// flushLocked is flush under flushMu.
func (s *SQLiteStore) flushLocked(ctx context.Context) error {
	j := s.journal
	j.mu.Lock()
	batch := j.pending
	j.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	if err := s.insertRecords(ctx, batch); err != nil {
		return fmt.Errorf("flush update journal: %w", err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	// Only flushes take from the front, one at a time; appends added
	// behind what was taken.
	j.dropFlushed(len(batch))
	if j.off < truncateBytes || j.broken != nil {
		return nil
	}
	// Under steady appends some are always pending when a flush ends, so
	// the file would never be emptied: move the rest with appends held
	// off, then empty it.
	if len(j.pending) > 0 {
		if err := s.insertRecords(ctx, j.pending); err != nil {
			return fmt.Errorf("flush update journal: %w", err)
		}
		j.dropFlushed(len(j.pending))
	}
	// Everything in the file is in doc_updates. Not synced: a crash that
	// brings old records back finds their ids at or below the database's
	// high-water mark and skips them.
	if err := j.f.Truncate(0); err != nil {
		j.broken = fmt.Errorf("%w (truncate: %w)", errJournalBroken, err)
		return j.broken
	}
	j.off = 0
	return nil
}

// dropFlushed forgets the first n pending records, now in doc_updates.
func (j *journal) dropFlushed(n int) {
	for _, r := range j.pending[:n] {
		j.pendBytes -= r.size()
	}
	j.pending = j.pending[n:]
	if len(j.pending) == 0 {
		j.pending, j.pendBytes = nil, 0
	}
}

// pendingOf returns copies of docID's records not yet in doc_updates.
func (j *journal) pendingOf(docID string) []DocRecord {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []DocRecord
	for _, r := range j.pending {
		if r.docID == docID {
			out = append(out, DocRecord{ID: r.id, Data: append([]byte{}, r.data...)})
		}
	}
	return out
}

// withPending adds to rows read from doc_updates (snapshots first, then
// updates by id) the pending records they lack, keeping that order.
func withPending(rows, pending []DocRecord) []DocRecord {
	if len(pending) == 0 {
		return rows
	}
	have := make(map[int64]bool, len(rows))
	for _, r := range rows {
		have[r.ID] = true
	}
	updates := len(rows)
	for updates > 0 && !rows[updates-1].Snapshot {
		updates--
	}
	for _, p := range pending {
		if !have[p.ID] {
			rows = append(rows, p)
		}
	}
	slices.SortStableFunc(rows[updates:], func(a, b DocRecord) int { return cmp.Compare(a.ID, b.ID) })
	return rows
}

// withJournalFlushed runs fn, a change of doc_updates, after every
// pending record is in doc_updates and with flushes held off: a record
// flushed after it would undo a delete, or collide with a row it wrote.
func (s *SQLiteStore) withJournalFlushed(ctx context.Context, fn func() error) error {
	if s.journal.foreign {
		return errJournalHeld
	}
	s.journal.flushMu.Lock()
	defer s.journal.flushMu.Unlock()
	if err := s.flushLocked(ctx); err != nil {
		return err
	}
	return fn()
}

// reserveID takes a row id for a row written outside the journal (a
// compaction's snapshot), so that ids stay unique and increasing.
func (j *journal) reserveID() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	id := j.next
	j.next++
	return id
}

// closeJournal stops the flusher and flushes what is pending.
func (s *SQLiteStore) closeJournal() error {
	j := s.journal
	if j == nil {
		return nil
	}
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	j.mu.Unlock()
	if j.foreign {
		return j.f.Close() // its lock goes with it
	}
	close(j.stop)
	<-j.done
	err := s.flush(context.Background())
	return errors.Join(err, j.f.Close())
}

// syncDir makes a new name in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
