package ydoc

import (
	"bytes"
	"sync/atomic"
	"time"

	y "github.com/skyterra/y-crdt"

	"github.com/quire/quire/yupdate"
)

// Several instances share one document log (PostgreSQL). Each instance
// stores what its own sockets send and relays it once durable; the others
// receive the relayed update through the broker and apply it to their live
// copy here, without storing it again (it is in the log already). Updates
// that arrive before their dependencies are held, as local ones are. What
// the broker may have lost (Redis away, a full publish queue, the moment
// between loading a document and subscribing to its room) is read back
// from the log: Resync.

// Commands of other instances' updates (document.go's cmdKind).
const (
	cmdRemote     cmdKind = 100 + iota // apply an update another instance stored
	cmdResync                          // read the log and apply what is missing
	cmdResyncHeld                      // cmdResync, if remote updates are still held
)

// HeldResyncDelayDefault: a remote update still waiting for its
// dependencies this long after it arrived makes the document read the log
// (they were lost on the way, or are about to arrive; reading is harmless).
const HeldResyncDelayDefault = 2 * time.Second

// remoteState is a document's cross-instance bookkeeping; the flags are
// set by any goroutine, the rest is the owner's.
type remoteState struct {
	resyncQueued atomic.Bool // a cmdResync is in the inbox
	heldCheck    atomic.Bool // a cmdResyncHeld is scheduled
}

// Live reports whether the document is loaded here: only then does an
// update from another instance concern this one (no decode otherwise).
func (m *Manager) Live(docID string) bool {
	return m.withLive(docID, func(*document) {})
}

// ApplyRemote queues an update another instance stored and relayed, if the
// document is live here; it never blocks and never loads the document. A
// full inbox makes the document read the log instead.
func (m *Manager) ApplyRemote(docID string, update []byte) {
	m.withLive(docID, func(d *document) {
		if !d.inbox.push(&command{kind: cmdRemote, update: update}, false) {
			m.pushResyncLocked(d, cmdResync)
		}
	})
}

