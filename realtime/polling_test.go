package realtime_test

import (
	"testing"
	"time"

	"github.com/quire/quire/realtime"
)

// A polling session the server ends (here: a ping left unanswered) answers
// the client's pending long-poll with the CLOSE packet. The library's
// transport stops its write queue before it queues that CLOSE, and the
// client's GET waited for good.
func TestPollingTimeoutAnswersThePendingPoll(t *testing.T) {
	t.Parallel()
	skipPollingUnderRace(t)
	b := setup(t, func(c *realtime.Config) {
		c.EnablePolling = true
		c.PingInterval = 50 * time.Millisecond
		c.PingTimeout = 50 * time.Millisecond
	})
	cl := dialPolling(t, b.url)
	var got []string
	deadline := time.After(10 * time.Second)
read:
	for {
		select {
		case f, ok := <-cl.frames:
			if !ok {
				break read
			}
			got = append(got, f)
		case <-deadline:
			t.Fatalf("the session timed out and the client's poll is still pending; got %q", got)
		}
	}
	if len(got) != 3 || got[1] != "2" || got[2] != "1" {
		t.Fatalf("want OPEN, a ping, CLOSE; got %q", got)
	}
	waitFor(t, "no poll left in the server", 10*time.Second, func() bool { return realtime.PollsInFlight(b.srv) == 0 })
}
