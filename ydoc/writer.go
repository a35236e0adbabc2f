package ydoc

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/quire/quire/storage"
)

// maxBatch bounds one group commit (rows in one transaction).
const maxBatch = 4096

// commitTimeout bounds one AppendUpdates call, so a stuck database cannot
// hold document owners forever.
const commitTimeout = 30 * time.Second

var errShortAppend = errors.New("ydoc: store returned the wrong number of row ids")

// writeReq is one update on its way to the log. The writer fills id and err,
// then sets done and kicks the owner, which reads the results in its FIFO
// order (a document's requests complete in the order they were sent).
type writeReq struct {
	docID string
	data  []byte
	owner *document

	id   int64
	err  error
	done atomic.Bool
}

// writer is the group-commit goroutine: it takes every request that arrived
// while the previous commit ran, across all documents, and appends them in
// one Store.AppendUpdates call.
type writer struct {
	store storage.Store
	log   *slog.Logger
	met   *metrics
	in    chan *writeReq // closed by Manager.Stop once every owner has exited
	// linger: wait this long after a commit's first request for more
	// (Config.CommitLinger); zero: take only what is already queued.
	linger time.Duration
}

func newWriter(store storage.Store, log *slog.Logger, met *metrics, linger time.Duration) *writer {
	return &writer{store: store, log: log, met: met, in: make(chan *writeReq, maxBatch), linger: linger}
}

func (w *writer) run() {
	batch := make([]*writeReq, 0, maxBatch)
	ups := make([]storage.DocUpdate, 0, maxBatch)
	// A commit costs about the same CPU for one update as for dozens (the
	// WAL frames' writes and the fsync: ~0.2 ms of CPU on this machine), so
	// with updates a few milliseconds apart nearly every commit held one
	// (bench S2). The linger trades latency for fewer commits.
	linger := newStoppedTimer()
	for first := range w.in {
		batch = append(batch[:0], first)
		if w.linger > 0 {
			linger.Reset(w.linger)
		}
	collect:
		for len(batch) < maxBatch {
			var r *writeReq
			ok := true
			if w.linger == 0 {
				select {
				case r, ok = <-w.in:
				default:
					break collect
				}
			} else {
				select {
				case r, ok = <-w.in:
				case <-linger.C:
					break collect
				}
			}
			if !ok {
				break collect // stopping: commit what we have now
			}
			batch = append(batch, r)
		}
		linger.Stop()
		ups = ups[:0]
		for _, r := range batch {
			ups = append(ups, storage.DocUpdate{DocID: r.docID, Data: r.data})
		}
		w.commit(batch, ups)
		clear(batch) // drop references to delivered requests
	}
}

func (w *writer) commit(batch []*writeReq, ups []storage.DocUpdate) {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	start := time.Now()
	ids, err := w.store.AppendUpdates(ctx, ups)
	w.met.commitSeconds.Observe(time.Since(start).Seconds())
	cancel()
	if err == nil && len(ids) != len(batch) {
		err = errShortAppend
	}
	w.met.commitBatch.Observe(float64(len(batch)))
	if err != nil {
		w.log.Error("append updates", "updates", len(batch), "err", err)
	}
	var bytes int
	for i, r := range batch {
		if err != nil {
			r.err = err
		} else {
			r.id = ids[i]
			bytes += len(r.data)
		}
		r.done.Store(true)
	}
	if err == nil {
		w.met.bytesPersisted.Add(float64(bytes))
	}
	// Kick after every result is set: an owner may then find several of its
	// requests done at once.
	for _, r := range batch {
		r.owner.wake()
	}
}