// Resync makes the live document docID ("" for every live document) read
// its log and apply what it lacks, relaying that to this instance's
// sockets: after the broker may have lost messages, and when this instance
// has just subscribed to the document's room.
func (m *Manager) Resync(docID string) {
	if docID != "" {
		m.withLive(docID, func(d *document) { m.pushResyncLocked(d, cmdResync) })
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state != stateRunning {
		return
	}
	for _, d := range m.docs {
		m.pushResyncLocked(d, cmdResync)
	}
}

func (m *Manager) pushResyncLocked(d *document, kind cmdKind) {
	if kind == cmdResync && d.remote.resyncQueued.Swap(true) {
		return // one queued is enough: it reads the log when it runs
	}
	d.inbox.push(&command{kind: kind}, true)
}

// Resyncs is how many times live documents read their log for missing
// updates since Start (tests, metrics).
func (m *Manager) Resyncs() int64 { return m.resyncs.Load() }

func (d *document) handleRemote(c *command) {
	switch c.kind {
	case cmdRemote:
		d.applyRemote(c.update)
	case cmdResync:
		d.remote.resyncQueued.Store(false)
		d.resync()
	case cmdResyncHeld:
		for _, r := range d.held {
			if r.remote && !r.checked {
				d.resync()
				break
			}
		}
	}
	c.done(State{}, nil)
}

// applyRemote applies an update another instance made durable and relayed
// (its sockets and this instance's got it from the broker already).
func (d *document) applyRemote(update []byte) {
	u, err := yupdate.Parse(update, yupdate.Limits{MaxBytes: max(d.m.cfg.MaxDocumentBytes, len(update))})
	if err != nil {
		d.m.log.Error("update from another instance is invalid; ignoring it", "doc", d.id, "err", err)
		return
	}
	if d.contains(u) {
		return
	}
	d.size += len(update)
	if u.Missing(d.sv) {
		d.holdRemote(update, u)
		return
	}
	if err := d.applyRaw(update, u); err != nil {
		d.m.log.Error("update from another instance crashed the document; rebuilding it from storage", "doc", d.id, "err", err)
		d.rebuild()
		return
	}
	d.m.met.updatesApplied.Inc()
	d.changed()
	d.releaseAfterRemote()
}

// holdRemote keeps an update whose dependencies have not arrived, and
// reads the log if they still have not after HeldResyncDelayDefault.
func (d *document) holdRemote(update []byte, u *yupdate.Update) {
	for _, r := range d.held {
		if bytes.Equal(r.data, update) {
			return // held already (a local row read from the log, or remote)
		}
	}
	if len(d.held) >= d.m.cfg.MaxHeld {
		d.resync() // the log has them all, in an order that applies
		return
	}
	d.hold(&row{data: update, upd: u, remote: true})
	if !d.remote.heldCheck.Swap(true) {
		m := d.m
		time.AfterFunc(HeldResyncDelayDefault, func() {
			d.remote.heldCheck.Store(false)
			m.mu.Lock()
			defer m.mu.Unlock()
			if m.docs[d.id] == d && m.state == stateRunning {
				m.pushResyncLocked(d, cmdResyncHeld)
			}
		})
	}
}

// markHeldForJoiner: a session joining now gets a state without the
// remote updates held here, and it was not in the room when the broker
// delivered them; each is relayed to this instance's sockets when it is
// released, or the joiner would hold everything after it as pending.
func (d *document) markHeldForJoiner() {
	for _, r := range d.held {
		if r.remote {
			r.joined = true
		}
	}
}

// releaseAfterRemote applies the held updates a remote one unblocked; the
// local ones among them are relayed now (queued behind what is in flight).
func (d *document) releaseAfterRemote() {
	if err := d.release(true); err != nil {
		d.m.log.Error("held update crashed the document; rebuilding it from storage", "doc", d.id, "err", err)
		d.rebuild()
	}
	d.complete() // relays released local rows if nothing is in flight before them
}

// resync reads the document's log and applies every row the Doc lacks,
// then sends this instance's sockets the difference. Rows written here and
// still in flight are in the Doc already; nothing is stored.
func (d *document) resync() {
	d.m.resyncs.Add(1)
	for _, r := range d.held {
		r.checked = true // this reading covers them
	}
	ctx, cancel := d.ctx()
	st, err := d.m.cfg.Store.LoadDocument(ctx, d.id)
	cancel()
	if err != nil {
		d.m.log.Error("resynchronise document from the log", "doc", d.id, "err", err)
		return
	}
	var before []byte
	if err := d.guard(func() { before = y.EncodeStateVector(d.doc, nil, y.NewUpdateEncoderV1()) }); err != nil {
		return // rebuilt from the log by guard: nothing more to read
	}
	changed := false
	for _, rec := range st.Records {
		u, err := yupdate.Parse(rec.Data, yupdate.Limits{MaxBytes: max(d.m.cfg.MaxDocumentBytes, len(rec.Data))})
		if err != nil || d.contains(u) {
			continue
		}
		if u.Missing(d.sv) {
			d.holdRemote(rec.Data, u)
			continue
		}
		if err := d.applyRaw(rec.Data, u); err != nil {
			d.m.log.Error("stored update crashed the document; rebuilding it from storage", "doc", d.id, "row", rec.ID, "err", err)
			d.rebuild()
			return
		}
		changed = true
	}
	if !changed {
		return
	}
	d.m.met.updatesApplied.Inc()
	d.changed()
	d.releaseAfterRemote()
	if d.broken || d.doc == nil {
		return
	}
	var diff []byte
	if err := d.guard(func() { diff = y.EncodeStateAsUpdate(d.doc, before) }); err == nil {
		d.m.cfg.RelayLocal(d.id, diff)
	}
}
