package presence_test

import (
	"context"
	"testing"
	"time"

	"github.com/quire/quire/presence"
	"github.com/quire/quire/presence/presencetest"
)

func TestMemory(t *testing.T) {
	t.Parallel()
	presencetest.Run(t, func(_ *testing.T, now func() time.Time) presence.Manager {
		m := presence.NewMemory()
		m.Now = now
		return m
	})
}

// Start sweeps until Stop; both are idempotent.
func TestMemorySweeper(t *testing.T) {
	t.Parallel()
	var clock presencetest.Clock
	m := presence.NewMemory()
	m.Now, m.SweepInterval = clock.Now, time.Millisecond
	ctx := context.Background()
	if err := m.Stop(ctx); err != nil { // before Start: nothing to stop
		t.Fatal(err)
	}
	if err := m.Connect(ctx, "u1", "s1"); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Advance(presence.TimeoutDefault + time.Second)
	// Online already skips it; only the sweeper deletes it.
	deadline := time.Now().Add(10 * time.Second)
	for m.Sockets() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the sweeper never deleted the expired socket")
		}
		time.Sleep(time.Millisecond)
	}
	for range 2 {
		if err := m.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	}
}
