package realtime_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestMeasureStop (QUIRE_MEASURE=1): how long Stop takes with
// QUIRE_MEASURE_STOP_N idle websocket sockets (default 2,000) connected:
// issue 13 item 6, the library closed them one after another. It logs
// the figure and asserts nothing of it (the machine is shared).
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
	start := time.Now()
	err := b.srv.Stop(ctx)
	t.Logf("Stop with %d idle sockets: %v (err %v), %v sockets left", n, time.Since(start), err,
		b.metric(t, "quire_realtime_connected_sockets", nil))
}
