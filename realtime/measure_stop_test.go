package realtime_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
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
	cmd := exec.Command("node", filepath.Join("testdata", "idle.mjs"), b.url, b.tokens["writer"], strconv.Itoa(n))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(stdout)
	var ready struct{ Ready int }
	if !sc.Scan() || json.Unmarshal(sc.Bytes(), &ready) != nil || ready.Ready != n {
		t.Fatalf("idle clients: %q", sc.Text())
	}
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
