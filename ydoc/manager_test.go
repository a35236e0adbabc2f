package ydoc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	y "github.com/skyterra/y-crdt"
	"github.com/stretchr/testify/require"

	"github.com/quire/quire/prosemirror"
	"github.com/quire/quire/storage"
	"github.com/quire/quire/storage/storagetest"
	"github.com/quire/quire/yupdate"
)

// storeKind opens a fresh store of one driver.
type storeKind struct {
	name string
	open func(t testing.TB) storage.Store
}

// storeKinds: SQLite always, PostgreSQL when QUIRE_TEST_DATABASE_URL is set.
func storeKinds() []storeKind {
	return []storeKind{
		{"sqlite", func(t testing.TB) storage.Store {
			t.Helper()
			s, err := storage.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "quire.db"), slog.New(slog.DiscardHandler))
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			return s
		}},
		{"postgres", func(t testing.TB) storage.Store {
			t.Helper()
			url := storagetest.NewPostgres(t)
			s, err := storage.OpenPostgres(context.Background(), url, slog.New(slog.DiscardHandler))
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			return s
		}},
	}
}

// eachStore runs f as a subtest per driver.
func eachStore(t *testing.T, f func(t *testing.T, open func(testing.TB) storage.Store)) {
	for _, k := range storeKinds() {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			f(t, k.open)
		})
	}
}

// sent is one Broadcast call.
type sent struct {
	docID, except string
	update        []byte
}

// recorder collects Broadcast calls.
type recorder struct {
	mu   sync.Mutex
	sent []sent
}

func (r *recorder) broadcast(docID string, update []byte, except string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, sent{docID, except, update})
}

func (r *recorder) all() []sent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sent(nil), r.sent...)
}

type testBundle struct {
	store storage.Store
	m     *Manager
	rec   *recorder
	reg   *prometheus.Registry
}

// startManager starts a Manager on store; cfg's Store, Broadcast and
// Registry are filled in. It stops in t.Cleanup.
func startManager(t testing.TB, store storage.Store, cfg Config) *testBundle {
	t.Helper()
	b := &testBundle{store: store, rec: &recorder{}, reg: prometheus.NewRegistry()}
	cfg.Store, cfg.Broadcast, cfg.Registry = store, b.rec.broadcast, b.reg
	m, err := NewManager(cfg)
	require.NoError(t, err)
	require.NoError(t, m.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, m.Stop(context.Background())) })
	b.m = m
	return b
}

// newNote stores a note with the given data and returns its document id.
func newNote(t testing.TB, store storage.Store, data string) string {
	t.Helper()
	n := &storage.Note{ID: uuid.NewString(), UserID: "u1", Title: "t", Data: json.RawMessage(data)}
	require.NoError(t, store.CreateNote(context.Background(), n))
	return "note:" + n.ID
}

// peer is a Go Y.Doc standing in for a browser.
type peer struct {
	doc  *y.Doc
	last []byte // the update of its latest local change
}

func newPeer() *peer {
	p := &peer{doc: newDoc(0)}
	p.doc.On("update", y.NewObserverHandler(func(v ...any) {
		if v[1] != "remote" {
			p.last = bytes.Clone(v[0].([]byte))
		}
	}))
	return p
}

// Local edits hold editMu, as the Manager's do (see editMu).
func (p *peer) insert(at int, s string) []byte {
	editMu.Lock()
	defer editMu.Unlock()
	p.doc.GetText("t").Insert(at, s, nil)
	return p.last
}

func (p *peer) delete(at, n int) []byte {
	editMu.Lock()
	defer editMu.Unlock()
	p.doc.GetText("t").Delete(at, n)
	return p.last
}

func (p *peer) replace(t testing.TB, pm *prosemirror.Node) []byte {
	t.Helper()
	editMu.Lock()
	defer editMu.Unlock()
	_, err := replaceProseMirror(p.doc, pm)
	require.NoError(t, err)
	return p.last
}

func (p *peer) apply(update []byte) { y.ApplyUpdate(p.doc, update, "remote") }

func (p *peer) text() string { return p.doc.GetText("t").ToString() }

// textOf decodes a full state and returns its "t" text.
func textOf(t testing.TB, st State) string {
	t.Helper()
	p := newPeer()
	p.apply(st.Update)
	return p.text()
}

func rowCount(t testing.TB, store storage.Store, docID string) int {
	t.Helper()
	st, err := store.LoadDocument(context.Background(), docID)
	require.NoError(t, err)
	return len(st.Records)
}

func TestEmptyDocumentStateIsZeroZero(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, open func(testing.TB) storage.Store) {
		b := startManager(t, open(t), Config{})
		ctx := context.Background()
		doc := newNote(t, b.store, `{}`)
		st, err := b.m.Join(ctx, doc, "s1")
		require.NoError(t, err)
		require.Equal(t, []byte{0, 0}, st.Update)
		require.Equal(t, 0, rowCount(t, b.store, doc), "an empty note is not seeded")

		st2, err := b.m.State(ctx, doc)
		require.NoError(t, err)
		require.Same(t, &st.Update[0], &st2.Update[0], "one version is encoded once and shared")
	})
}

func TestDocumentIDs(t *testing.T) {
	t.Parallel()
	b := startManager(t, storeKinds()[0].open(t), Config{})
	ctx := context.Background()
	doc := newNote(t, b.store, `{}`)
	p := newPeer()
	require.NoError(t, b.m.Apply(ctx, doc, "s1", p.insert(0, "x")))
	st, err := b.m.State(ctx, "note_"+doc[len("note:"):])
	require.NoError(t, err)
	require.Equal(t, "x", textOf(t, st), "note_<id> is the same document as note:<id>")
	for _, bad := range []string{"chat:1", "note:", "note_", "notes:1", "note:a b", ""} {
		_, err := b.m.Join(ctx, bad, "s1")
		require.ErrorIs(t, err, ErrUnknownDocument, bad)
	}
	_, err = b.m.Join(ctx, "note:"+uuid.NewString(), "s1")
	require.ErrorIs(t, err, ErrUnknownDocument, "a note that does not exist")
}

