package ydoc

import (
	"slices"
	"time"
)

// compactRetry is how long a failed compaction waits before the next try.
const compactRetry = time.Minute

// maybeCompact starts a background compaction once the log has more than
// CompactRows rows. The snapshot is the owner's current state, taken on the
// owner, with the ids of exactly the rows it contains; held rows (missing
// dependencies) stay as they are. Store.Compact inserts the snapshot and
// deletes those rows in one transaction, so a crash loses nothing.
func (d *document) maybeCompact() {
	if d.compacting || d.broken || d.forgotten || len(d.applied)+len(d.held) <= d.m.cfg.CompactRows ||
		time.Now().Before(d.compactAfter) {
		return
	}
	st, err := d.currentState()
	if err != nil || d.broken {
		return // rebuilt: d.applied no longer matches what st would hold
	}
	ids := slices.Clone(d.applied)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	sizeAt := d.size
	d.compacting = true
	store, docID := d.m.cfg.Store, d.id
	d.m.goBackground(func() {
		ctx, cancel := d.ctx()
		defer cancel()
		snapshot, err := store.Compact(ctx, docID, st.Update, ids)
		d.bg <- func() { d.compacted(ids, snapshot, len(st.Update), sizeAt, err) }
	})
}

// compacted records a finished compaction on the owner. Only this
// compaction's snapshot joins d.applied: its content is in d.doc. A
// snapshot another instance wrote is not, so it must never be deleted here.
func (d *document) compacted(ids []int64, snapshot int64, merged, sizeAt int, err error) {
	d.compacting = false
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
	d.size = merged + max(d.size-sizeAt, 0)
	d.m.log.Debug("compacted document", "doc", d.id, "rows", len(ids), "bytes", merged)
	// Rows committed while this one ran were not compacted (maybeCompact
	// skips while compacting): check again now, not only on the next write.
	d.maybeCompact()
}
