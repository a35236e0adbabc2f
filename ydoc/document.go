package ydoc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	y "github.com/skyterra/y-crdt"

	"github.com/quire/quire/prosemirror"
	"github.com/quire/quire/yupdate"
)

type cmdKind uint8

const (
	cmdJoin cmdKind = iota
	cmdLeave
	cmdState
	cmdApply
	cmdReplace
	cmdForget
)

// command is one request to a document's owner.
type command struct {
	kind   cmdKind
	sid    string
	update []byte
	pm     *prosemirror.Node
	start  time.Time
	reply  chan result // buffered: the owner never blocks on a caller that gave up
}

type result struct {
	state State
	err   error
}

func (c *command) done(st State, err error) {
	if c != nil && c.reply != nil {
		c.reply <- result{st, err}
	}
}

// row is one stored (or in-flight) row of the document log that the owner
// tracks: applied rows only by id (for compaction), held rows with their
// bytes until their dependencies arrive.
type row struct {
	id      int64 // 0 until committed
	data    []byte
	upd     *yupdate.Update
	sid     string // sender, so a late broadcast skips it
	applied bool
	remote  bool // stored and relayed by another instance: never relayed here
	checked bool // remote, and the log was read since it was held (remote.go)
	// joined: remote, and a session joined while it was held; its state
	// lacked this update, which the broker gave only the sockets then in
	// the room, so its release relays it here (remote.go).
	joined bool
}

// entry is one step of the owner's FIFO of acknowledgements: it completes
// (reply, then broadcast if applied) once its write, if any, is durable.
type entry struct {
	seq     uint64
	req     *writeReq // nil: nothing to wait for (a released held row)
	cmd     *command
	update  []byte
	sid     string
	upd     *yupdate.Update
	applied bool // broadcast when complete
	held    *row // the row this write stores, when it was held
}

// waiter is a Join/State reply waiting for the updates in its state to be
// durable: nothing not yet stored is shown to anyone.
type waiter struct {
	cmd   *command
	st    State
	after uint64 // entry seq that must complete first
	gen   uint64 // doc generation the state came from
}

// document is one live document. Fields below the line are owned by the
// owner (work, run on one goroutine at a time) and touched by nothing else.
type document struct {
	m      *Manager
	id     string // "note:<id>"
	noteID string
	inbox  inbox // commands, events and background results; starts the owner

	// --- owner only ---
	loaded   bool
	stopping bool // Manager.Stop: finish what was accepted, then unload
	doc      *y.Doc
	sv       map[uint64]uint64 // doc's state vector, kept in step with applies
	gen      uint64            // bumps when doc is rebuilt
	size     int               // bytes stored in the log (approximate document size)
	state    *State            // cache for this version; nil after a change (statecache.go)
	stateDue time.Time         // when state is dropped
	sessions map[string]struct{}

	timer   *time.Timer // AfterFunc for the earliest deadline below (timer.go); nil until needed
	timerAt time.Time   // when timer fires; zero when it is not armed

	applied  []int64 // ids of rows whose content is in doc
	held     []*row  // rows waiting for dependencies
	inflight []*entry
	seq      uint64
	doneSeq  uint64
	waiters  []waiter

	dirty        bool // changed since the last render was taken
	firstDirty   time.Time
	lastRender   time.Time // when the last render took the document
	rendering    bool
	renderArmed  bool      // a render is due at renderDue
	renderDue    time.Time // when the render, last armed, is due (tests read it)
	compacting   bool
	compactWait  *compaction // taken, waiting for the writes it holds (compact.go)
	compactAfter time.Time
	broken       bool // rebuild failed: refuse everything, unload when answered
	forgotten    bool // the note was deleted: refuse everything, unload when quiet
	lastActivity time.Time
	idleDue      time.Time // when to look whether the document may unload

	remote remoteState // other instances' updates (remote.go)
}

