package ydoc

import (
	"errors"
	"slices"
	"time"

	"github.com/quire/quire/storage"
)

// compactRetry is how long a failed compaction waits before the next try.
const compactRetry = time.Minute

// compaction is a snapshot on its way to Store.Compact.
type compaction struct {
	st     State
	ids    []int64 // the stored rows the snapshot replaces
	sizeAt int
	after  uint64 // entry seq that must be stored first
	gen    uint64 // the Doc the snapshot was taken from
}

// maybeCompact starts a background compaction once the log has more than
// CompactRows rows. The snapshot is the owner's current state, taken on the
// owner, with the ids of exactly the rows it contains; held rows (missing
// dependencies) stay as they are. Store.Compact inserts the snapshot and
// deletes those rows in one transaction, so a crash loses nothing.
//
// The state also holds the updates still being written. Such a snapshot is
// stored only once they are (compactionReady): were one of them to fail,
// the snapshot would make durable an update its sender was told was
// refused. Their own rows stay in the log until the next compaction.
func (d *document) maybeCompact() {
	if d.compacting || d.compactWait != nil || d.broken || d.forgotten ||
		len(d.applied)+len(d.held) <= d.m.cfg.CompactRows || time.Now().Before(d.compactAfter) {
		return
	}
	st, err := d.currentState()
	if err != nil || d.broken {
		return // rebuilt: d.applied no longer matches what st would hold
	}
	ids := slices.Clone(d.applied)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	job := &compaction{st: st, ids: ids, sizeAt: d.size, gen: d.gen}
	if n := len(d.inflight); n > 0 {
		job.after = d.inflight[n-1].seq
		d.compactWait = job
		return
	}
	d.startCompaction(job)
}

// compactionReady starts the waiting compaction once the writes its
// snapshot holds are stored, and drops it if the Doc was rebuilt meanwhile
// (a write failed, or a panic): the snapshot may hold what storage refused.
func (d *document) compactionReady() {
	j := d.compactWait
	if j == nil || (j.after > d.doneSeq && !d.broken) {
		return
	}
	d.compactWait = nil
	if j.gen == d.gen && !d.broken && !d.forgotten {
		d.startCompaction(j)
	}
}

func (d *document) startCompaction(j *compaction) {
	d.compacting = true
	store, docID := d.m.cfg.Store, d.id
	d.m.goBackground(func() {
		ctx, cancel := d.ctx()
		defer cancel()
		var snapshot int64
		var err error
		if l, shared := store.(storage.CompactLocker); shared {
			snapshot, err = l.TryCompact(ctx, docID, j.st.Update, j.ids) // one instance at a time
		} else {
			snapshot, err = store.Compact(ctx, docID, j.st.Update, j.ids)
		}
		d.inbox.post(func() { d.compacted(j.ids, snapshot, len(j.st.Update), j.sizeAt, err) })
	})
}

// compacted records a finished compaction on the owner. Only this
// compaction's snapshot joins d.applied: its content is in d.doc. A
// snapshot another instance wrote is not, so it must never be deleted here.
func (d *document) compacted(ids []int64, snapshot int64, merged, sizeAt int, err error) {
	d.compacting = false
	if errors.Is(err, storage.ErrCompactionBusy) {
		d.m.log.Debug("another instance is compacting the document; later", "doc", d.id)
		d.compactAfter = time.Now().Add(compactRetry)
		return
	}
	if err != nil {
		d.m.log.Error("compact document", "doc", d.id, "err", err)
		d.compactAfter = time.Now().Add(compactRetry)
		return
	}
	d.m.met.compactions.Inc()
	d.applied = slices.DeleteFunc(d.applied, func(id int64) bool {
		_, found := slices.BinarySearch(ids, id)
		return found
	})
	if !slices.Contains(d.applied, snapshot) { // a rebuild may have read it already
		d.applied = append(d.applied, snapshot)
	}
	if cap(d.applied) > 4*len(d.applied)+64 {
		d.applied = slices.Clone(d.applied) // let the long backing array go
	}
	d.size = merged + max(d.size-sizeAt, 0)
	d.m.log.Debug("compacted document", "doc", d.id, "rows", len(ids), "bytes", merged)
	// Rows committed while this one ran were not compacted (maybeCompact
	// skips while compacting): check again now, not only on the next write.
	d.maybeCompact()
}