func TestApplyBroadcastsAndState(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, open func(testing.TB) storage.Store) {
		b := startManager(t, open(t), Config{})
		ctx := context.Background()
		doc := newNote(t, b.store, `{}`)
		_, err := b.m.Join(ctx, doc, "a")
		require.NoError(t, err)

		a, other := newPeer(), newPeer()
		for _, u := range [][]byte{a.insert(0, "hello"), a.insert(5, " world"), a.delete(0, 1)} {
			require.NoError(t, b.m.Apply(ctx, doc, "a", u))
		}
		sent := b.rec.all()
		require.Len(t, sent, 3)
		for _, s := range sent {
			require.Equal(t, doc, s.docID)
			require.Equal(t, "a", s.except)
			other.apply(s.update)
		}
		require.Equal(t, "ello world", other.text())

		st, err := b.m.State(ctx, doc)
		require.NoError(t, err)
		require.Equal(t, "ello world", textOf(t, st))
		require.Equal(t, 3, rowCount(t, b.store, doc))
		require.Equal(t, 3.0, metricValue(t, b.m.met.updatesApplied))

		// A duplicate is acknowledged, not stored, not relayed.
		require.NoError(t, b.m.Apply(ctx, doc, "a", sent[0].update))
		require.Equal(t, 3, rowCount(t, b.store, doc))
		require.Len(t, b.rec.all(), 3)
	})
}

func TestApplyXMLFragment(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, open func(testing.TB) storage.Store) {
		b := startManager(t, open(t), Config{})
		ctx := context.Background()
		doc := newNote(t, b.store, `{}`)
		a := newPeer()
		want := mustPM(t, `{"type":"doc","content":[
			{"type":"heading","attrs":{"level":1},"content":[{"type":"text","text":"Title"}]},
			{"type":"paragraph","content":[{"type":"text","text":"some "},{"type":"text","marks":[{"type":"bold"}],"text":"bold"}]}]}`)
		require.NoError(t, b.m.Apply(ctx, doc, "a", a.replace(t, want)))
		edited := mustPM(t, `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"rewritten"}]}]}`)
		require.NoError(t, b.m.Apply(ctx, doc, "a", a.replace(t, edited)))

		st, err := b.m.State(ctx, doc)
		require.NoError(t, err)
		got := newPeer()
		got.apply(st.Update)
		requirePM(t, edited, readProseMirror(got.doc))

		relayed := newPeer()
		for _, s := range b.rec.all() {
			relayed.apply(s.update)
		}
		requirePM(t, edited, readProseMirror(relayed.doc))
	})
}

func TestPersistenceAcrossManagers(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, open func(testing.TB) storage.Store) {
		store := open(t)
		ctx := context.Background()
		doc := newNote(t, store, `{}`)
		first := startManager(t, store, Config{})
		a := newPeer()
		for i := range 20 {
			require.NoError(t, first.m.Apply(ctx, doc, "a", a.insert(i, "x")))
		}
		require.NoError(t, first.m.Stop(ctx))
		require.NoError(t, first.m.Stop(ctx), "Stop is idempotent")
		require.ErrorIs(t, first.m.Apply(ctx, doc, "a", a.insert(0, "y")), ErrClosed)

		second := startManager(t, store, Config{})
		st, err := second.m.Join(ctx, doc, "b")
		require.NoError(t, err)
		require.Equal(t, a.text()[1:], textOf(t, st), "every applied update survives; the refused one does not")
	})
}

func TestOutOfOrderDeliveryIsHeld(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, open func(testing.TB) storage.Store) {
		b := startManager(t, open(t), Config{})
		ctx := context.Background()
		doc := newNote(t, b.store, `{}`)
		a := newPeer()
		ins := a.insert(0, "abc")
		del := a.delete(1, 1)
		more := a.insert(2, "!") // depends on ins only through the same client

		require.NoError(t, b.m.Apply(ctx, doc, "a", del), "stored and acknowledged, but held")
		require.NoError(t, b.m.Apply(ctx, doc, "a", more))
		require.Equal(t, 2, rowCount(t, b.store, doc))
		require.Empty(t, b.rec.all(), "held updates are not relayed")
		require.Equal(t, 2.0, metricValue(t, b.m.met.heldUpdates))
		st, err := b.m.State(ctx, doc)
		require.NoError(t, err)
		require.Equal(t, []byte{0, 0}, st.Update)

		require.NoError(t, b.m.Apply(ctx, doc, "a", ins))
		require.Equal(t, 0.0, metricValue(t, b.m.met.heldUpdates))
		st, err = b.m.State(ctx, doc)
		require.NoError(t, err)
		require.Equal(t, a.text(), textOf(t, st))
		require.Equal(t, "ac!", textOf(t, st))

		// Relay order is apply order: the insert first, then what it unblocked.
		relayed := b.rec.all()
		require.Len(t, relayed, 3)
		require.Equal(t, ins, relayed[0].update)
		in := newPeer()
		for _, s := range relayed {
			in.apply(s.update)
		}
		require.Equal(t, "ac!", in.text())
	})
}