// newDocument makes a document; its first command starts its owner, which
// loads it. The Manager counts it in owners until it is done (finish).
func newDocument(m *Manager, id, noteID string) *document {
	d := &document{
		m:        m,
		id:       id,
		noteID:   noteID,
		sessions: make(map[string]struct{}),
	}
	d.inbox.max = m.cfg.InboxSize
	d.inbox.owner = d.work
	d.inbox.spawn = m.pool.run
	return d
}

// wake tells the owner that some of its writes completed.
func (d *document) wake() { d.inbox.signal(evKick) }

// work is the owner: it runs while the document has mail and returns when
// it has none (the next mail starts it again), so an idle loaded document
// costs no goroutine. Runs are serialised by the inbox: one at a time, each
// seeing everything the previous one did.
func (d *document) work() {
	if !d.loaded {
		d.loaded = true
		if err := d.load(); err != nil {
			d.failAll(err)
			d.finish()
			return
		}
		d.lastActivity = time.Now()
		d.idleDue = d.lastActivity.Add(d.m.cfg.IdleTimeout)
		// A log that grew long while nobody here wrote to it (another
		// instance, failed compactions) is compacted now, not on the next
		// write: until then d.applied holds an id per row, and every load
		// replays them all.
		d.maybeCompact()
	}
	for {
		d.rearm()
		c, ev, bg, ok := d.inbox.take()
		if !ok {
			return
		}
		if d.round(c, ev, bg) {
			d.finish()
			return
		}
	}
}

// round handles one take of mail; true when the document is done.
func (d *document) round(c *command, ev uint8, bg []func()) bool {
	if ev&evStop != 0 {
		d.stopping = true
	}
	for _, f := range bg {
		f()
	}
	if ev&evKick != 0 {
		d.complete()
	}
	if c != nil {
		d.handle(c)
	}
	if ev&evTimer != 0 && !d.stopping && d.onTimer() {
		return true
	}
	if d.broken && len(d.inflight) == 0 {
		d.failWaiters()
		d.failAll(ErrUnavailable)
		d.unloaded()
		return true
	}
	if d.forgotten && len(d.inflight) == 0 && !d.rendering && !d.compacting {
		d.discard()
		return true
	}
	if d.stopping {
		return d.drained()
	}
	return false
}

// finish ends the document: no owner runs for it again.
func (d *document) finish() {
	d.stopTimer()
	d.inbox.exit()
	d.m.owners.Done()
}

// forget (cmdForget) stops serving a deleted note's document: nothing more
// is accepted and a pending render is dropped.
func (d *document) forget() {
	d.forgotten = true
	d.dirty = false
	d.renderArmed = false
	clear(d.sessions)
}

// discard unloads a forgotten document once its writes, render and
// compaction are done, deleting any rows they stored after the note was
// deleted (DeleteNote removed the log; an update in flight may have
// appended to it again).
func (d *document) discard() {
	ctx, cancel := d.ctx()
	err := d.m.cfg.Store.DeleteDocument(ctx, d.id)
	cancel()
	if err != nil {
		d.m.log.Error("delete the log of a deleted note", "doc", d.id, "err", err)
	}
	d.failWaiters()
	d.failAll(ErrUnknownDocument)
	d.unloaded()
}

// failAll answers every queued command with err until the document leaves
// the registry (a later command then retries the load).
func (d *document) failAll(err error) {
	for {
		if c := d.inbox.pop(); c != nil {
			c.done(State{}, err)
		} else if d.m.unregister(d) {
			return
		}
	}
}

// drained reports, while stopping, whether everything accepted before Stop
// is finished (queued commands, writes in flight, a pending render, a
// running compaction), and then unloads. Not yet: what is pending posts
// mail when it ends (the writer's kick, the background result).
func (d *document) drained() bool {
	if d.inbox.len() > 0 || len(d.inflight) > 0 {
		return false
	}
	if d.dirty && !d.rendering {
		d.render()
	}
	if d.broken {
		d.failWaiters()
	}
	if d.rendering || d.compacting {
		return false
	}
	d.m.unregister(d)
	d.unloaded()
	return true
}

