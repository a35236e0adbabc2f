package ydoc

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// localRelay records RelayLocal calls.
type localRelay struct {
	mu      sync.Mutex
	updates [][]byte
}

func (l *localRelay) relay(_ string, update []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.updates = append(l.updates, update)
}

func (l *localRelay) all() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([][]byte(nil), l.updates...)
}

// twoInstances: two Managers on one PostgreSQL store (SQLite when it is
// not configured), as two Quire instances.
func twoInstances(t *testing.T) (a, b *testBundle, bRelay *localRelay) {
	kinds := storeKinds()
	store := kinds[len(kinds)-1].open(t)
	bRelay = &localRelay{}
	a = startManager(t, store, Config{})
	b = startManager(t, store, Config{RelayLocal: bRelay.relay})
	return a, b, bRelay
}

func textNow(t *testing.T, m *Manager, doc string) string {
	t.Helper()
	st, err := m.State(context.Background(), doc)
	require.NoError(t, err)
	return textOf(t, st)
}

// liveOnBoth makes a note live on both instances, with a session each
// ("sa" on a, "sb" on b).
func liveOnBoth(t *testing.T, a, b *testBundle) string {
	t.Helper()
	ctx := context.Background()
	doc := newNote(t, a.store, `{}`)
	_, err := a.m.Join(ctx, doc, "sa")
	require.NoError(t, err)
	_, err = b.m.Join(ctx, doc, "sb")
	require.NoError(t, err)
	return doc
}