func TestHeldUpdateSurvivesRestart(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, open func(testing.TB) storage.Store) {
		store := open(t)
		ctx := context.Background()
		doc := newNote(t, store, `{}`)
		a := newPeer()
		ins := a.insert(0, "abc")
		del := a.delete(0, 1)

		first := startManager(t, store, Config{})
		require.NoError(t, first.m.Apply(ctx, doc, "a", del))
		require.NoError(t, first.m.Stop(ctx))

		second := startManager(t, store, Config{})
		st, err := second.m.Join(ctx, doc, "b")
		require.NoError(t, err)
		require.Equal(t, []byte{0, 0}, st.Update, "the stored delete is held again on load")
		require.NoError(t, second.m.Apply(ctx, doc, "a", ins))
		st, err = second.m.State(ctx, doc)
		require.NoError(t, err)
		require.Equal(t, "bc", textOf(t, st))
	})
}

func TestInvalidAndOversizeUpdates(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, open func(testing.TB) storage.Store) {
		b := startManager(t, open(t), Config{MaxDocumentBytes: 300})
		ctx := context.Background()
		doc := newNote(t, b.store, `{}`)
		hostile := [][]byte{
			{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, // huge varint count
			{1, 1, 0, 0, 4, 0xff, 0xff, 0xff, 0x7f},                // string length past the end
			{0, 0, 0},                                              // trailing byte
			{},
			[]byte("not yjs"),
		}
		for _, h := range hostile {
			require.ErrorIs(t, b.m.Apply(ctx, doc, "a", h), ErrInvalidUpdate, "%v", h)
		}
		a := newPeer()
		require.ErrorIs(t, b.m.Apply(ctx, doc, "a", a.insert(0, string(make([]byte, 400)))), ErrTooLarge)
		small := newPeer()
		require.NoError(t, b.m.Apply(ctx, doc, "b", small.insert(0, "ok")))
		require.Equal(t, 1, rowCount(t, b.store, doc), "nothing refused was stored")
		require.Equal(t, float64(len(hostile)), metricValue(t, b.m.met.updatesRefused.WithLabelValues(reasonInvalid)))
		require.Equal(t, 1.0, metricValue(t, b.m.met.updatesRefused.WithLabelValues(reasonTooLarge)))
		st, err := b.m.State(ctx, doc)
		require.NoError(t, err)
		require.Equal(t, "ok", textOf(t, st))
	})
}

func TestConcurrentAppliers(t *testing.T) {
	t.Parallel()
	const writers, perWriter = 8, 200
	for _, docs := range []int{1, 50} {
		t.Run(fmt.Sprintf("%d docs", docs), func(t *testing.T) {
			t.Parallel()
			eachStore(t, func(t *testing.T, open func(testing.TB) storage.Store) {
				store := open(t)
				b := startManager(t, store, Config{})
				ctx := context.Background()
				ids := make([]string, docs)
				for i := range ids {
					ids[i] = newNote(t, store, `{}`)
				}
				// Each writer has one peer per document and types one
				// character at a time, round robin over the documents.
				type want struct {
					client uint64
					n      int
				}
				wants := make([][]want, docs)
				var mu sync.Mutex
				var wg sync.WaitGroup
				errs := make(chan error, writers)
				for range writers {
					peers := make([]*peer, docs)
					for i := range peers {
						peers[i] = newPeer()
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						for n := range perWriter {
							i := n % docs
							if err := b.m.Apply(ctx, ids[i], "s", peers[i].insert(0, "x")); err != nil {
								errs <- err
								return
							}
						}
						mu.Lock()
						defer mu.Unlock()
						for i, p := range peers {
							wants[i] = append(wants[i], want{uint64(p.doc.ClientID), len(p.text())})
						}
					}()
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					require.NoError(t, err)
				}
				check := func(m *Manager) {
					for i, id := range ids {
						st, err := m.State(ctx, id)
						require.NoError(t, err)
						p := newPeer()
						p.apply(st.Update)
						total := 0
						for _, w := range wants[i] {
							require.Equal(t, w.n, y.GetState(p.doc.Store, y.Number(w.client)), "client %d in %s", w.client, id)
							total += w.n
						}
						require.Equal(t, total, len(p.text()))
					}
				}
				check(b.m)
				require.Equal(t, float64(writers*perWriter), metricValue(t, b.m.met.updatesApplied))
				require.NoError(t, b.m.Stop(ctx))
				check(startManager(t, store, Config{}).m)
			})
		})
	}
}

func TestIdleUnloadAndReload(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, open func(testing.TB) storage.Store) {
		b := startManager(t, open(t), Config{IdleTimeout: 20 * time.Millisecond})
		ctx := context.Background()
		doc := newNote(t, b.store, `{}`)
		_, err := b.m.Join(ctx, doc, "s1")
		require.NoError(t, err)
		a := newPeer()
		require.NoError(t, b.m.Apply(ctx, doc, "s1", a.insert(0, "kept")))
		require.True(t, b.m.live(doc))

		b.m.Leave(ctx, doc, "s1")
		require.Eventually(t, func() bool { return !b.m.live(doc) }, 10*time.Second, 5*time.Millisecond)
		require.Equal(t, 0.0, metricValue(t, b.m.met.liveDocuments))

		st, err := b.m.Join(ctx, doc, "s2")
		require.NoError(t, err)
		require.Equal(t, "kept", textOf(t, st))
		require.True(t, b.m.live(doc))
		require.Equal(t, 1.0, metricValue(t, b.m.met.liveDocuments))
	})
}

func TestSessionKeepsDocumentLoaded(t *testing.T) {
	t.Parallel()
	b := startManager(t, storeKinds()[0].open(t), Config{IdleTimeout: 10 * time.Millisecond})
	ctx := context.Background()
	doc, other := newNote(t, b.store, `{}`), newNote(t, b.store, `{}`)
	_, err := b.m.Join(ctx, doc, "s1")
	require.NoError(t, err)
	_, err = b.m.State(ctx, other) // loaded without a session
	require.NoError(t, err)
	require.Eventually(t, func() bool { return !b.m.live(other) }, 10*time.Second, 5*time.Millisecond)
	require.True(t, b.m.live(doc), "a document with a session outlives an idle one")
}

