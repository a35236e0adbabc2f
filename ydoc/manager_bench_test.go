package ydoc

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	y "github.com/skyterra/y-crdt"
	"github.com/stretchr/testify/require"

	"github.com/quire/quire/storage"
)

// benchAppliers is how many callers apply at once (sockets in a busy room).
const benchAppliers = 64

// BenchmarkApplyPersist: small updates applied and durably stored, many
// concurrent appliers so group commit batches. One op = one update.
//
//	QUIRE_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable \
//	  go test -run '^$' -bench ApplyPersist -benchtime 20000x ./ydoc
//
// The serial cases have one applier, which waits for each update to be
// stored before the next: every commit holds one update, and the goroutine
// hand-offs of one update are all paid. The paced case also sleeps 5 ms
// after each, so the process goes idle between updates as in bench S2;
// compare it with storage's BenchmarkPacedFloor/append (the same commit
// without the pipeline around it).
func BenchmarkApplyPersist(b *testing.B) {
	for _, k := range storeKinds() {
		for _, docs := range []int{1, 1000} {
			b.Run(fmt.Sprintf("%s/docs=%d", k.name, docs), func(b *testing.B) {
				benchApplyPersist(b, k.open(b), docs, benchAppliers, 0)
			})
			b.Run(fmt.Sprintf("%s/serial/docs=%d", k.name, docs), func(b *testing.B) {
				benchApplyPersist(b, k.open(b), docs, 1, 0)
			})
		}
		b.Run(k.name+"/paced/docs=1000", func(b *testing.B) {
			benchApplyPersist(b, k.open(b), 1000, 1, 5*time.Millisecond)
		})
	}
}

func benchApplyPersist(b *testing.B, store storage.Store, docs, appliers int, pace time.Duration) {
	ctx := context.Background()
	bundle := startManager(b, store, Config{})
	ids := make([]string, docs)
	for i := range ids {
		ids[i] = newNote(b, store, `{}`)
		_, err := bundle.m.State(ctx, ids[i]) // load outside the timer
		require.NoError(b, err)
	}
	// Applier g types into docs g, g+appliers, …, one peer per doc,
	// round robin, appending to its own text: the cost measured is the
	// pipeline, not CRDT conflict resolution (64 writers all inserting at
	// offset 0 of one text makes every integration scan the others' items).
	// All updates are made before the clock starts.
	type op struct {
		doc    string
		update []byte
	}
	work := make([][]op, appliers)
	peers := map[string]*peer{}
	for n := range b.N {
		g := n % appliers
		doc := ids[(g+appliers*(n/appliers))%docs]
		key := fmt.Sprint(g, doc)
		p := peers[key]
		if p == nil {
			p = newPeer()
			peers[key] = p
		}
		work[g] = append(work[g], op{doc, p.typeInto(fmt.Sprint("t", g), "x")})
	}
	b.ResetTimer()
	cpu0, cs0 := processCPU(), contextSwitches()
	var wg sync.WaitGroup
	for g := range appliers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, o := range work[g] {
				if err := bundle.m.Apply(ctx, o.doc, "s", o.update); err != nil {
					b.Error(err)
					return
				}
				if pace > 0 {
					time.Sleep(pace)
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	// CPU, not wall time, is what a busy server runs out of.
	b.ReportMetric(float64(processCPU()-cpu0)/1e3/float64(b.N), "cpu-µs/update")
	b.ReportMetric(float64(contextSwitches()-cs0)/float64(b.N), "ctxsw/update")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}

// processCPU is the process's user+system CPU time in nanoseconds.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// contextSwitches is the process's voluntary and involuntary context
// switches (storage's benchmarks explain why they are counted).
func contextSwitches() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Nvcsw + ru.Nivcsw
}

// BenchmarkState1MB: the full state of a ~1 MB document as update bytes,
// from the per-version cache (what every joiner of an
// unchanged document pays) and encoded afresh (what a change costs).
//
//	go test -run '^$' -bench State1MB ./ydoc
func BenchmarkState1MB(b *testing.B) {
	src := newPeer()
	chunk := strings.Repeat("lorem ipsum ", 85) // ~1 KB
	for i := range 1000 {
		src.insert(i*len(chunk), chunk)
	}
	full := y.EncodeStateAsUpdate(src.doc, nil)

	b.Run("cached", func(b *testing.B) {
		bundle := startManager(b, storeKinds()[0].open(b), Config{})
		ctx := context.Background()
		doc := newNote(b, bundle.store, `{}`)
		require.NoError(b, bundle.m.Apply(ctx, doc, "s", full))
		st, err := bundle.m.State(ctx, doc)
		require.NoError(b, err)
		b.SetBytes(int64(len(st.Update)))
		b.ResetTimer()
		for range b.N {
			if _, err := bundle.m.State(ctx, doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("uncached", func(b *testing.B) {
		p := newPeer()
		p.apply(full)
		b.SetBytes(int64(len(full)))
		b.ResetTimer()
		for range b.N {
			_ = y.EncodeStateAsUpdate(p.doc, nil)
		}
	})
}

// BenchmarkMemoryPerDocument: live heap per loaded document (a note seeded
// from a short Markdown text, joined by one session), as heap delta / N.
//
//	go test -run '^$' -bench MemoryPerDocument -benchtime 1x ./ydoc
func BenchmarkMemoryPerDocument(b *testing.B) {
	const n = 1000
	store := storeKinds()[0].open(b)
	ctx := context.Background()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = newNote(b, store, `{"content":{"md":"# Note\n\nA short paragraph with **bold** text.\n\n- one\n- two\n"}}`)
	}
	b.ResetTimer()
	for range b.N {
		bundle := startManager(b, store, Config{IdleTimeout: time.Hour})
		for _, id := range ids[:1] { // warm up: package state, pools
			_, err := bundle.m.Join(ctx, id, "s")
			require.NoError(b, err)
		}
		before, stackBefore := liveHeap()
		for _, id := range ids[1:] {
			_, err := bundle.m.Join(ctx, id, "s")
			require.NoError(b, err)
		}
		after, stackAfter := liveHeap()
		writeHeapProfile(b, "small")
		b.ReportMetric(float64(after-before)/float64(n-1), "heap-bytes/doc")
		b.ReportMetric(float64(stackAfter-stackBefore)/float64(n-1), "stack-bytes/doc")
		require.NoError(b, bundle.m.Stop(ctx))
	}
}

// liveHeap returns the live heap and the goroutine stacks in use.
func liveHeap() (heap, stacks uint64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, ms.StackInuse
}

// typeInto appends s to the peer's text named name.
func (p *peer) typeInto(name, s string) []byte {
	editMu.Lock()
	defer editMu.Unlock()
	t := p.doc.GetText(name)
	t.Insert(t.Length(), s, nil)
	return p.last
}
