package ydoc

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quire/quire/internal/docid"
	"github.com/quire/quire/prosemirror"
	"github.com/quire/quire/storage"
)

// Defaults for zero Config fields.
const (
	MaxDocumentBytesDefault = 64 << 20
	IdleTimeoutDefault      = 30 * time.Second
	InactiveTimeoutDefault  = 10 * time.Minute
	CompactRowsDefault      = 256
	RenderDebounceDefault   = 2 * time.Second
	RenderMaxWaitDefault    = 10 * time.Second
	InboxSizeDefault        = 1024
	MaxHeldDefault          = 1024
	// MaxTextEditCostDefault: about 0.25 s of y-crdt's work on a 2-core VM
	// when each piece written walked the text; since ycrdt_format.go,
	// 54–99 ms (BenchmarkReplaceManyRuns). The work still grows with
	// r×(l+r): rewriting paragraphs of 10,800 and 21,600 runs took 0.34 s
	// and 1.15 s (load 4), so the bound stays this order.
	MaxTextEditCostDefault = 60_000_000
	// MaxCommitLinger bounds Config.CommitLinger.
	MaxCommitLinger = time.Second
)

// Config configures a Manager. Zero fields take the defaults above.
type Config struct {
	Store    storage.Store // required
	Logger   *slog.Logger  // nil: discard
	Registry prometheus.Registerer
	// MaxDocumentBytes bounds a document's stored size; updates that would
	// grow it further are refused with ErrTooLarge. Zero: 64 MiB.
	MaxDocumentBytes int
	// IdleTimeout: unload a document this long after its last session left
	// (and nothing is pending). Zero: 30 s.
	IdleTimeout time.Duration
	// CompactRows: compact a document's log once it has more rows. Zero: 256.
	CompactRows int
	// RenderDebounce and RenderMaxWait: render a changed document into its
	// note this long after the last change, but at most RenderMaxWait after
	// the first unrendered one; renders of one document are at least
	// RenderMaxWait apart. Zero: 2 s and 10 s.
	RenderDebounce time.Duration
	RenderMaxWait  time.Duration
	// StateCacheTTL: keep a document's encoded state (for the next
	// joiner of the same version) this long after it was last served.
	// Zero: 1 s.
	StateCacheTTL time.Duration
	// MaxTextEditCost bounds what a local content edit (ReplaceContent)
	// may write into one live paragraph, counted as r pieces written into
	// a text of l pieces costing r×(l+r), under the process-wide edit lock
	// (y-crdt's Insert walked the text from its start for every piece; the
	// server's writes now walk it once, but the library's work still grows
	// that way, with a smaller factor). A paragraph
	// made of many formatted pieces arrives cheaply in one update from a
	// client; a REST edit that rewrites it is refused with ErrTooCostly.
	// Zero: MaxTextEditCostDefault.
	MaxTextEditCost int64
	// InactiveTimeout: unload a document that still has sessions but has
	// had no command for this long (its next command loads it again).
	// Zero: 10 min.
	InactiveTimeout time.Duration
	// InboxSize bounds each document's command queue; full → ErrBusy. Zero: 1024.
	InboxSize int
	// CommitLinger: how long the group-commit writer waits, after the first
	// update of a commit, for more updates to share its transaction and
	// fsync (writer.go). Every update's acknowledgement and relay wait that
	// much longer. Zero (the default): commit at once, holding what arrived
	// while the previous commit ran. At most MaxCommitLinger.
	CommitLinger time.Duration
	// MaxHeld bounds each document's updates held for missing
	// dependencies; full → ErrBusy. Zero: 1024.
	MaxHeld int
	// Broadcast is called by the document's owner, in apply order, after an
	// update is durable and applied: relay it to the room except exceptSID
	// ("" for server-made updates: seeding never broadcasts, REST edits do).
	// It must not block for long and must not call back into the Manager
	// synchronously. Nil: no relay.
	Broadcast func(docID string, update []byte, exceptSID string)
	// RelayLocal sends update to this instance's sockets in the document's
	// room only: what a resynchronisation from the log found that they
	// lack (remote.go). Nil: no relay.
	RelayLocal func(docID string, update []byte)
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.MaxDocumentBytes = cmp.Or(c.MaxDocumentBytes, MaxDocumentBytesDefault)
	c.IdleTimeout = cmp.Or(c.IdleTimeout, IdleTimeoutDefault)
	c.CompactRows = cmp.Or(c.CompactRows, CompactRowsDefault)
	c.RenderDebounce = cmp.Or(c.RenderDebounce, RenderDebounceDefault)
	c.RenderMaxWait = cmp.Or(c.RenderMaxWait, RenderMaxWaitDefault)
	c.InboxSize = cmp.Or(c.InboxSize, InboxSizeDefault)
	c.StateCacheTTL = cmp.Or(c.StateCacheTTL, StateCacheTTLDefault)
	c.InactiveTimeout = cmp.Or(c.InactiveTimeout, InactiveTimeoutDefault)
	c.MaxHeld = cmp.Or(c.MaxHeld, MaxHeldDefault)
	c.MaxTextEditCost = cmp.Or(c.MaxTextEditCost, MaxTextEditCostDefault)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Broadcast == nil {
		c.Broadcast = func(string, []byte, string) {}
	}
	if c.RelayLocal == nil {
		c.RelayLocal = func(string, []byte) {}
	}
	return c
}