func (d *document) failWaiters() {
	for _, w := range d.waiters {
		w.cmd.done(State{}, ErrUnavailable)
	}
	d.waiters = nil
}

func (d *document) unloaded() {
	d.m.met.heldUpdates.Sub(float64(len(d.held)))
	d.dropState()
	d.held, d.doc = nil, nil
}

// idle: nothing in flight, nothing to render, and no command for
// IdleTimeout, or for InactiveTimeout while sessions are registered (a tab
// left open on a note must not keep it loaded for good: its next update or
// join loads it again).
func (d *document) idle() bool {
	return len(d.inflight) == 0 && len(d.waiters) == 0 &&
		!d.dirty && !d.rendering && !d.compacting && d.compactWait == nil &&
		time.Since(d.lastActivity) >= d.quiet()
}

// quiet is how long the document must go without a command to unload.
func (d *document) quiet() time.Duration {
	if len(d.sessions) > 0 {
		return max(d.m.cfg.IdleTimeout, d.m.cfg.InactiveTimeout)
	}
	return d.m.cfg.IdleTimeout
}

// nextIdleCheck is when to look again whether the document may unload:
// when its quiet time would end, or, if it has ended but work is pending,
// IdleTimeout from now. A document with sessions used to look every
// IdleTimeout (30 s) for the whole InactiveTimeout (10 min): 33 wake-ups a
// second for 1,000 open documents doing nothing.
func (d *document) nextIdleCheck() time.Duration {
	if left := d.quiet() - time.Since(d.lastActivity); left > 0 {
		return left
	}
	return d.m.cfg.IdleTimeout
}

func (d *document) handle(c *command) {
	d.lastActivity = time.Now()
	if d.broken && c.kind != cmdLeave {
		c.done(State{}, ErrUnavailable)
		return
	}
	if d.forgotten && c.kind != cmdLeave {
		c.done(State{}, ErrUnknownDocument)
		return
	}
	switch c.kind {
	case cmdJoin:
		d.sessions[c.sid] = struct{}{}
		d.markHeldForJoiner()
		d.replyState(c)
	case cmdLeave:
		d.leave(c.sid)
	case cmdState:
		d.replyState(c)
	case cmdApply:
		d.apply(c)
	case cmdReplace:
		d.replace(c)
	case cmdForget:
		d.forget()
		c.done(State{}, nil)
	case cmdRemote, cmdResync, cmdResyncHeld:
		d.handleRemote(c) // remote.go
	}
}

func (d *document) leave(sid string) {
	delete(d.sessions, sid)
	if len(d.sessions) == 0 {
		d.idleDue = time.Now().Add(d.m.cfg.IdleTimeout)
	}
}

// currentState encodes the document once per version (while cached:
// statecache.go).
func (d *document) currentState() (State, error) {
	if st := d.cachedState(); st != nil {
		return *st, nil
	}
	var upd []byte
	if err := d.guard(func() {
		if d.m.hookEncode != nil {
			d.m.hookEncode()
		}
		upd = y.EncodeStateAsUpdate(d.doc, nil)
	}); err != nil {
		// Rebuilt by guard. Never answer [0,0] here: that would show an
		// empty document to a joiner, and a compaction would store it.
		return State{}, err
	}
	st := &State{Update: upd}
	d.cacheState(st)
	return *st, nil
}

// replyState answers with the current state once everything it contains
// is durable.
func (d *document) replyState(c *command) {
	st, err := d.currentState()
	if err != nil {
		d.m.log.Error("encoding the document state crashed; rebuilt it from storage", "doc", d.id, "err", err)
		d.refuse(c, reasonPanic, ErrUnavailable)
		return
	}
	if len(d.inflight) == 0 {
		c.done(st, nil)
		return
	}
	d.waiters = append(d.waiters, waiter{cmd: c, st: st, after: d.inflight[len(d.inflight)-1].seq, gen: d.gen})
}

