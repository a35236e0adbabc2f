package realtime_test

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// TestMeasureStop (QUIRE_MEASURE=1): how long Stop takes with
// QUIRE_MEASURE_STOP_N idle websocket sockets (default 2,000) connected:
// issue 13 item 6, the library closed them one after another. It logs
// the figure, and the most goroutines at once while it runs, and asserts
// nothing of them (the machine is shared).
func TestMeasureStop(t *testing.T) {
	measuring(t)
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("QUIRE_MEASURE_STOP_N")); err == nil && v > 0 {
		n = v
	}
	b := setup(t)
	idleClients(t, b.url, b.tokens["writer"], n)
	waitFor(t, "all sockets registered", 60*time.Second, func() bool {
		return b.metric(t, "quire_realtime_connected_sockets", nil) == float64(n)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := runtime.NumGoroutine()
	peak := make(chan int)
	done := make(chan struct{})
	go func() { // the most goroutines at once while Stop runs
		most := 0
		for {
			most = max(most, runtime.NumGoroutine())
			select {
			case <-done:
				peak <- most
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	start := time.Now()
	err := b.srv.Stop(ctx)
	took := time.Since(start)
	close(done)
	t.Logf("Stop with %d idle sockets: %v (err %v), %v sockets left; goroutines %d before, at most %d during", n, took, err,
		b.metric(t, "quire_realtime_connected_sockets", nil), base, <-peak)
}
