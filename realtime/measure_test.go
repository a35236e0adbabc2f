package realtime_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	engine "github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"

	"github.com/quire/quire/internal/nodetest"
	"github.com/quire/quire/storage"
)

// Measurements, not assertions: run with QUIRE_MEASURE=1, e.g.
//
//	QUIRE_MEASURE=1 go test ./realtime -run Measure -v -count=1
func measuring(t *testing.T) {
	if os.Getenv("QUIRE_MEASURE") == "" {
		t.Skip("set QUIRE_MEASURE=1 to measure")
	}
}

// Fan-out latency for 50 editors in one document (50 updates/s for 10 s).
func TestMeasureFanout(t *testing.T) {
	measuring(t)
	b := setup(t)
	var r map[string]any
	cpu0 := processCPU()
	node(t, &r, "fanout.mjs", b.url, b.note.ID, b.tokens["writer"], "50", "50", "10")
	t.Logf("fan-out: %v", r)
	// The whole run's: 50 joins, then 500 updates, each to 49 sockets.
	t.Logf("server CPU: %.2f ms per update", float64(processCPU()-cpu0)/float64(time.Millisecond)/500)
	t.Logf("broadcast bytes: %.0f", b.metric(t, "quire_realtime_broadcast_bytes_total", nil))
}

// RSS and goroutines per idle authenticated websocket connection (2,000).
// TestMeasureIdleConnectionsLibrary measures the library alone, with the
// same clients: the difference is what Quire adds.
func TestMeasureIdleConnections(t *testing.T) {
	measuring(t)
	b := setup(t)
	measureIdle(t, b.url, b.tokens["writer"], func() bool {
		return b.metric(t, "quire_realtime_connected_sockets", nil) == idleConns
	})
}

// The Socket.IO library alone (servers/socket v3, the same path, websocket
// only, no handlers), measured as TestMeasureIdleConnections.
func TestMeasureIdleConnectionsLibrary(t *testing.T) {
	measuring(t)
	opts := socket.DefaultServerOptions()
	opts.SetServeClient(false)
	opts.SetPath("/ws/socket.io")
	opts.SetTransports(types.NewSet[transports.TransportCtor](engine.WebSocket))
	opts.SetAllowUpgrades(false)
	io := socket.NewServer(nil, opts)
	var connected atomic.Int64
	_ = io.On("connection", func(...any) { connected.Add(1) })
	srv := httptest.NewServer(io.ServeHandler(opts))
	t.Cleanup(func() { srv.Close(); io.Close(nil) })
	measureIdle(t, srv.URL, "unused", func() bool { return connected.Load() == idleConns })
}

const idleConns = 2000

// measureIdle opens idleConns idle sockets from a Node process, waits for
// connected, and logs RSS, heap, stacks and goroutines per connection.
func measureIdle(t *testing.T, url, token string, connected func() bool) {
	if os.Getenv("QUIRE_MEASURE_PROFILE") != "" {
		runtime.MemProfileRate = 64 // fine-grained: per-connection allocations are small
	}
	const n = idleConns
	gcTwice()
	rss0, g0 := vmRSS(t), runtime.NumGoroutine()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)

	idleClients(t, url, token, n)
	waitFor(t, "all sockets registered", 20*time.Second, connected)
	time.Sleep(time.Second) // let connection setup goroutines finish
	gcTwice()
	rss1, g1 := vmRSS(t), runtime.NumGoroutine()
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	t.Logf("%d idle connections: RSS %.1f → %.1f MB (%.1f KB each), heap %.1f KB each, stacks %.1f KB each, goroutines %.2f each",
		n, float64(rss0)/1024, float64(rss1)/1024, float64(rss1-rss0)/n,
		float64(ms1.HeapAlloc-ms0.HeapAlloc)/1024/n, float64(ms1.StackInuse-ms0.StackInuse)/1024/n, float64(g1-g0)/n)
	writeProfiles(t)
}

