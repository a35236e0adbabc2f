package storage

import (
	"context"
	"errors"
)

// ErrCompactionBusy: another instance is compacting the document now;
// nothing was changed, try later.
var ErrCompactionBusy = errors.New("storage: another instance is compacting the document")

// CompactLockClass is the first key of PostgreSQL's advisory lock that
// Compact holds for a document (the second is hashtext(doc_id)).
const CompactLockClass int32 = 0x71756972 // "quir"

// DocUpdate is one Yjs v1 update to append to a document's log.
type DocUpdate struct {
	DocID string // e.g. "note:<id>"
	Data  []byte
}

// DocRecord is one stored row of a document's log: an update as a client
// sent it, or a merged snapshot written by compaction.
type DocRecord struct {
	ID       int64
	Data     []byte
	Snapshot bool
}

// DocState is everything stored for one document, oldest row first.
type DocState struct {
	Records []DocRecord
}

// Empty reports whether the document has no stored CRDT state.
func (s DocState) Empty() bool { return len(s.Records) == 0 }

// IDs returns the ids of the rows read, for Compact.
func (s DocState) IDs() []int64 {
	ids := make([]int64, len(s.Records))
	for i, r := range s.Records {
		ids[i] = r.ID
	}
	return ids
}

// DocLog is the append-only update log of every collaborative document
// (STYLE 5): append, load, compact by inserting the merge and deleting the
// rows read.
type DocLog interface {
	// AppendUpdates appends every update in one transaction (group commit)
	// and returns after it is durable. Updates of one document keep their
	// order. Returns the new row ids, in input order.
	AppendUpdates(ctx context.Context, updates []DocUpdate) ([]int64, error)
	// LoadDocument returns every stored row of the document: snapshot rows
	// first, then updates in append order; an empty DocState (not an error)
	// when nothing is stored.
	LoadDocument(ctx context.Context, docID string) (DocState, error)
	// Compact inserts merged as a snapshot row and deletes exactly the rows
	// whose ids are given, in one transaction, and returns the snapshot
	// row's id (the caller's next compaction may delete it: its content is
	// the caller's). A racing compaction can only leave extra snapshot rows,
	// which are mergeable duplicates: nothing is lost.
	Compact(ctx context.Context, docID string, merged []byte, readIDs []int64) (int64, error)
	// DeleteDocument removes a document's whole log.
	DeleteDocument(ctx context.Context, docID string) error
}

// CompactLocker is the optional part of a Store shared by several
// instances (PostgreSQL): TryCompact is Compact unless another instance is
// compacting the same document at that moment, when it changes nothing
// and answers ErrCompactionBusy.
type CompactLocker interface {
	TryCompact(ctx context.Context, docID string, merged []byte, readIDs []int64) (int64, error)
}
