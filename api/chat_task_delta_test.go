package api

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeClock is a clock the test moves; its timers run only when the test
// fires them.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	due     time.Time
	f       func()
	stopped bool
}

func (t *fakeTimer) Stop() bool {
	was := !t.stopped
	t.stopped = true
	return was
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) stopper {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{due: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// fire runs the armed timers that are due (as a late timer goroutine
// would), and says how many ran.
func (c *fakeClock) fire() int {
	c.mu.Lock()
	var due []*fakeTimer
	rest := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case !t.due.After(c.now):
			due = append(due, t)
		default:
			rest = append(rest, t)
		}
	}
	c.timers = rest
	c.mu.Unlock()
	for _, t := range due {
		t.stopped = true
		t.f()
	}
	return len(due)
}

type sent struct {
	at   time.Time
	text string
}

func fakeSender(interval time.Duration) (*deltaSender, *fakeClock, *[]sent) {
	clock := &fakeClock{now: time.Unix(1_000_000, 0)}
	var out []sent
	d := newDeltaSender(interval, 1<<20, func(typ string, data any) {
		if td, ok := data.(textDelta); ok {
			out = append(out, sent{at: clock.Now(), text: td.Choices[0].Delta.Content})
		}
	})
	d.now, d.afterFunc = clock.Now, clock.AfterFunc
	return d, clock, &out
}

// A timer armed for the text waiting, which runs only after a later chunk
// already sent that text (the chunk came once the interval had passed),
// does not send the next chunk's text right after: it waits out the
// interval again. The old tick sent at once, two events 1 ms apart.
func TestDeltaSenderTimerAfterChunkFlush(t *testing.T) {
	const interval = 50 * time.Millisecond
	d, clock, out := fakeSender(interval)
	d.add("a") // at once: nothing was sent before
	clock.advance(10 * time.Millisecond)
	d.add("b") // waits; a timer is armed for t=50ms
	clock.advance(40 * time.Millisecond)
	d.add("c") // the interval has passed: sent with "b", before the timer ran
	clock.advance(time.Millisecond)
	d.add("d") // waits; the old timer is still armed
	require.Equal(t, 1, clock.fire(), "the late timer runs")
	require.Len(t, *out, 2, "the late timer sends nothing 1 ms after the last text")
	clock.advance(interval)
	require.Equal(t, 1, clock.fire(), "it was re-armed for the rest of the interval")
	d.drain()
	require.Equal(t, []string{"a", "bc", "d"}, texts(*out))
	for i := 1; i < len(*out); i++ {
		require.GreaterOrEqual(t, (*out)[i].at.Sub((*out)[i-1].at), interval, "events %d and %d", i-1, i)
	}
}

// Many chunks in steps shorter than the interval, with the timers run as
// soon as they are due: the text arrives whole and in order, and no two
// events are closer than the interval (but the last, which drain sends
// at the end of the answer).
func TestDeltaSenderSpacing(t *testing.T) {
	const interval = 50 * time.Millisecond
	d, clock, out := fakeSender(interval)
	want := ""
	for i := range 500 {
		piece := string(rune('a' + i%26))
		want += piece
		d.add(piece)
		clock.advance(7 * time.Millisecond)
		clock.fire()
	}
	d.drain()
	got := ""
	for i, s := range *out {
		got += s.text
		if i > 0 && i < len(*out)-1 {
			require.GreaterOrEqual(t, s.at.Sub((*out)[i-1].at), interval)
		}
	}
	require.Equal(t, want, got)
	require.Less(t, len(*out), 500/7+3, "about one event per interval")
}

func texts(s []sent) []string {
	var out []string
	for _, x := range s {
		out = append(out, x.text)
	}
	return out
}