func TestCompactionKeepsContent(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, open func(testing.TB) storage.Store) {
		store := open(t)
		b := startManager(t, store, Config{CompactRows: 10})
		ctx := context.Background()
		doc := newNote(t, store, `{}`)
		a := newPeer()
		for i := range 60 {
			if i%7 == 6 {
				require.NoError(t, b.m.Apply(ctx, doc, "a", a.delete(0, 1)))
				continue
			}
			require.NoError(t, b.m.Apply(ctx, doc, "a", a.insert(0, fmt.Sprint(i%10))))
		}
		require.Eventually(t, func() bool {
			return metricValue(t, b.m.met.compactions) >= 1 && rowCount(t, store, doc) <= 11
		}, 10*time.Second, 5*time.Millisecond)
		st, err := b.m.State(ctx, doc)
		require.NoError(t, err)
		require.Equal(t, a.text(), textOf(t, st))
		require.NoError(t, b.m.Stop(ctx))

		rows, err := store.LoadDocument(ctx, doc)
		require.NoError(t, err)
		require.Less(t, len(rows.Records), 60)
		require.True(t, rows.Records[0].Snapshot)
		st, err = startManager(t, store, Config{}).m.State(ctx, doc)
		require.NoError(t, err)
		require.Equal(t, a.text(), textOf(t, st))
	})
}

func TestSeeding(t *testing.T) {
	t.Parallel()
	pmJSON := `{"type":"doc","content":[{"type":"heading","attrs":{"level":2},"content":[{"type":"text","text":"Plan"}]},` +
		`{"type":"paragraph","content":[{"type":"text","marks":[{"type":"bold"}],"text":"first"}]}]}`
	md := "# Hello\n\nsome *text*\n\n- one\n- two\n"
	cases := []struct {
		name, data string
		want       *prosemirror.Node
	}{
		{"json", `{"content":{"json":` + pmJSON + `,"md":"ignored"}}`, mustPM(t, pmJSON)},
		{"md", `{"content":{"md":` + jsonString(md) + `,"json":null}}`, prosemirror.FromMarkdown(md)},
		// A json this version refuses (a table without rows) seeds from the
		// md instead of starting empty.
		{"json refused", `{"content":{"json":{"type":"doc","content":[{"type":"table","content":[]}]},"md":` + jsonString(md) + `}}`, prosemirror.FromMarkdown(md)},
	}
	eachStore(t, func(t *testing.T, open func(testing.TB) storage.Store) {
		store := open(t)
		ctx := context.Background()
		for _, c := range cases {
			doc := newNote(t, store, c.data)
			first := startManager(t, store, Config{})
			second := startManager(t, store, Config{})
			st1, err := first.m.Join(ctx, doc, "a")
			require.NoError(t, err)
			p := newPeer()
			p.apply(st1.Update)
			requirePM(t, c.want, readProseMirror(p.doc))
			require.Equal(t, 1, rowCount(t, store, doc))

			st2, err := second.m.Join(ctx, doc, "b")
			require.NoError(t, err)
			require.Equal(t, st1.Update, st2.Update, "the second manager loads the seed")
			require.Equal(t, 1, rowCount(t, store, doc), "seeded once")
			require.Empty(t, first.rec.all(), "seeding never broadcasts")
			require.Empty(t, second.rec.all())
		}
	})
}

func TestRenderWritesNoteContent(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, open func(testing.TB) storage.Store) {
		store := open(t)
		b := startManager(t, store, Config{RenderDebounce: time.Millisecond, RenderMaxWait: time.Millisecond})
		ctx := context.Background()
		doc := newNote(t, store, `{"files":[{"id":"f1"}],"content":{"md":""}}`)
		a := newPeer()
		want := mustPM(t, `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"rendered "},{"type":"text","marks":[{"type":"italic"}],"text":"here"}]}]}`)
		require.NoError(t, b.m.Apply(ctx, doc, "a", a.replace(t, want)))

		require.Eventually(t, func() bool {
			return noteContentOf(t, store, doc).MD == want.Markdown()
		}, 10*time.Second, 5*time.Millisecond)
		got := noteContentOf(t, store, doc)
		require.Equal(t, want.HTML(), got.HTML)
		requirePM(t, want, got.JSON)
		n, err := store.GetNote(ctx, doc[len("note:"):])
		require.NoError(t, err)
		require.JSONEq(t, `[{"id":"f1"}]`, string(dataKey(t, n.Data, "files")), "other data keys are kept")
	})
}

// TestRendersAreMaxWaitApart: a change soon after a render waits for
// RenderMaxWait since that render, not just the debounce (a note edited
// every few seconds was rendered once per edit); Stop still flushes it.
// On the old rule the second render came 1 ms after the second change:
// the owner's render timer, read on the owner once the change is applied,
// is due about RenderMaxWait later (no sleep: nothing to race).
func TestRendersAreMaxWaitApart(t *testing.T) {
	t.Parallel()
	store := storeKinds()[0].open(t)
	b := startManager(t, store, Config{RenderDebounce: time.Millisecond, RenderMaxWait: time.Hour})
	ctx := context.Background()
	doc := newNote(t, store, `{}`)
	first := mustPM(t, `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"first"}]}]}`)
	second := mustPM(t, `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"second"}]}]}`)
	require.NoError(t, b.m.ReplaceContent(ctx, doc, first))
	require.Eventually(t, func() bool { return noteContentOf(t, store, doc).MD == first.Markdown() },
		10*time.Second, 5*time.Millisecond, "the first change renders after the debounce")
	require.NoError(t, b.m.ReplaceContent(ctx, doc, second))
	require.Greater(t, time.Until(renderDueOf(t, b.m, doc)), 30*time.Minute, "the next render waits out RenderMaxWait (1 h), not the debounce (1 ms)")
	require.Equal(t, first.Markdown(), noteContentOf(t, store, doc).MD, "not rendered again within RenderMaxWait")
	require.NoError(t, b.m.Stop(ctx))
	require.Equal(t, second.Markdown(), noteContentOf(t, store, doc).MD, "Stop flushes the pending render")
}

