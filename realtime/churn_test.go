package realtime_test

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// Goroutines and heap return to their baseline after thousands of
// connect/join/update/disconnect cycles (the library leaked per disconnect in
// earlier versions: shared/DEPENDENCIES.md, defect 1). Not parallel: it
// counts the process's goroutines.
func TestChurn(t *testing.T) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("QUIRE_CHURN_CYCLES")); err == nil {
		n = v
	}
	b := setup(t)
	var warm struct{ Done, Failures int }
	node(t, &warm, "churn.mjs", b.url, b.note.ID, b.tokens["writer"], "20", "5")
	settle := func() (int, uint64) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return runtime.NumGoroutine(), ms.HeapAlloc
	}
	waitFor(t, "warm-up sockets to close", 10*time.Second, func() bool {
		return b.metric(t, "quire_realtime_connected_sockets", nil) == 0
	})
	baseG, baseHeap := settle()

	var r struct {
		Done, Failures int
		Errors         []string
	}
	node(t, &r, "churn.mjs", b.url, b.note.ID, b.tokens["writer"], strconv.Itoa(n), "20")
	// The library reports ~1 in 4,000 websocket connects stalling; allow a few.
	if r.Failures > 2+n/500 {
		t.Fatalf("%d of %d cycles failed: %v", r.Failures, n, r.Errors)
	}
	// Each socket's cleanup runs after its queued events, and each queued
	// update waits for a durable commit: on a loaded machine the backlog of
	// 2,000 cycles drains slowly, so the bound is generous; it only guards a
	// leak (a count that stops falling), reported with the count left.
	var open float64
	waitFor(t, "sockets to close", 180*time.Second, func() bool {
		open = b.metric(t, "quire_realtime_connected_sockets", nil)
		return open == 0
	})
	t.Logf("all sockets closed (last count seen %v)", open)
	const slackG = 10
	var g int
	var heap uint64
	waitFor(t, "goroutines to return to baseline", 60*time.Second, func() bool {
		g, heap = settle()
		return g <= baseG+slackG
	})
	// A leak of even 4 KB per connection would show as 8 MB here.
	const slackHeap = 8 << 20
	if heap > baseHeap+slackHeap {
		t.Errorf("heap %d MB after %d cycles, baseline %d MB", heap>>20, n, baseHeap>>20)
	}
	if online, _ := b.presence.Online(context.Background()); len(online) != 0 {
		t.Errorf("presence still lists %v", online)
	}
	if got := b.aw.States("note:"+b.note.ID, ""); got != nil {
		t.Errorf("awareness states left behind: %s", got)
	}
	t.Logf("failures: %v", r.Errors)
	t.Logf("%d cycles (%d failed): goroutines %d → %d, heap %.1f → %.1f MB", n, r.Failures, baseG, g,
		float64(baseHeap)/(1<<20), float64(heap)/(1<<20))
}