// waitText polls the document until its text is want (≥10 s).
func waitText(t *testing.T, m *Manager, doc, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := textNow(t, m, doc)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("text %q, want %q", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// An update another instance stored and relayed reaches the live copy
// here without being stored again; a delete that arrives before the
// insert it deletes is held until that insert arrives (y-crdt would lose
// it: DEPENDENCIES.md defect 2).
func TestRemoteUpdatesApplyInDependencyOrder(t *testing.T) {
	t.Parallel()
	a, b, _ := twoInstances(t)
	ctx := context.Background()
	doc := liveOnBoth(t, a, b)

	p := newPeer()
	u1 := p.insert(0, "hello")
	u2 := p.insert(5, " world")
	u3 := p.delete(0, 6) // "hello " spans u1 and u2
	for _, u := range [][]byte{u1, u2, u3} {
		require.NoError(t, a.m.Apply(ctx, doc, "sa", u))
	}
	require.Equal(t, "world", textNow(t, a.m, doc))
	require.Len(t, a.rec.all(), 3, "A relays each durable update once")

	b.m.ApplyRemote(doc, u1)
	b.m.ApplyRemote(doc, u3) // before u2: held
	waitText(t, b.m, doc, "hello")
	b.m.ApplyRemote(doc, u2)
	waitText(t, b.m, doc, "world")
	require.Equal(t, 3, rowCount(t, a.store, doc), "B stored nothing again")
	require.Empty(t, b.rec.all(), "B relays nothing of A's to other instances")
	require.Zero(t, b.m.Resyncs(), "nothing was missing: the log was not read")
}

// A document not live here ignores other instances' updates: no load.
func TestRemoteUpdateOfDocumentNotLiveIsIgnored(t *testing.T) {
	t.Parallel()
	a, b, _ := twoInstances(t)
	ctx := context.Background()
	doc := newNote(t, a.store, `{}`)
	_, err := a.m.Join(ctx, doc, "sa")
	require.NoError(t, err)
	u := newPeer().insert(0, "x")
	require.NoError(t, a.m.Apply(ctx, doc, "sa", u))
	require.False(t, b.m.Live(doc))
	b.m.ApplyRemote(doc, u)
	b.m.Resync(doc)
	require.False(t, b.m.Live(doc), "an update of a document not live here loaded it")
	require.True(t, a.m.Live(doc))
}

// Updates lost on the way (Redis away) are filled from the log on Resync,
// deletes included, and the difference is relayed to local sockets only.
func TestRemoteGapFilledFromTheLog(t *testing.T) {
	t.Parallel()
	a, b, relay := twoInstances(t)
	ctx := context.Background()
	doc := newNote(t, a.store, `{}`)
	_, err := a.m.Join(ctx, doc, "sa")
	require.NoError(t, err)
	stB, err := b.m.Join(ctx, doc, "sb")
	require.NoError(t, err)
	client := newPeer() // B's socket
	client.apply(stB.Update)

	p := newPeer()
	for _, u := range [][]byte{p.insert(0, "hello"), p.insert(5, " world"), p.delete(0, 6)} {
		require.NoError(t, a.m.Apply(ctx, doc, "sa", u)) // none reaches B
	}
	require.Equal(t, "", textNow(t, b.m, doc))
	b.m.Resync(doc)
	waitText(t, b.m, doc, "world")
	require.EqualValues(t, 1, b.m.Resyncs())
	for _, u := range relay.all() {
		client.apply(u)
	}
	require.Equal(t, "world", client.text(), "B's socket got the difference")
	require.Empty(t, b.rec.all(), "the difference is not relayed to other instances")
	require.Equal(t, 3, rowCount(t, a.store, doc))
}

// An update whose dependency was lost for good is held, then the document
// reads the log by itself (HeldResyncDelayDefault) and converges.
func TestRemoteHeldUpdateFillsItsGapFromTheLog(t *testing.T) {
	t.Parallel()
	a, b, _ := twoInstances(t)
	ctx := context.Background()
	doc := liveOnBoth(t, a, b)
	p := newPeer()
	u1, u2 := p.insert(0, "ab"), p.insert(2, "cd")
	require.NoError(t, a.m.Apply(ctx, doc, "sa", u1))
	require.NoError(t, a.m.Apply(ctx, doc, "sa", u2))
	b.m.ApplyRemote(doc, u2) // u1 was lost
	waitText(t, b.m, doc, "abcd")
	require.GreaterOrEqual(t, b.m.Resyncs(), int64(1))
}

// Both instances compact the shared log; whatever the interleaving, a
// fresh load has every update.
func TestRemoteCompactionsKeepEverything(t *testing.T) {
	t.Parallel()
	kinds := storeKinds()
	store := kinds[len(kinds)-1].open(t)
	ctx := context.Background()
	a := startManager(t, store, Config{CompactRows: 4})
	b := startManager(t, store, Config{CompactRows: 4})
	doc := newNote(t, store, `{}`)
	_, err := a.m.Join(ctx, doc, "sa")
	require.NoError(t, err)
	_, err = b.m.Join(ctx, doc, "sb")
	require.NoError(t, err)
	pa, pb := newPeer(), newPeer()
	want := ""
	for i := range 40 {
		var u []byte
		m, other := a.m, b.m
		if i%2 == 0 {
			u = pa.insert(len(pa.text()), "a")
			pb.apply(u)
		} else {
			u = pb.insert(len(pb.text()), "b")
			pa.apply(u)
			m, other = b.m, a.m
		}
		require.NoError(t, m.Apply(ctx, doc, "s", u))
		other.ApplyRemote(doc, u)
		want = pa.text()
	}
	waitText(t, a.m, doc, want)
	waitText(t, b.m, doc, want)
	c := startManager(t, store, Config{})
	waitText(t, c.m, doc, want)
	st, err := store.LoadDocument(ctx, doc)
	require.NoError(t, err)
	require.Less(t, len(st.Records), 40, "nobody compacted")
}

// A stored update whose dependencies never came (its client crashed) is
// held on every instance; reading the log again does not bring them, so
// the held-update check reads the log once more for it and then stops (a
// check that kept finding it would read the log every 2 s forever).
func TestRemoteHeldForeverReadsTheLogOnce(t *testing.T) {
	t.Parallel()
	a, b, _ := twoInstances(t)
	ctx := context.Background()
	doc := liveOnBoth(t, a, b)
	p := newPeer()
	p.insert(0, "lost")             // never sent
	u2 := p.insert(4, " dependent") // depends on it
	require.NoError(t, a.m.Apply(ctx, doc, "sa", u2))
	b.m.Resync(doc) // finds u2 in the log and holds it
	deadline := time.Now().Add(20 * time.Second)
	for b.m.Resyncs() < 2 {
		require.False(t, time.Now().After(deadline), "the held update never made the document read the log")
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(3 * HeldResyncDelayDefault) // would read it again every 2 s
	require.EqualValues(t, 2, b.m.Resyncs(), "the log is read over and over for an update held everywhere")
	require.Equal(t, "", textNow(t, b.m, doc))
}

// A session that joins while another instance's update is held gets a
// state without it and was not in the room when the broker delivered it:
// the update is relayed here when it is released (a kill test's joiner
// stalled on it, holding every later update as pending).
func TestRemoteHeldUpdateReachesALaterJoiner(t *testing.T) {
	t.Parallel()
	a, b, bRelay := twoInstances(t)
	ctx := context.Background()
	doc := liveOnBoth(t, a, b)

	p := newPeer()
	u1 := p.insert(0, "hello")
	u2 := p.insert(5, " world")
	for _, u := range [][]byte{u1, u2} {
		require.NoError(t, a.m.Apply(ctx, doc, "sa", u))
	}
	b.m.ApplyRemote(doc, u2) // before u1: held
	st, err := b.m.Join(ctx, doc, "late")
	require.NoError(t, err)
	require.Equal(t, "", textOf(t, st), "the joiner's state lacks the held update")
	b.m.ApplyRemote(doc, u1)
	waitText(t, b.m, doc, "hello world")
	require.Contains(t, bRelay.all(), u2, "the released update is relayed to B's sockets")
	require.NotContains(t, bRelay.all(), u1, "an update applied at once is not (the broker delivered it)")
}