func (d *document) refuse(c *command, reason string, err error) {
	d.m.met.updatesRefused.WithLabelValues(reason).Inc()
	c.done(State{}, err)
}

func (d *document) apply(c *command) {
	max := d.m.cfg.MaxDocumentBytes
	if len(c.update) > max || d.size+len(c.update) > max {
		d.refuse(c, reasonTooLarge, ErrTooLarge)
		return
	}
	u, err := yupdate.Parse(c.update, yupdate.Limits{MaxBytes: max})
	if err != nil {
		// Not logged here: the caller that refuses it logs it, once, with
		// this detail (protocol.md §9.5).
		d.refuse(c, reasonInvalid, fmt.Errorf("%w: %w", ErrInvalidUpdate, err))
		return
	}
	if d.contains(u) {
		c.done(State{}, nil) // a duplicate: nothing to store or relay
		return
	}
	if u.Missing(d.sv) {
		if len(d.held) >= d.m.cfg.MaxHeld {
			d.refuse(c, reasonBusy, ErrBusy)
			return
		}
		r := &row{data: c.update, upd: u, sid: c.sid}
		d.hold(r)
		d.write(&entry{cmd: c, update: c.update, sid: c.sid, upd: u, held: r})
		return
	}
	if err := d.applyRaw(c.update, u); err != nil {
		d.m.log.Error("update crashed the document; rebuilding it from storage", "doc", d.id, "socket", c.sid, "err", err)
		d.rebuild()
		d.refuse(c, reasonPanic, ErrInvalidUpdate)
		return
	}
	d.m.met.updatesApplied.Inc()
	d.changed()
	// Queue this update before the held ones it unblocks: relay order is
	// dependency order.
	d.write(&entry{cmd: c, update: c.update, sid: c.sid, upd: u, applied: true})
	if err := d.release(true); err != nil {
		d.m.log.Error("held update crashed the document; rebuilding it from storage", "doc", d.id, "err", err)
		d.rebuild()
	}
}

// contains reports whether everything u inserts is in the document and it
// deletes nothing (deletes are not in the state vector; storing a repeated
// delete is harmless).
func (d *document) contains(u *yupdate.Update) bool {
	if len(u.Deletes) > 0 {
		return false
	}
	for client, ranges := range u.Structs {
		if len(ranges) > 0 && ranges[len(ranges)-1].End() > d.sv[client] {
			return false
		}
	}
	return true
}

func (d *document) hold(r *row) {
	d.held = append(d.held, r)
	d.m.met.heldUpdates.Inc()
}

// release applies every held row whose dependencies are now present (each
// one can unblock others). live: count it, schedule a render and queue its
// relay after what is in flight (it depends on that); a load or rebuild
// relays nothing.
func (d *document) release(live bool) error {
	for progress := true; progress && len(d.held) > 0; {
		progress = false
		for i := 0; i < len(d.held); i++ {
			r := d.held[i]
			if r.upd.Missing(d.sv) {
				continue
			}
			d.held = slices.Delete(d.held, i, i+1)
			i--
			d.m.met.heldUpdates.Dec()
			progress = true
			if !d.contains(r.upd) {
				if err := d.applyRaw(r.data, r.upd); err != nil {
					return err
				}
				if live {
					d.m.met.updatesApplied.Inc()
					d.changed()
				}
			}
			r.applied = true
			if r.id != 0 {
				d.applied = append(d.applied, r.id)
			}
			if live && !r.remote {
				d.push(&entry{update: r.data, sid: r.sid, applied: true})
			}
			if live && r.remote && r.joined {
				d.m.cfg.RelayLocal(d.id, r.data)
			}
			r.data, r.upd = nil, nil
		}
	}
	return nil
}

