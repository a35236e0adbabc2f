package realtime_test

import (
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quire/quire/storage"
)

// The server's side of a channel message's fan-out: EmitChannel of a
// message-sized events:channel payload to a room of 500 live sockets (one
// account's, put into the room by JoinChannel as a new member's would be).
// ns/op is the time to publish through the broker and hand the frame to
// every socket's transport (the writes go on meanwhile); server-cpu-ms/op
// is this process's CPU time per message until every write is done (the
// transports' writer goroutines have exited), which the Node clients'
// share of the machine does not blur as much.
//
//	go test ./realtime -run '^$' -bench ChannelFanout -benchtime 300x
func BenchmarkChannelFanout(b *testing.B) {
	const n = 500
	tb := setup(b)
	owner := tb.users["writer"]
	ch := tb.privateGroup(b, "big", storage.ChannelMember{UserID: owner.ID})
	idleClients(b, tb.url, tb.tokens["writer"], n)
	waitFor(b, "every socket authenticated", 30*time.Second, func() bool { return tb.presence.Sockets() == n })
	tb.srv.JoinChannel(ch.ID, []string{owner.ID})
	payload := []byte(`{"channel_id":"` + ch.ID + `","message_id":"m","data":{"type":"message","data":{"content":"` +
		strings.Repeat("x", 200) + `"}},"user":{"id":"u","name":"n","role":"user"},"channel":{"id":"` + ch.ID + `"}}`)
	time.Sleep(200 * time.Millisecond) // let the connects' goroutines end
	idle := runtime.NumGoroutine()
	cpu0 := processCPU()
	b.ResetTimer()
	for range b.N {
		tb.srv.EmitChannel(ch.ID, payload, owner.ID)
	}
	b.StopTimer()
	waitFor(b, "every write done", 60*time.Second, func() bool { return runtime.NumGoroutine() <= idle })
	b.ReportMetric(float64(processCPU()-cpu0)/float64(time.Millisecond)/float64(b.N), "server-cpu-ms/op")
}

// processCPU is this process's CPU time so far, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
