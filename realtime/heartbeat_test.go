package realtime

import (
	"fmt"
	"testing"
	"time"
)

// last_active_at is written at most once per touchEvery per account,
// whatever the number of sockets; accounts are limited independently, and
// stale entries are pruned.
func TestTouchLimiter(t *testing.T) {
	t.Parallel()
	var l touchLimiter
	t0 := time.Unix(1_800_000_000, 0)
	steps := []struct {
		user string
		at   time.Duration
		want bool
	}{
		{"a", 0, true},
		{"a", 0, false}, // a second tab's heartbeat
		{"b", time.Second, true},
		{"a", touchEvery - time.Nanosecond, false},
		{"a", touchEvery, true},
		{"b", touchEvery, false},
		{"b", touchEvery + time.Second, true},
	}
	for i, s := range steps {
		if got := l.allow(s.user, t0.Add(s.at)); got != s.want {
			t.Fatalf("step %d: allow(%s, +%v) = %v, want %v", i, s.user, s.at, got, s.want)
		}
	}

	later := t0.Add(time.Hour)
	for i := range 5000 {
		l.allow(fmt.Sprint("u", i), later)
	}
	if n := len(l.last); n != 5000 {
		t.Fatalf("%d entries, want 5000 (a, b pruned)", n)
	}
}