// rebuild discards the Doc and builds it again from storage plus the
// writes still in flight. If that fails the document is broken: it
// refuses commands until its writes are answered, then unloads.
func (d *document) rebuild() {
	d.gen++
	ctx, cancel := d.ctx()
	defer cancel()
	st, err := d.m.cfg.Store.LoadDocument(ctx, d.id)
	if err == nil {
		err = d.build(st.Records)
	}
	if err == nil {
		err = d.replayInflight()
	}
	if err != nil {
		d.m.log.Error("rebuild document", "doc", d.id, "err", err)
		d.broken = true
		return
	}
	d.changed()
}

// replayInflight applies again the writes that may still succeed: the Doc
// was rebuilt from the log, which may or may not have them yet.
func (d *document) replayInflight() error {
	for _, e := range d.inflight {
		if e.req == nil || e.upd == nil || e.req.done.Load() && e.req.err != nil {
			continue
		}
		d.size += len(e.update)
		switch {
		case d.contains(e.upd):
		case e.upd.Missing(d.sv):
			r := &row{data: e.update, upd: e.upd, sid: e.sid}
			if e.req.done.Load() {
				r.id = e.req.id
			}
			e.held = r
			d.hold(r)
		default:
			if err := d.applyRaw(e.update, e.upd); err != nil {
				return err
			}
			e.held = nil
		}
	}
	return d.release(false)
}

// write sends e's update to the group-commit writer and queues e.
func (d *document) write(e *entry) {
	e.req = &writeReq{docID: d.id, data: e.update, owner: d}
	d.size += len(e.update)
	d.push(e)
	d.m.writer.in <- e.req // blocks only while the writer is maxBatch behind
}

func (d *document) push(e *entry) {
	d.seq++
	e.seq = d.seq
	d.inflight = append(d.inflight, e)
}

// complete acknowledges, in order, every queued entry whose write is done,
// and broadcasts the applied ones.
func (d *document) complete() {
	rebuild := false
	for len(d.inflight) > 0 {
		e := d.inflight[0]
		if e.req != nil && !e.req.done.Load() {
			break
		}
		d.inflight[0] = nil
		d.inflight = d.inflight[1:]
		d.doneSeq = e.seq
		if e.req != nil && e.req.err != nil {
			d.size -= len(e.update)
			d.refuse(e.cmd, reasonStorage, ErrUnavailable)
			rebuild = true // the doc may hold what the log lacks
			continue
		}
		if e.req != nil {
			switch {
			case e.held == nil || e.held.applied:
				d.applied = append(d.applied, e.req.id)
			default:
				e.held.id = e.req.id
			}
		}
		if e.applied {
			d.m.cfg.Broadcast(d.id, e.update, e.sid)
		}
		if e.cmd != nil {
			if !e.cmd.start.IsZero() {
				d.m.met.applySeconds.Observe(time.Since(e.cmd.start).Seconds())
			}
			e.cmd.done(State{}, nil)
		}
	}
	if len(d.inflight) == 0 {
		d.inflight = nil // let the backing array go
	}
	if rebuild && !d.forgotten {
		d.rebuild()
	}
	for len(d.waiters) > 0 && d.waiters[0].after <= d.doneSeq && !d.broken {
		w := d.waiters[0]
		d.waiters = d.waiters[1:]
		if w.gen != d.gen {
			d.replyState(w.cmd) // the state it saw may include a failed write
			continue
		}
		w.cmd.done(w.st, nil)
	}
	d.compactionReady()
	d.maybeCompact()
}

