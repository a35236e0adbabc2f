package ydoc

import (
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/quire/quire/prosemirror"
	"github.com/quire/quire/storage"
)

// render takes the merged document (on the owner) and writes it into the
// note's data.content in the background; one render runs at a time per
// document, a change meanwhile re-arms the debounce.
func (d *document) render() {
	if !d.dirty || d.broken || d.forgotten {
		return
	}
	if d.rendering {
		d.armRender(time.Now(), d.m.cfg.RenderDebounce)
		return
	}
	var pm *prosemirror.Node
	if err := d.guard(func() { pm = readProseMirror(d.doc) }); err != nil {
		d.m.log.Error("read document for rendering", "doc", d.id, "err", err)
		return
	}
	d.dirty = false
	d.lastRender = time.Now()
	d.rendering = true
	d.m.goBackground(func() {
		// A renderer bug must cost a rendering, not the process.
		err := protect(func() error { return d.m.writeContent(d.noteID, pm) })
		d.inbox.post(func() {
			d.rendering = false
			switch {
			case errors.Is(err, storage.ErrNotFound):
				d.m.log.Debug("render: note is gone", "doc", d.id)
			case err != nil:
				d.m.log.Error("render document into note", "doc", d.id, "err", err)
			}
		})
	})
}

// writeContent stores pm as the note's data.content {md, html, json},
// keeping every other data key (Open WebUI's shallow merge), through the
// content writer: renders of many documents share one transaction.
func (m *Manager) writeContent(noteID string, pm *prosemirror.Node) error {
	content, err := json.Marshal(prosemirror.ContentOf(pm))
	if err != nil {
		return err
	}
	req := &contentReq{c: storage.NoteContent{NoteID: noteID, Content: content, UpdatedAt: time.Now().UnixNano()}, done: make(chan error, 1)}
	m.contents.in <- req
	return <-req.done
}

// contentReq is one rendering on its way to the note.
type contentReq struct {
	c    storage.NoteContent
	done chan error // buffered: the writer never waits for the reader
}

// contentWriter is the group-commit goroutine of renderings: it stores the
// renderings that arrive within contentLinger of each other in one
// Store.SetNoteContents call (one transaction and one fsync, not one per
// document).
type contentWriter struct {
	store storage.Store
	log   *slog.Logger
	in    chan *contentReq // closed by Manager.Stop once every owner has exited
}

func newContentWriter(store storage.Store, log *slog.Logger) *contentWriter {
	return &contentWriter{store: store, log: log, in: make(chan *contentReq, maxContentBatch)}
}

// maxContentBatch bounds the notes written in one transaction.
const maxContentBatch = 256

// contentLinger is how long a batch waits for more renderings after its
// first. Renderings are debounced by seconds anyway, and they arrive spread
// out: without the wait nearly every batch held one, and cost a commit.
const contentLinger = 200 * time.Millisecond

func (w *contentWriter) run() {
	batch := make([]*contentReq, 0, maxContentBatch)
	contents := make([]storage.NoteContent, 0, maxContentBatch)
	linger := newStoppedTimer()
	for first := range w.in {
		batch = append(batch[:0], first)
		linger.Reset(contentLinger)
	collect:
		for len(batch) < maxContentBatch {
			select {
			case r, ok := <-w.in:
				if !ok {
					break collect // stopping: write what we have now
				}
				batch = append(batch, r)
			case <-linger.C:
				break collect
			}
		}
		linger.Stop()
		contents = contents[:0]
		for _, r := range batch {
			contents = append(contents, r.c)
		}
		ctx, cancel := contextWithTimeout()
		errs, err := w.store.SetNoteContents(ctx, contents)
		cancel()
		if err == nil && len(errs) != len(batch) {
			err = errors.New("ydoc: store returned the wrong number of results")
		}
		for i, r := range batch {
			if err != nil {
				r.done <- err
			} else {
				r.done <- errs[i]
			}
		}
		clear(batch)
	}
}