// renderDueOf is when doc's render timer fires, as its owner last armed
// it, read on the owner (so after every command it has handled).
func renderDueOf(t *testing.T, m *Manager, doc string) time.Time {
	t.Helper()
	var d *document
	require.True(t, m.withLive(doc, func(x *document) { d = x }), "the document is loaded")
	got := make(chan time.Time, 1)
	d.inbox.post(func() { got <- d.renderDue })
	select {
	case due := <-got:
		return due
	case <-time.After(10 * time.Second):
		t.Fatal("the owner did not answer")
	}
	return time.Time{}
}

func TestStopFlushesPendingRender(t *testing.T) {
	t.Parallel()
	store := storeKinds()[0].open(t)
	b := startManager(t, store, Config{RenderDebounce: time.Hour, RenderMaxWait: time.Hour})
	ctx := context.Background()
	doc := newNote(t, store, `{}`)
	want := mustPM(t, `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"flushed"}]}]}`)
	require.NoError(t, b.m.ReplaceContent(ctx, doc, want))
	require.Empty(t, noteContentOf(t, store, doc).MD)
	require.NoError(t, b.m.Stop(ctx))
	require.Equal(t, want.Markdown(), noteContentOf(t, store, doc).MD)
}

func TestReplaceContent(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, open func(testing.TB) storage.Store) {
		store := open(t)
		b := startManager(t, store, Config{})
		ctx := context.Background()
		doc := newNote(t, store, `{"content":{"md":"old text"}}`)
		st, err := b.m.Join(ctx, doc, "a")
		require.NoError(t, err)
		browser := newPeer()
		browser.apply(st.Update)

		want := mustPM(t, `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"from REST"}]}]}`)
		require.NoError(t, b.m.ReplaceContent(ctx, doc, want))
		sent := b.rec.all()
		require.Len(t, sent, 1)
		require.Equal(t, "", sent[0].except, "REST edits go to everyone")
		browser.apply(sent[0].update)
		requirePM(t, want, readProseMirror(browser.doc))
		require.Equal(t, 2, rowCount(t, store, doc), "seed + the edit")

		// The same content again is no update at all: no broadcast, no row,
		// the same state byte for byte.
		before, err := b.m.State(ctx, doc)
		require.NoError(t, err)
		require.NoError(t, b.m.ReplaceContent(ctx, doc, want))
		require.Len(t, b.rec.all(), 1, "an identical REST edit broadcasts nothing")
		require.Equal(t, 2, rowCount(t, store, doc), "an identical REST edit stores nothing")
		after, err := b.m.State(ctx, doc)
		require.NoError(t, err)
		require.Equal(t, before.Update, after.Update)

		// An append carries only itself, not the deletions of earlier edits.
		more := mustPM(t, `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"from REST"}]},{"type":"paragraph","content":[{"type":"text","text":"more"}]}]}`)
		require.NoError(t, b.m.ReplaceContent(ctx, doc, more))
		sent = b.rec.all()
		require.Len(t, sent, 2)
		u, err := yupdate.Parse(sent[1].update, yupdate.Limits{MaxBytes: len(sent[1].update)})
		require.NoError(t, err)
		require.Empty(t, u.Deletes, "an append deletes nothing")
		browser.apply(sent[1].update)
		requirePM(t, more, readProseMirror(browser.doc))
	})
}

// An identical edit of a richer document (marks, attributes, nested lists,
// hard breaks) as the server itself reads it back is no update either.
func TestReplaceContentIdenticalRichDocument(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, open func(testing.TB) storage.Store) {
		store := open(t)
		b := startManager(t, store, Config{})
		ctx := context.Background()
		doc := newNote(t, store, `{"content":{"md":"## Title\n\nsome **bold** and *it* [link](https://x.test)  \nnext\n\n- a\n  - b\n- c\n\n> quoted"}}`)
		st, err := b.m.State(ctx, doc)
		require.NoError(t, err)
		rows := rowCount(t, store, doc)
		same := pmOf(st)
		raw, err := json.Marshal(same)
		require.NoError(t, err)
		require.NoError(t, b.m.ReplaceContent(ctx, doc, mustPM(t, string(raw))))
		require.Empty(t, b.rec.all())
		require.Equal(t, rows, rowCount(t, store, doc))
		after, err := b.m.State(ctx, doc)
		require.NoError(t, err)
		require.Equal(t, st.Update, after.Update)
	})
}

func TestPanicInsideOwnerRebuildsDocument(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, open func(testing.TB) storage.Store) {
		store := open(t)
		b := startManager(t, store, Config{})
		var poison sync.Map
		b.m.hookApply = func(update []byte) {
			if _, bad := poison.Load(string(update)); bad {
				panic("test: poisoned update")
			}
		}
		ctx := context.Background()
		doc := newNote(t, store, `{}`)
		a := newPeer()
		require.NoError(t, b.m.Apply(ctx, doc, "a", a.insert(0, "before")))

		other := newPeer()
		bad := other.insert(0, "boom")
		poison.Store(string(bad), true)
		require.ErrorIs(t, b.m.Apply(ctx, doc, "b", bad), ErrInvalidUpdate)
		require.Equal(t, 1.0, metricValue(t, b.m.met.updatesRefused.WithLabelValues(reasonPanic)))
		require.Equal(t, 1, rowCount(t, store, doc), "the update that crashed was not stored")

		require.NoError(t, b.m.Apply(ctx, doc, "a", a.insert(6, " after")))
		st, err := b.m.State(ctx, doc)
		require.NoError(t, err)
		require.Equal(t, "before after", textOf(t, st))
	})
}

