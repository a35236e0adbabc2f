package realtime_test

import (
	"strings"
	"testing"

	"github.com/quire/quire/realtime"
)

// The websocket poller's epoll fd is waited on through the runtime's
// netpoller, not by a goroutine blocked in epoll_wait (which held a P
// that sysmon retook every 10 ms; docs/design.md "Fan-out"). Every other
// test would pass on the blocking fallback too.
func TestPollerUsesNetpoller(t *testing.T) {
	b := setup(t)
	w := dialWire(t, b.url)
	w.text(`40{"token":"` + b.tokens["writer"] + `"}`)
	if _, msg := w.read(); !strings.HasPrefix(msg, `40{"sid":"`) {
		t.Fatalf("CONNECT reply %q", msg)
	}
	// The CONNECT came after the upgrade's reply, so the poller read it.
	if !realtime.PollerViaNetpoller() {
		t.Fatal("the poller's events did not come through the netpoller")
	}
}