// Validate reports the first unusable field.
func (c Config) Validate() error {
	switch {
	case c.Store == nil:
		return errors.New("ydoc: Config.Store is required")
	case c.MaxDocumentBytes < 0:
		return errors.New("ydoc: --max-document-bytes must be positive")
	case c.IdleTimeout < 0, c.RenderDebounce < 0, c.RenderMaxWait < 0, c.StateCacheTTL < 0, c.InactiveTimeout < 0:
		return errors.New("ydoc: durations must be positive")
	case c.CommitLinger < 0 || c.CommitLinger > MaxCommitLinger:
		return fmt.Errorf("ydoc: --commit-linger %s: want 0 to %s", c.CommitLinger, MaxCommitLinger)
	case c.RenderMaxWait != 0 && c.RenderMaxWait < c.RenderDebounce:
		return errors.New("ydoc: RenderMaxWait must not be shorter than RenderDebounce")
	case c.CompactRows < 0, c.InboxSize < 0, c.MaxHeld < 0, c.MaxTextEditCost < 0:
		return errors.New("ydoc: CompactRows, InboxSize, MaxHeld and MaxTextEditCost must be positive")
	}
	return nil
}

// State is a document's full state. Update is shared by every caller that
// asks for the same version (joiners write it to their sockets as it is):
// never modify it. The wire form (a JSON array or a binary attachment) is
// the caller's choice (realtime/statewire.go).
type State struct {
	Update []byte // full state as one v1 update; exactly {0,0} when empty
}

// editMu serialises local edits (seeding, REST content) process-wide:
// y-crdt bumps a package-level counter (GlobalSearchMarkerTimestamp) on
// every index-based edit, so two documents edited locally at once race.
// Applying remote updates does not touch it.
var editMu sync.Mutex

// Manager holds the live documents. Safe for concurrent use.
type Manager struct {
	cfg    Config
	log    *slog.Logger
	met    *metrics
	writer *writer
	// contents stores renderings (render.go)
	contents *contentWriter
	pool     *ownerPool // goroutines that run document owners (pool.go)

	mu      sync.Mutex // guards the fields below; held only around map work and inbox sends
	docs    map[string]*document
	state   int // stateNew, stateRunning, stateStopped
	stopped chan struct{}

	owners sync.WaitGroup // documents not yet done (document.finish)
	others sync.WaitGroup // writer and background work
	once   sync.Once

	resyncs atomic.Int64 // documents' reads of their log for missing updates (remote.go)

	// hookApply, if set (tests), runs inside the panic guard before every
	// update is applied.
	hookApply func(update []byte)
	// hookIdleCheck, if set (tests), runs each time a document's idle
	// timer fires.
	hookIdleCheck func()
	// hookEncode, if set (tests), runs inside the panic guard before the
	// document's full state is encoded.
	hookEncode func()
}

const (
	stateNew = iota
	stateRunning
	stateStopped
)

// NewManager checks cfg and builds a Manager; Start it before use.
func NewManager(cfg Config) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	installXMLReader()
	met, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, fmt.Errorf("ydoc: register metrics: %w", err)
	}
	log := cfg.Logger.With("component", "ydoc")
	return &Manager{
		cfg:      cfg,
		log:      log,
		met:      met,
		writer:   newWriter(cfg.Store, log, met, cfg.CommitLinger),
		contents: newContentWriter(cfg.Store, log),
		pool:     newOwnerPool(),
		docs:     make(map[string]*document),
		stopped:  make(chan struct{}),
	}, nil
}

// Start starts the group-commit writer. Calling it again is a no-op.
func (m *Manager) Start(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch m.state {
	case stateStopped:
		return ErrClosed
	case stateRunning:
		return nil
	}
	m.state = stateRunning
	m.goBackground(m.writer.run)
	m.goBackground(m.contents.run)
	m.log.InfoContext(ctx, "document manager started")
	return nil
}