func TestClosedAndBusy(t *testing.T) {
	t.Parallel()
	store := storeKinds()[0].open(t)
	m, err := NewManager(Config{Store: store})
	require.NoError(t, err)
	ctx := context.Background()
	doc := newNote(t, store, `{}`)
	_, err = m.Join(ctx, doc, "s")
	require.ErrorIs(t, err, ErrClosed, "before Start")
	require.NoError(t, m.Stop(ctx))
	require.ErrorIs(t, m.Start(ctx), ErrClosed)

	_, err = NewManager(Config{})
	require.Error(t, err, "a store is required")

	// A full inbox refuses at once instead of queueing without bound.
	b := startManager(t, store, Config{InboxSize: 1})
	block := make(chan struct{})
	var unblock sync.Once
	t.Cleanup(func() { unblock.Do(func() { close(block) }) })
	entered := make(chan struct{}, 1)
	b.m.hookApply = func([]byte) {
		select {
		case entered <- struct{}{}:
			<-block
		default:
		}
	}
	done := make(chan error, 1)
	go func() { done <- b.m.Apply(ctx, doc, "s", newPeer().insert(0, "a")) }()
	<-entered // the owner is stuck inside the first apply
	busy := false
	for range 3 { // the first call may take the one free slot
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		err := b.m.Apply(short, doc, "s", newPeer().insert(0, "c"))
		cancel()
		if errors.Is(err, ErrBusy) {
			busy = true
			break
		}
		require.ErrorIs(t, err, context.DeadlineExceeded)
	}
	require.True(t, busy, "a full inbox answers ErrBusy")
	unblock.Do(func() { close(block) })
	require.NoError(t, <-done)
}

func mustPM(t testing.TB, s string) *prosemirror.Node {
	t.Helper()
	n, err := prosemirror.Parse([]byte(s))
	require.NoError(t, err)
	return n
}

func requirePM(t testing.TB, want, got *prosemirror.Node) {
	t.Helper()
	w, err := json.Marshal(want)
	require.NoError(t, err)
	g, err := json.Marshal(got)
	require.NoError(t, err)
	require.JSONEq(t, string(w), string(g))
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func dataKey(t testing.TB, data json.RawMessage, key string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(data, &m))
	return m[key]
}

func noteContentOf(t testing.TB, store storage.Store, docID string) prosemirror.Content {
	t.Helper()
	n, err := store.GetNote(context.Background(), docID[len("note:"):])
	require.NoError(t, err)
	var c prosemirror.Content
	if raw := dataKey(t, n.Data, "content"); raw != nil {
		require.NoError(t, json.Unmarshal(raw, &c))
	}
	return c
}

// metricValue reads a gauge's or counter's current value.
func metricValue(t testing.TB, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	}
	t.Fatalf("not a gauge or counter: %v", c.Desc())
	return 0
}

// A crash while encoding the state answers an error, never the empty
// document [0,0], and the document is rebuilt and served again.
func TestPanicWhileEncodingStateIsAnError(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, open func(testing.TB) storage.Store) {
		store := open(t)
		b := startManager(t, store, Config{})
		var crash atomic.Bool
		b.m.hookEncode = func() {
			if crash.Swap(false) {
				panic("test: encoding crashed")
			}
		}
		ctx := context.Background()
		doc := newNote(t, store, `{}`)
		a := newPeer()
		require.NoError(t, b.m.Apply(ctx, doc, "a", a.insert(0, "kept")))

		crash.Store(true)
		st, err := b.m.State(ctx, doc)
		require.ErrorIs(t, err, ErrUnavailable)
		require.Empty(t, st.Update, "no state, not an empty one")
		require.Equal(t, 1.0, metricValue(t, b.m.met.updatesRefused.WithLabelValues(reasonPanic)))

		st, err = b.m.State(ctx, doc)
		require.NoError(t, err)
		require.Equal(t, "kept", textOf(t, st))
	})
}

// A REST content edit that would grow the document past MaxDocumentBytes is
// refused like an oversize update: nothing stored, relayed or left in the
// live document.
func TestReplaceContentTooLarge(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, open func(testing.TB) storage.Store) {
		store := open(t)
		b := startManager(t, store, Config{MaxDocumentBytes: 2048})
		ctx := context.Background()
		doc := newNote(t, store, `{"content":{"md":"small"}}`)
		before, err := b.m.Join(ctx, doc, "a")
		require.NoError(t, err)
		rows := rowCount(t, store, doc)

		big := mustPM(t, `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"`+strings.Repeat("x", 4096)+`"}]}]}`)
		require.ErrorIs(t, b.m.ReplaceContent(ctx, doc, big), ErrTooLarge)
		require.Equal(t, 1.0, metricValue(t, b.m.met.updatesRefused.WithLabelValues(reasonTooLarge)))
		require.Empty(t, b.rec.all(), "nothing relayed")
		require.Equal(t, rows, rowCount(t, store, doc), "nothing stored")
		after, err := b.m.State(ctx, doc)
		require.NoError(t, err)
		requirePM(t, pmOf(before), pmOf(after)) // the live document is as before
		require.Contains(t, pmOf(after).Markdown(), "small")

		small := mustPM(t, `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"fits"}]}]}`)
		require.NoError(t, b.m.ReplaceContent(ctx, doc, small))
		st, err := b.m.State(ctx, doc)
		require.NoError(t, err)
		requirePM(t, small, pmOf(st))
	})
}

// pmOf reads a state the way a browser would.
func pmOf(st State) *prosemirror.Node {
	p := newPeer()
	p.apply(st.Update)
	return readProseMirror(p.doc)
}