// Issue 13 item 5: one socket joins 20 notes of ~195 KB (seeded from
// Markdown on the first join). Heap and RSS per document right after the
// joins and once the cached states are dropped (ydoc/statecache.go), as a
// multiple of the state the client received.
func TestMeasureJoinManyDocuments(t *testing.T) {
	measuring(t)
	const n, textBytes = 20, 190 << 10
	b := setup(t)
	words := strings.Fields("lorem ipsum dolor sit amet quire note yjs socket editor paragraph server document latency relay state")
	docs := make([]string, n)
	for i := range docs {
		var md strings.Builder
		for k := 0; md.Len() < textBytes; k++ {
			for md.Len()%500 < 490 {
				md.WriteString(words[(i*7+k*13+md.Len())%len(words)])
				md.WriteByte(' ')
			}
			md.WriteString("\n\n")
		}
		data, _ := json.Marshal(map[string]any{"content": map[string]any{"md": md.String()}})
		note := &storage.Note{UserID: b.users["writer"].ID, Title: "big", Data: data, Meta: json.RawMessage(`{}`)}
		if err := b.store.CreateNote(context.Background(), note); err != nil {
			t.Fatal(err)
		}
		docs[i] = "note:" + note.ID
	}
	gcTwice()
	rss0 := vmRSS(t)
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	s := nodetest.Start(t, filepath.Join("testdata", "joinmany.mjs"), append([]string{b.url, b.tokens["writer"]}, docs...)...)
	var ready struct{ Ready, StateBytes int }
	if s.Next(&ready); ready.Ready != n {
		t.Fatalf("joinmany: %d of %d documents joined", ready.Ready, n)
	}
	state := float64(ready.StateBytes) / n
	report := func(when string) {
		gcTwice()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap := float64(ms.HeapAlloc-ms0.HeapAlloc) / n
		t.Logf("%s: RSS %.1f → %.1f MB (peak %.1f MB), heap %.0f KB per document = %.2f × its %.0f KB state",
			when, float64(rss0)/1024, float64(vmRSS(t))/1024, float64(vmHWM(t))/1024, heap/1024, heap/state, state/1024)
	}
	report("joined")
	waitFor(t, "cached states dropped", time.Minute, func() bool {
		return b.metric(t, "quire_ydoc_state_cache_bytes", nil) == 0
	})
	report("settled")
	writeProfiles(t)
}

// Issue 13 item 1: 50 sockets (socket.io-client) join a document with a
// ~1 MB state at once. Time to the whole state, peak RSS above the
// loaded document (VmHWM reset before the joins), server CPU; a CPU profile
// in $QUIRE_MEASURE_PROFILE/cpu.pprof if set.
//
//	QUIRE_MEASURE=1 go test ./realtime -run MeasureColdJoin -v -count=1
func TestMeasureColdJoin(t *testing.T) {
	measuring(t)
	const joiners = 50
	b := setup(t)
	doc := "note:" + b.note.ID
	ctx := context.Background()
	// One update: a fresh client's 1 MiB string in the root Y.Text "t".
	text := strings.Repeat("lorem ipsum dolor sit amet ", 1<<20/27)
	upd := append([]byte{1, 1, 11, 0, 4, 1, 1, 't'}, binary.AppendUvarint(nil, uint64(len(text)))...)
	upd = append(append(upd, text...), 0)
	if err := b.docs.Apply(ctx, doc, "seed", upd); err != nil {
		t.Fatal(err)
	}
	st, err := b.docs.State(ctx, doc)
	if err != nil {
		t.Fatal(err)
	}
	gcTwice()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Logf("cannot reset VmHWM: %v", err)
	}
	rss0 := vmRSS(t)
	if dir := os.Getenv("QUIRE_MEASURE_PROFILE"); dir != "" {
		f, err := os.Create(filepath.Join(dir, "cpu.pprof"))
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatal(err)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	cpu0 := processCPU()
	var r map[string]any
	node(t, &r, "coldjoin.mjs", b.url, b.tokens["reader"], doc, strconv.Itoa(joiners))
	t.Logf("%d joiners of a %d KB state: %v ms; RSS %.1f MB, peak %.1f MB (+%.1f); server CPU %.2f s (connects included)",
		joiners, len(st.Update)>>10, r, float64(rss0)/1024, float64(vmHWM(t))/1024, float64(vmHWM(t)-rss0)/1024,
		(processCPU() - cpu0).Seconds())
}

// vmHWM reads the process's peak resident set in KB.
func vmHWM(t *testing.T) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// writeProfiles saves heap and goroutine profiles to $QUIRE_MEASURE_PROFILE
// (a directory), if set: go tool pprof -sample_index=inuse_space DIR/heap.pprof
func writeProfiles(t *testing.T) {
	dir := os.Getenv("QUIRE_MEASURE_PROFILE")
	if dir == "" {
		return
	}
	for _, name := range []string{"heap", "goroutine"} {
		f, err := os.Create(filepath.Join(dir, name+".pprof"))
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	t.Logf("profiles written to %s", dir)
}

// vmRSS reads the process's resident set in KB.
func vmRSS(t *testing.T) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// gcTwice collects twice, so sync.Pool victim caches are freed too and the
// heap figure is what the connections keep.
func gcTwice() {
	runtime.GC()
	runtime.GC()
}
