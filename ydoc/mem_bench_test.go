package ydoc

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	y "github.com/skyterra/y-crdt"
	"github.com/stretchr/testify/require"

	"github.com/quire/quire/storage"
)

// memDocs is how many large documents BenchmarkMemPerDoc loads (issue 13:
// one socket joining 20 notes of ~195 KB).
const memDocs = 20

// memTextBytes is the paragraph text per document: ~195 KB of state.
const memTextBytes = 190 << 10

// BenchmarkMemPerDoc: live heap per loaded ~195 KB document, joined by one
// session, as (heap after − heap before) / documents after two GCs, next to
// the document's encoded state: heap-bytes/doc once the joins' cached
// states are dropped, joined-heap-bytes/doc right after the joins. "seeded": a note made over REST (Markdown,
// seeded on first join); "pasted": a y-prosemirror log of 64-paragraph
// pastes as the bench harness's prefill client sends it; "typed": a
// paragraph typed 4 characters per update (6,000 rows: compacted on load).
//
//	go test -run '^$' -bench MemPerDoc -benchtime 1x ./ydoc
//
// With QUIRE_HEAPPROFILE=/tmp/heap it writes /tmp/heap-<kind>.pprof while
// the documents are loaded (-memprofile would be written after they unload):
//
//	QUIRE_HEAPPROFILE=/tmp/heap go test -run '^$' -bench MemPerDoc -benchtime 1x ./ydoc &&
//	  go tool pprof -top -sample_index=inuse_space /tmp/heap-seeded.pprof
func BenchmarkMemPerDoc(b *testing.B) {
	for _, kind := range []string{"seeded", "pasted", "typed"} {
		b.Run(kind, func(b *testing.B) {
			store := storeKinds()[0].open(b)
			ids := make([]string, memDocs+1)
			for i := range ids {
				ids[i] = memNote(b, store, kind, i)
			}
			b.ResetTimer()
			for range b.N {
				bundle := startManager(b, store, Config{IdleTimeout: time.Hour, StateCacheTTL: 50 * time.Millisecond})
				ctx := context.Background()
				_, err := bundle.m.Join(ctx, ids[0], "s") // warm up: package state, pools
				require.NoError(b, err)
				settle := func(compactions int) {
					if kind == "typed" { // its long logs are compacted on load: let that finish
						require.Eventually(b, func() bool { return metricValue(b, bundle.m.met.compactions) == float64(compactions) },
							time.Minute, time.Millisecond)
					}
					// Once the joins' encoded states are dropped (statecache.go):
					// what a loaded document costs for as long as it stays loaded.
					require.Eventually(b, func() bool { return metricValue(b, bundle.m.met.stateCacheBytes) == 0 },
						time.Minute, time.Millisecond)
				}
				settle(1)
				before, _ := liveHeap()
				stateBytes := 0
				for _, id := range ids[1:] {
					st, err := bundle.m.Join(ctx, id, "s")
					require.NoError(b, err)
					stateBytes += len(st.Update)
				}
				joined, _ := liveHeap()
				settle(memDocs + 1)
				after, _ := liveHeap()
				writeHeapProfile(b, kind)
				perDoc := float64(after-before) / memDocs
				state := float64(stateBytes) / memDocs
				b.ReportMetric(float64(joined-before)/memDocs, "joined-heap-bytes/doc")
				b.ReportMetric(perDoc, "heap-bytes/doc")
				b.ReportMetric(state, "state-bytes/doc")
				b.ReportMetric(perDoc/state, "heap/state")
				b.StopTimer()
				require.NoError(b, bundle.m.Stop(ctx))
				b.StartTimer()
			}
		})
	}
}

// memNote stores one large note of the given kind and returns its id.
func memNote(t testing.TB, store storage.Store, kind string, seed int) string {
	t.Helper()
	rnd := rand.New(rand.NewPCG(uint64(seed), 13))
	words := strings.Fields("lorem ipsum dolor sit amet quire note yjs socket editor paragraph server document latency relay state")
	para := func() string {
		var sb strings.Builder
		for sb.Len() < 500 {
			sb.WriteString(words[rnd.IntN(len(words))])
			sb.WriteByte(' ')
		}
		return sb.String()
	}
	switch kind {
	case "seeded":
		var md strings.Builder
		for md.Len() < memTextBytes {
			md.WriteString(para())
			md.WriteString("\n\n")
		}
		data, err := json.Marshal(map[string]any{"content": map[string]any{"md": md.String()}})
		require.NoError(t, err)
		return newNote(t, store, string(data))
	case "pasted", "typed":
		id := newNote(t, store, `{}`)
		var ups []storage.DocUpdate
		doc := newDoc(uint64(1000 + seed))
		doc.On("update", y.NewObserverHandler(func(v ...any) {
			ups = append(ups, storage.DocUpdate{DocID: id, Data: append([]byte(nil), v[0].([]byte)...)})
		}))
		frag := doc.GetXmlFragment("prosemirror").(*y.YXmlFragment)
		editMu.Lock()
		if kind == "pasted" {
			for n := 0; n < memTextBytes; {
				doc.Transact(func(*y.Transaction) {
					for range 64 {
						p := newXMLElement("paragraph")
						frag.Push([]any{p})
						txt := y.NewYXmlText()
						p.Push([]any{txt})
						s := para()
						txt.Insert(0, s, nil)
						n += len(s)
					}
				}, nil)
			}
		} else {
			p := newXMLElement("paragraph")
			frag.Push([]any{p})
			txt := y.NewYXmlText()
			p.Push([]any{txt})
			for n := 0; n < memTextBytes/8; n += 4 { // ~12x the text in state
				txt.Insert(n, "abcd", nil)
			}
		}
		editMu.Unlock()
		_, err := store.AppendUpdates(context.Background(), ups)
		require.NoError(t, err)
		return id
	}
	panic(fmt.Sprint("unknown kind ", kind))
}

// writeHeapProfile writes a heap profile to $QUIRE_HEAPPROFILE-<name>.pprof
// when that variable is set.
func writeHeapProfile(t testing.TB, name string) {
	prefix := os.Getenv("QUIRE_HEAPPROFILE")
	if prefix == "" {
		return
	}
	f, err := os.Create(prefix + "-" + name + ".pprof")
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, pprof.WriteHeapProfile(f))
}
