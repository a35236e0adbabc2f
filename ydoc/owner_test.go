package ydoc

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// ownerGoroutines counts goroutines running a document's owner (any
// Manager in this process).
func ownerGoroutines() int {
	count := 0
	for _, g := range strings.Split(allStacks(), "\n\n") {
		if strings.Contains(g, "ydoc.(*document).") {
			count++
		}
	}
	return count
}

// A loaded document with nothing to do has no goroutine (issue 13: an
// owner parked in select cost each of 1,000 loaded documents ~4 KB of
// stack), yet its timers still render it and drop its cached state, and
// its next command starts an owner again, which stores, relays and orders
// as before. Not parallel: it counts every owner goroutine in the process.
func TestIdleDocumentHasNoOwnerGoroutine(t *testing.T) {
	store := storeKinds()[0].open(t)
	b := startManager(t, store, Config{
		IdleTimeout: time.Hour, RenderDebounce: time.Millisecond, RenderMaxWait: time.Millisecond,
		StateCacheTTL: time.Millisecond,
	})
	ctx := context.Background()
	const n = 10
	docs := make([]string, n)
	peers := make([]*peer, n)
	for i := range docs {
		docs[i] = newNote(t, store, `{}`)
		_, err := b.m.Join(ctx, docs[i], "s")
		require.NoError(t, err)
		peers[i] = newPeer()
		if i%2 == 0 {
			require.NoError(t, b.m.Apply(ctx, docs[i], "s", peers[i].insert(0, "typed")))
		} else {
			require.NoError(t, b.m.ReplaceContent(ctx, docs[i], mustPM(t, fmt.Sprintf(
				`{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"note %d"}]}]}`, i))))
		}
	}
	// Renders and state drops are timer work: done with no owner parked.
	rendered := func() bool {
		for i := 1; i < n; i += 2 {
			if noteContentOf(t, store, docs[i]).MD != fmt.Sprintf("note %d", i) {
				return false
			}
		}
		return true
	}
	require.Eventually(t, rendered, 20*time.Second, 5*time.Millisecond, "rendered")
	require.Eventually(t, func() bool { return metricValue(t, b.m.met.stateCacheBytes) == 0 },
		20*time.Second, 5*time.Millisecond, "cached states dropped")
	require.Eventually(t, func() bool { return ownerGoroutines() == 0 },
		20*time.Second, 5*time.Millisecond, "idle documents keep no owner goroutine")
	for _, doc := range docs {
		require.True(t, b.m.live(doc), "still loaded")
	}

	// The next command starts an owner: the update is stored, relayed in
	// order after the first one, and in the state.
	relayed := len(b.rec.all())
	require.NoError(t, b.m.Apply(ctx, docs[0], "other", peers[0].insert(5, " again")))
	sent := b.rec.all()
	require.Len(t, sent, relayed+1)
	require.Equal(t, sent[len(sent)-1].except, "other")
	st, err := b.m.State(ctx, docs[0])
	require.NoError(t, err)
	require.Equal(t, "typed again", textOf(t, st))
	require.Equal(t, 2, rowCount(t, store, docs[0]))
}

// Commands racing an owner that is about to exit are never stranded: each
// either reaches the running owner or starts a new one (inbox.take), and
// an unload racing them never loses one (unregister under Manager.mu).
func TestOwnerStartsAgainUnderRace(t *testing.T) {
	t.Parallel()
	store := storeKinds()[0].open(t)
	b := startManager(t, store, Config{IdleTimeout: time.Millisecond, StateCacheTTL: time.Millisecond})
	ctx := context.Background()
	const docs, writers, each = 4, 4, 25
	ids := make([]string, docs)
	for i := range ids {
		ids[i] = newNote(t, store, `{}`)
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := newPeer()
			doc := ids[w%docs]
			for k := range each {
				ctx, cancel := context.WithTimeout(ctx, time.Minute)
				err := b.m.Apply(ctx, doc, fmt.Sprint("w", w), p.insert(k, "x"))
				cancel()
				if err != nil {
					t.Errorf("apply: %v", err)
					return
				}
				if k%5 == 0 { // unloads between some of them (IdleTimeout 1 ms)
					b.m.Leave(ctx, doc, "nobody")
				}
			}
		}()
	}
	wg.Wait()
	for i, doc := range ids {
		st, err := b.m.State(ctx, doc)
		require.NoError(t, err)
		require.Len(t, textOf(t, st), each*writers/docs, "document %d holds every acknowledged update", i)
		require.Equal(t, each*writers/docs, rowCount(t, store, doc))
	}
}

// allStacks is every goroutine's trace, however long.
func allStacks() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}

// The pool never makes a run wait (20 at once get 20 goroutines), keeps at
// most maxIdleOwners for the next runs, reuses them, and lets them go on
// close.
func TestOwnerPool(t *testing.T) {
	t.Parallel()
	p := newOwnerPool()
	release := make(chan struct{})
	var started, done sync.WaitGroup
	for range 20 {
		started.Add(1)
		done.Add(1)
		p.run(func() { started.Done(); <-release; done.Done() })
	}
	started.Wait() // all 20 run at once: none waited for another
	close(release)
	done.Wait()
	require.Eventually(t, func() bool { return p.nidle.Load() == maxIdleOwners }, 10*time.Second, time.Millisecond)
	require.Eventually(t, func() bool { return p.live.Load() == maxIdleOwners }, 10*time.Second, time.Millisecond, "the others exit")
	ran := make(chan struct{})
	p.run(func() { close(ran) })
	<-ran
	require.Eventually(t, func() bool { return p.nidle.Load() == maxIdleOwners }, 10*time.Second, time.Millisecond)
	require.Eventually(t, func() bool { return p.live.Load() == maxIdleOwners }, 10*time.Second, time.Millisecond, "still at most maxIdleOwners")
	p.close()
	require.Eventually(t, func() bool { return int(p.live.Load()) == 0 }, 10*time.Second, time.Millisecond, "closed: idle goroutines exit")
}