// replace turns a ProseMirror document into a CRDT update made here.
func (d *document) replace(c *command) {
	var upd []byte
	var rerr error
	changed := false
	editMu.Lock()
	err := protect(func() error {
		// The transaction's own update: EncodeStateAsUpdate(doc, sv) would
		// carry every deletion the document ever had.
		h := y.NewObserverHandler(func(v ...any) {
			if b, ok := v[0].([]byte); ok {
				upd = bytes.Clone(b)
			}
		})
		d.doc.On("update", h)
		defer d.doc.Off("update", h)
		changed, rerr = replaceWithin(d.doc, c.pm, d.m.cfg.MaxTextEditCost)
		return nil
	})
	editMu.Unlock() // before any rebuild below: that reads storage
	limit := d.m.cfg.MaxDocumentBytes
	switch {
	case err != nil:
		d.m.log.Error("replacing the content crashed the document; rebuilding it from storage", "doc", d.id, "err", err)
		d.rebuild()
		d.refuse(c, reasonPanic, ErrInvalidUpdate)
		return
	case errors.Is(rerr, errEditTooCostly):
		d.m.log.Warn("replace content: refused, too costly for the live document", "doc", d.id, "max_text_edit_cost", d.m.cfg.MaxTextEditCost)
		d.rebuild() // the edit may have been half made
		d.refuse(c, reasonTooLarge, ErrTooCostly)
		return
	case rerr != nil:
		d.m.log.Warn("replace content", "doc", d.id, "err", rerr)
		d.rebuild() // the edit may have been half made
		d.refuse(c, reasonInvalid, ErrInvalidUpdate)
		return
	case !changed || len(upd) == 0:
		c.done(State{}, nil) // the same content: no update, no write, no broadcast
		return
	case len(upd) > limit || d.size+len(upd) > limit:
		// Already applied to the Doc: drop it there too, as apply never
		// lets an update in that would grow the document past the limit.
		d.rebuild()
		d.refuse(c, reasonTooLarge, ErrTooLarge)
		return
	}
	d.syncStateVector()
	u, err := yupdate.Parse(upd, yupdate.Limits{MaxBytes: max(limit, len(upd))})
	if err != nil || len(u.Structs) == 0 && len(u.Deletes) == 0 {
		c.done(State{}, nil) // nothing changed
		return
	}
	d.m.met.updatesApplied.Inc()
	d.changed()
	d.write(&entry{cmd: c, update: upd, upd: u, applied: true})
}

// syncStateVector reads the state vector back from the library after a
// local edit or a rebuild.
func (d *document) syncStateVector() {
	clear(d.sv)
	for client, clock := range y.GetStateVector(d.doc.Store) {
		d.sv[uint64(client)] = uint64(clock)
	}
}

// changed invalidates the state cache and schedules a render.
func (d *document) changed() {
	d.dropState()
	now := time.Now()
	if !d.dirty {
		d.dirty = true
		d.firstDirty = now
	}
	wait := min(d.m.cfg.RenderDebounce, d.m.cfg.RenderMaxWait-now.Sub(d.firstDirty))
	// Renders of one document are RenderMaxWait apart: a note edited every
	// few seconds was rendered (read, converted, and its notes row and two
	// indexes rewritten) once per edit, ~20% of server CPU in bench S2.
	// lastRender <= firstDirty, so this never waits past firstDirty+MaxWait.
	wait = max(wait, d.m.cfg.RenderMaxWait-now.Sub(d.lastRender))
	d.armRender(now, max(wait, 0))
}

// armRender sets the render timer to fire after wait.
func (d *document) armRender(now time.Time, wait time.Duration) {
	d.renderDue = now.Add(wait)
	d.renderArmed = true
}

// guard runs f, which touches the Doc, and turns a panic into an error
// after rebuilding the Doc: a panic mid transaction leaves it in an
// unknown state.
func (d *document) guard(f func()) error {
	err := protect(func() error { f(); return nil })
	if err != nil {
		d.rebuild()
	}
	return err
}

var errPanic = errors.New("ydoc: panic")

func newStoppedTimer() *time.Timer { // writers' linger timers
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}

// ctx is the context of the owner's own storage calls: they finish even
// while the manager stops (Stop waits for them).
func (d *document) ctx() (context.Context, context.CancelFunc) {
	return contextWithTimeout()
}

func contextWithTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), commitTimeout)
}