// scriptedStore holds the write of one update until released, and fails the
// write of another.
type scriptedStore struct {
	storage.Store
	hold, fail []byte
	holding    chan struct{} // closed once the held write has begun
	release    chan struct{}
	refuse     chan struct{} // the failing write waits for this
}

func (s *scriptedStore) AppendUpdates(ctx context.Context, ups []storage.DocUpdate) ([]int64, error) {
	for _, u := range ups {
		switch {
		case bytes.Equal(u.Data, s.hold):
			close(s.holding)
			<-s.release
		case bytes.Equal(u.Data, s.fail):
			<-s.refuse
			return nil, errors.New("test: write refused")
		}
	}
	return s.Store.AppendUpdates(ctx, ups)
}

// A compaction whose snapshot was taken while an update was still being
// written is not stored when that write fails: the snapshot would make
// durable an update its sender was told was refused.
func TestCompactionWaitsForWritesItHolds(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, open func(testing.TB) storage.Store) {
		raw := open(t)
		ctx := context.Background()
		doc := newNote(t, raw, `{}`)
		a := newPeer()
		store := &scriptedStore{Store: raw, holding: make(chan struct{}), release: make(chan struct{}), refuse: make(chan struct{})}
		b := startManager(t, store, Config{CompactRows: 5})
		for i := range 5 {
			require.NoError(t, b.m.Apply(ctx, doc, "a", a.insert(0, fmt.Sprint(i))))
		}
		store.hold = a.insert(0, "6")
		stored := a.text()
		store.fail = a.insert(0, "Z")

		held := make(chan error, 1)
		go func() { held <- b.m.Apply(ctx, doc, "a", store.hold) }()
		<-store.holding // its batch is closed: the next update goes in the next one
		failed := make(chan error, 1)
		go func() { failed <- b.m.Apply(ctx, doc, "a", store.fail) }()
		// The second update is applied (and so in any snapshot) before the
		// first one's write is let go: its own write is then in flight when
		// the first completes and the log goes over CompactRows.
		require.Eventually(t, func() bool { return metricValue(t, b.m.met.updatesApplied) == 7 }, 10*time.Second, time.Millisecond)
		close(store.release)
		require.NoError(t, <-held)
		// The owner has finished completing the first update, with the
		// second still being written: a repeated update is answered on the
		// owner at once, so once it is, maybeCompact has run.
		require.NoError(t, b.m.Apply(ctx, doc, "a", store.hold))
		close(store.refuse)
		require.ErrorIs(t, <-failed, ErrUnavailable)

		require.Eventually(t, func() bool { return metricValue(t, b.m.met.compactions) >= 1 }, 10*time.Second, 5*time.Millisecond)
		require.NoError(t, b.m.Stop(ctx))
		st, err := startManager(t, raw, Config{}).m.State(ctx, doc)
		require.NoError(t, err)
		require.Equal(t, stored, textOf(t, st), "the refused update must not be stored")
	})
}

