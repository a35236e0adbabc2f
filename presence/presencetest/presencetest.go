// Package presencetest is the conformance suite every presence.Manager
// implementation passes.
package presencetest

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quire/quire/presence"
)

// Clock is the fake clock a case drives; safe for concurrent use.
type Clock struct{ ns atomic.Int64 }

// Now is the clock's time; pass it to the Manager as its clock.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()) }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// Sweeper is the optional extra of a Manager that deletes expired sockets
// (presence.Memory); the suite checks a sweep changes no answer.
type Sweeper interface{ Sweep() }

// Run runs the suite. newManager returns a fresh, empty Manager per case
// that reads time from now and expires sockets after
// presence.TimeoutDefault.
func Run(t *testing.T, newManager func(t *testing.T, now func() time.Time) presence.Manager) {
	ctx := context.Background()
	setup := func(t *testing.T) (presence.Manager, *Clock) {
		c := &Clock{}
		c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
		return newManager(t, c.Now), c
	}
	t.Run("ConnectDisconnect", func(t *testing.T) {
		m, _ := setup(t)
		do(t, m.Connect(ctx, "u1", "s1"))
		do(t, m.Connect(ctx, "u1", "s2"))
		do(t, m.Connect(ctx, "u2", "s3"))
		expect(t, m, "u1", "u2")
		do(t, m.Disconnect(ctx, "u1", "s1"))
		expect(t, m, "u1", "u2") // s2 still live
		do(t, m.Disconnect(ctx, "u1", "s2"))
		expect(t, m, "u2")
		do(t, m.Disconnect(ctx, "u2", "s3"))
		expect(t, m)
	})
	t.Run("UnknownPairsIgnored", func(t *testing.T) {
		m, _ := setup(t)
		do(t, m.Connect(ctx, "u1", "s1"))
		do(t, m.Disconnect(ctx, "u2", "s1")) // wrong owner
		do(t, m.Disconnect(ctx, "u1", "nope"))
		expect(t, m, "u1")
	})
	t.Run("Reconnect", func(t *testing.T) {
		m, _ := setup(t)
		do(t, m.Connect(ctx, "u1", "s1"))
		do(t, m.Connect(ctx, "u2", "s1")) // the socket re-authenticated as another account
		expect(t, m, "u2")
		do(t, m.Touch(ctx, "u3", "s1"))
		expect(t, m, "u3")
	})
	t.Run("Owns", func(t *testing.T) {
		m, clock := setup(t)
		owns := func(user, sid string) bool {
			t.Helper()
			ok, err := m.Owns(ctx, user, sid)
			do(t, err)
			return ok
		}
		do(t, m.Connect(ctx, "u1", "s1"))
		do(t, m.Connect(ctx, "u2", "s2"))
		if !owns("u1", "s1") || !owns("u2", "s2") {
			t.Fatal("a connected socket is not its account's")
		}
		if owns("u2", "s1") || owns("u1", "s2") || owns("u1", "nope") {
			t.Fatal("a socket is another account's, or an unknown one anybody's")
		}
		do(t, m.Connect(ctx, "u2", "s1")) // re-authenticated as u2
		if owns("u1", "s1") || !owns("u2", "s1") {
			t.Fatal("a re-authenticated socket still belongs to its old account")
		}
		do(t, m.Disconnect(ctx, "u2", "s1"))
		if owns("u2", "s1") {
			t.Fatal("a disconnected socket is still owned")
		}
		clock.Advance(presence.TimeoutDefault + time.Second)
		if owns("u2", "s2") {
			t.Fatal("an expired socket is still owned")
		}
		do(t, m.Touch(ctx, "u2", "s2"))
		if !owns("u2", "s2") {
			t.Fatal("a heartbeat does not revive ownership")
		}
	})
	t.Run("Expiry", func(t *testing.T) {
		m, clock := setup(t)
		do(t, m.Connect(ctx, "u1", "s1"))
		clock.Advance(presence.TimeoutDefault)
		expect(t, m, "u1") // silent for exactly the timeout: still live
		clock.Advance(time.Second)
		expect(t, m)
		sweep(m)
		expect(t, m)
		do(t, m.Disconnect(ctx, "u1", "s1")) // after expiry: harmless
		expect(t, m)
	})
	t.Run("HeartbeatKeepsLive", func(t *testing.T) {
		m, clock := setup(t)
		do(t, m.Connect(ctx, "u1", "s1"))
		for range 10 { // ten times the timeout, with a heartbeat every 30 s
			for range presence.TimeoutDefault / (30 * time.Second) {
				clock.Advance(30 * time.Second)
				do(t, m.Touch(ctx, "u1", "s1"))
			}
			sweep(m)
			expect(t, m, "u1")
		}
		clock.Advance(presence.TimeoutDefault + time.Second)
		expect(t, m)
	})
	t.Run("ExpiryPerSocket", func(t *testing.T) {
		m, clock := setup(t)
		do(t, m.Connect(ctx, "u1", "stale"))
		do(t, m.Connect(ctx, "u2", "other"))
		clock.Advance(presence.TimeoutDefault / 2)
		do(t, m.Connect(ctx, "u1", "fresh"))
		clock.Advance(presence.TimeoutDefault/2 + time.Second)
		expect(t, m, "u1") // its fresh socket keeps it online
		sweep(m)
		expect(t, m, "u1")
		do(t, m.Disconnect(ctx, "u1", "fresh"))
		expect(t, m)
	})
	t.Run("TouchRevivesExpired", func(t *testing.T) {
		m, clock := setup(t)
		do(t, m.Connect(ctx, "u1", "s1"))
		clock.Advance(presence.TimeoutDefault + time.Second)
		sweep(m)
		expect(t, m)
		do(t, m.Touch(ctx, "u1", "s1")) // the socket was alive after all
		expect(t, m, "u1")
		do(t, m.Disconnect(ctx, "u1", "s1"))
		expect(t, m)
	})
	t.Run("UsageExpires", func(t *testing.T) {
		m, clock := setup(t)
		do(t, m.Connect(ctx, "u1", "s1"))
		expectModels(t, m)
		do(t, m.UseModel(ctx, "s1", "gpt"))
		do(t, m.UseModel(ctx, "s1", "llama"))
		expectModels(t, m, "gpt", "llama")
		clock.Advance(presence.UsageTimeoutDefault)
		do(t, m.UseModel(ctx, "s1", "llama")) // refreshed
		expectModels(t, m, "gpt", "llama")    // exactly the timeout: still in use
		clock.Advance(time.Second)
		expectModels(t, m, "llama")
		sweep(m)
		expectModels(t, m, "llama")
		clock.Advance(presence.UsageTimeoutDefault)
		expectModels(t, m)
	})
	t.Run("UsageOfSeveralSockets", func(t *testing.T) {
		m, clock := setup(t)
		do(t, m.Connect(ctx, "u1", "s1"))
		do(t, m.Connect(ctx, "u2", "s2"))
		do(t, m.UseModel(ctx, "s1", "gpt"))
		clock.Advance(2 * time.Second)
		do(t, m.UseModel(ctx, "s2", "gpt"))
		clock.Advance(2 * time.Second) // s1's use expired, s2's holds it
		expectModels(t, m, "gpt")
		do(t, m.Disconnect(ctx, "u2", "s2")) // dropped on disconnect at once
		expectModels(t, m)
		expect(t, m, "u1")
	})
	t.Run("Concurrent", func(t *testing.T) {
		m, clock := setup(t)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				sid := string(rune('a' + i))
				for range 200 {
					do(t, m.Connect(ctx, "u", sid))
					do(t, m.Touch(ctx, "u", sid))
					do(t, m.UseModel(ctx, sid, "model"))
					_, _ = m.Models(ctx)
					clock.Advance(time.Second)
					_, _ = m.Online(ctx)
					sweep(m)
					do(t, m.Disconnect(ctx, "u", sid))
				}
			})
		}
		wg.Wait()
		expect(t, m)
		expectModels(t, m)
	})
}

// do fails the test on a Manager error (the memory one has none; a Redis
// one could). Errorf, not Fatal: Concurrent calls it from goroutines.
func do(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("presence: %v", err)
	}
}

func expectModels(t *testing.T, m presence.Manager, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	got, err := m.Models(context.Background())
	if err != nil {
		t.Fatalf("Models: %v", err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Models() = %v, want %v", got, want)
	}
}

func sweep(m presence.Manager) {
	if s, ok := m.(Sweeper); ok {
		s.Sweep()
	}
}

func expect(t *testing.T, m presence.Manager, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	got, err := m.Online(context.Background())
	if err != nil {
		t.Fatalf("Online: %v", err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Online() = %v, want %v", got, want)
	}
}