// Stop refuses new commands, lets every document finish what it accepted
// (commands in its inbox, commits in flight, a pending render), then stops
// the owners and the writer. Idempotent; every call waits for the same
// shutdown, or returns ctx's error when it ends first.
func (m *Manager) Stop(ctx context.Context) error {
	m.once.Do(func() {
		m.mu.Lock()
		wasRunning := m.state == stateRunning
		m.state = stateStopped
		for _, d := range m.docs {
			d.inbox.signal(evStop)
		}
		m.mu.Unlock()
		go func() {
			m.owners.Wait()
			m.pool.close()
			if wasRunning {
				close(m.writer.in) // no owner is left to send
				close(m.contents.in)
			}
			m.others.Wait()
			m.log.Info("document manager stopped")
			close(m.stopped)
		}()
	})
	select {
	case <-m.stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// goBackground runs f on a goroutine that Stop waits for.
func (m *Manager) goBackground(f func()) {
	m.others.Add(1)
	go func() {
		defer m.others.Done()
		f()
	}()
}

// Join loads (single-flight) or seeds the document, registers sid and
// returns the full state.
func (m *Manager) Join(ctx context.Context, docID, sid string) (State, error) {
	return m.do(ctx, docID, &command{kind: cmdJoin, sid: sid})
}

// Leave unregisters sid; the document unloads IdleTimeout after its last
// session left. Never blocks on the document.
func (m *Manager) Leave(ctx context.Context, docID, sid string) {
	m.withLive(docID, func(d *document) { d.inbox.push(&command{kind: cmdLeave, sid: sid}, true) })
}

// withLive runs f under m.mu on docID's document if it is loaded and the
// Manager is running, and reports whether it did; f must not block.
func (m *Manager) withLive(docID string, f func(d *document)) bool {
	id, _, err := normalizeDocID(docID)
	if err != nil {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.docs[id]
	if d == nil || m.state != stateRunning {
		return false
	}
	f(d)
	return true
}

// State returns the document's full state (loading it if needed).
func (m *Manager) State(ctx context.Context, docID string) (State, error) {
	return m.do(ctx, docID, &command{kind: cmdState})
}

// Apply validates update, appends it durably, applies it and has the
// owner broadcast it to everyone but sid, then returns. An update whose
// dependencies are missing is stored and acknowledged, but held back (not
// applied or broadcast) until they arrive. Errors: ErrInvalidUpdate,
// ErrTooLarge, ErrBusy, ErrUnknownDocument, ErrClosed, ErrUnavailable, or
// ctx's error (the update may still be applied).
func (m *Manager) Apply(ctx context.Context, docID, sid string, update []byte) error {
	_, err := m.do(ctx, docID, &command{kind: cmdApply, sid: sid, update: update, start: time.Now()})
	return err
}

// ReplaceContent turns a REST content edit into a CRDT update: stored,
// broadcast to the whole room, rendered back into the note.
func (m *Manager) ReplaceContent(ctx context.Context, docID string, doc *prosemirror.Node) error {
	if doc == nil || doc.Type != prosemirror.TypeDoc {
		return ErrInvalidUpdate
	}
	_, err := m.do(ctx, docID, &command{kind: cmdReplace, pm: doc, start: time.Now()})
	return err
}

// Forget drops the live document of a deleted note (call it after
// Store.DeleteNote): its pending render is dropped, every later command
// gets ErrUnknownDocument, and once the writes in flight are done it
// unloads and deletes any rows they stored. Not live: nothing to do.
func (m *Manager) Forget(ctx context.Context, docID string) error {
	id, _, err := normalizeDocID(docID)
	if err != nil {
		return err
	}
	c := &command{kind: cmdForget, reply: make(chan result, 1)}
	m.mu.Lock()
	d := m.docs[id]
	if d == nil || m.state != stateRunning {
		m.mu.Unlock()
		return nil
	}
	d.inbox.push(c, true) // like leaves: a full inbox must not keep it alive
	m.mu.Unlock()
	select {
	case r := <-c.reply:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// do sends c to the document's owner (starting one if the document is not
// live) and waits for its reply.
func (m *Manager) do(ctx context.Context, docID string, c *command) (State, error) {
	id, noteID, err := normalizeDocID(docID)
	if err != nil {
		return State{}, err
	}
	c.reply = make(chan result, 1)
	m.mu.Lock()
	if m.state != stateRunning {
		m.mu.Unlock()
		return State{}, ErrClosed
	}
	d := m.docs[id]
	if d == nil {
		d = newDocument(m, id, noteID)
		m.docs[id] = d
		m.met.liveDocuments.Inc()
		m.owners.Add(1) // until the document is done; the push below starts its owner
	}
	if !d.inbox.push(c, false) {
		m.mu.Unlock()
		if c.kind == cmdApply || c.kind == cmdReplace {
			m.met.updatesRefused.WithLabelValues(reasonBusy).Inc()
		}
		return State{}, ErrBusy
	}
	m.mu.Unlock()
	select {
	case r := <-c.reply:
		return r.state, r.err
	case <-ctx.Done():
		return State{}, ctx.Err()
	}
}

// unregister removes d from the registry if nothing is queued for it; the
// owner exits after it returns true. Sends happen under m.mu, so none can
// slip in afterwards.
func (m *Manager) unregister(d *document) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if d.inbox.len() > 0 {
		return false
	}
	if m.docs[d.id] == d {
		delete(m.docs, d.id)
		m.met.liveDocuments.Dec()
	}
	return true
}

// live reports whether the document is loaded (tests).
func (m *Manager) live(docID string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.docs[docID]
	return ok
}

// normalizeDocID accepts what docid.Parse does and returns "note:<id>"
// and the note id.
func normalizeDocID(docID string) (id, noteID string, err error) {
	id, noteID, ok := docid.Parse(docID)
	if !ok {
		return "", "", ErrUnknownDocument
	}
	return id, noteID, nil
}