// TestOpeningANoteDoesNotRewriteIt: a note created with Markdown alone (or
// with the stock editor's json) and never edited keeps its data and
// updated_at however often its document loads (it is seeded once, then
// loaded from the log). Attributes that are null (a table cell's colwidth,
// a code block's language, an image's title) are not written into the
// Doc: before, the second load took their absence for a change and
// rewrote the note (its md too, table alignments lost) and its updated_at.
func TestOpeningANoteDoesNotRewriteIt(t *testing.T) {
	t.Parallel()
	cell := `{"type":"tableCell","attrs":{"colspan":1,"rowspan":1,"colwidth":null},"content":[{"type":"paragraph","content":[{"type":"text","text":"c"}]}]}`
	stock := `{"type":"doc","content":[{"type":"table","content":[{"type":"tableRow","content":[` + cell + `,` + cell + `]}]},` +
		`{"type":"codeBlock","attrs":{"language":null},"content":[{"type":"text","text":"x"}]}]}`
	for name, data := range map[string]string{
		"md":             `{"content":{"md":"# Title\n\nsome *text*\n\n- one\n- two\n"}}`,
		"md with tables": `{"content":{"md":"| a | b |\n|:--|--:|\n| 1 | 2 |\n\n` + "```\\nx\\n```" + `\n\n![i](/i.png)\n"}}`,
		"stock json":     `{"content":{"json":` + stock + `,"md":"c"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			eachStore(t, func(t *testing.T, open func(testing.TB) storage.Store) {
				store := open(t)
				ctx := context.Background()
				doc := newNote(t, store, data)
				before, err := store.GetNote(ctx, doc[len("note:"):])
				require.NoError(t, err)
				b := startManager(t, store, Config{IdleTimeout: 10 * time.Millisecond, RenderDebounce: time.Millisecond, RenderMaxWait: time.Millisecond})
				for range 2 { // seeded, then loaded from the log
					_, err := b.m.State(ctx, doc)
					require.NoError(t, err)
					require.Eventually(t, func() bool { return !b.m.live(doc) }, 10*time.Second, 5*time.Millisecond)
				}
				require.Equal(t, 1, rowCount(t, store, doc))
				after, err := store.GetNote(ctx, doc[len("note:"):])
				require.NoError(t, err)
				require.Equal(t, before.UpdatedAt, after.UpdatedAt)
				require.Equal(t, string(before.Data), string(after.Data))
			})
		})
	}
}

// TestSeedFromMDRendersOverRefusedJSON: a note whose stored json this
// version refuses is seeded from its md, and that first load renders the
// Doc over the json at once. Before, the refused json stayed in the note
// (GET answered it) until an edit or a later load.
func TestSeedFromMDRendersOverRefusedJSON(t *testing.T) {
	t.Parallel()
	md := "# Hello\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
	eachStore(t, func(t *testing.T, open func(testing.TB) storage.Store) {
		store := open(t)
		doc := newNote(t, store, `{"content":{"json":{"type":"doc","content":[{"type":"table","content":[]}]},"md":`+jsonString(md)+`}}`)
		b := startManager(t, store, Config{RenderDebounce: time.Millisecond, RenderMaxWait: time.Millisecond})
		_, err := b.m.State(context.Background(), doc)
		require.NoError(t, err)
		want := prosemirror.FromMarkdown(md)
		require.Eventually(t, func() bool { return noteContentOf(t, store, doc).MD == want.Markdown() },
			10*time.Second, 5*time.Millisecond, "the refused json was never replaced: %+v", noteContentOf(t, store, doc))
		got := noteContentOf(t, store, doc)
		require.Equal(t, want.HTML(), got.HTML)
		raw, err := json.Marshal(got.JSON)
		require.NoError(t, err)
		_, err = prosemirror.Parse(raw)
		require.NoError(t, err, "the json rendered over the refused one parses: %s", raw)
	})
}

// TestLoadRendersWhatACrashLeftUnrendered: a crash (kill -9) between an
// update's commit and its debounced render left the note's data.content
// behind its document until the next edit, however often the note was
// opened (e2e/stress-lostedit.mjs: GET disagreed with the document after a
// restart): the old content, or a REST edit's body (json alone, no md or
// html). A stored update without a render is what such a crash leaves.
// Loading renders it; loading again writes nothing (updated_at stays).
func TestLoadRendersWhatACrashLeftUnrendered(t *testing.T) {
	t.Parallel()
	want := mustPM(t, `{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"acknowledged, never rendered"}]}]}`)
	for name, data := range map[string]string{
		"old content":    `{"content":{"md":"before the crash"}}`,
		"REST edit body": `{"content":{"json":{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"acknowledged, never rendered"}]}]}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			eachStore(t, func(t *testing.T, open func(testing.TB) storage.Store) {
				store := open(t)
				ctx := context.Background()
				doc := newNote(t, store, data)
				_, err := store.AppendUpdates(ctx, []storage.DocUpdate{{DocID: doc, Data: newPeer().replace(t, want)}})
				require.NoError(t, err)

				b := startManager(t, store, Config{IdleTimeout: 10 * time.Millisecond, RenderDebounce: time.Millisecond, RenderMaxWait: time.Millisecond})
				_, err = b.m.State(ctx, doc)
				require.NoError(t, err)
				require.Eventually(t, func() bool { return !b.m.live(doc) }, 10*time.Second, 5*time.Millisecond, "rendered, then unloaded")
				got := noteContentOf(t, store, doc)
				require.Equal(t, want.Markdown(), got.MD)
				require.Equal(t, want.HTML(), got.HTML)
				requirePM(t, want, got.JSON)
				before, err := store.GetNote(ctx, doc[len("note:"):])
				require.NoError(t, err)

				_, err = b.m.State(ctx, doc)
				require.NoError(t, err)
				require.Eventually(t, func() bool { return !b.m.live(doc) }, 10*time.Second, 5*time.Millisecond)
				after, err := store.GetNote(ctx, doc[len("note:"):])
				require.NoError(t, err)
				require.Equal(t, before.UpdatedAt, after.UpdatedAt, "an unchanged rendering is not written")
				require.Equal(t, string(before.Data), string(after.Data))
			})
		})
	}
}

// A paragraph of many formatted pieces arrives cheaply in one update from
// a client, but y-crdt walks it from its start for every piece a local
// edit writes into it: a REST edit rewriting it with many pieces is
// refused (ErrTooCostly) past MaxTextEditCost, and nothing changes; one
// that writes a few pieces into it still goes through.
func TestReplaceContentTooCostlyForTheLiveText(t *testing.T) {
	t.Parallel()
	store := storeKinds()[0].open(t)
	b := startManager(t, store, Config{MaxTextEditCost: 5_000})
	ctx := context.Background()
	doc := newNote(t, store, `{}`)
	_, err := b.m.Join(ctx, doc, "a")
	require.NoError(t, err)

	pieces := func(n int, text string) *prosemirror.Node {
		var content []*prosemirror.Node
		for i := range n {
			node := &prosemirror.Node{Type: prosemirror.TypeText, Text: text}
			if i%2 == 0 {
				node.Marks = []prosemirror.Mark{{Type: "bold"}}
			}
			content = append(content, node)
		}
		return &prosemirror.Node{Type: prosemirror.TypeDoc, Content: []*prosemirror.Node{{Type: "paragraph", Content: content}}}
	}
	client := newPeer()
	st, err := b.m.State(ctx, doc)
	require.NoError(t, err)
	client.apply(st.Update)
	live := pieces(200, "a") // 200 live pieces: writing them here would cost 40,000
	require.NoError(t, b.m.Apply(ctx, doc, "a", client.replace(t, live)))

	before, err := b.m.State(ctx, doc)
	require.NoError(t, err)
	rows := rowCount(t, store, doc)
	err = b.m.ReplaceContent(ctx, doc, pieces(100, "b")) // 100 pieces × (200 + 100)
	require.ErrorIs(t, err, ErrTooCostly)
	after, err := b.m.State(ctx, doc)
	require.NoError(t, err)
	require.Equal(t, before.Update, after.Update, "the document is unchanged")
	require.Equal(t, rows, rowCount(t, store, doc), "nothing stored")

	// Appending to the last piece writes one: 1 × 201.
	more := pieces(200, "a")
	last := more.Content[0].Content[199]
	last.Text += "!"
	require.NoError(t, b.m.ReplaceContent(ctx, doc, more))
	got, err := b.m.State(ctx, doc)
	require.NoError(t, err)
	reader := newPeer()
	reader.apply(got.Update)
	requirePM(t, more, readProseMirror(reader.doc))
}
