// Package presencetest is the conformance suite every presence.Manager
// implementation passes.
package presencetest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/quire/quire/presence"
)

// Run runs the suite; newManager returns a fresh, empty Manager per case.
func Run(t *testing.T, newManager func(t *testing.T) presence.Manager) {
	t.Run("ConnectDisconnect", func(t *testing.T) {
		m := newManager(t)
		m.Connect("u1", "s1")
		m.Connect("u1", "s2")
		m.Connect("u2", "s3")
		expect(t, m, "u1", "u2")
		m.Disconnect("u1", "s1")
		expect(t, m, "u1", "u2") // s2 still live
		m.Disconnect("u1", "s2")
		expect(t, m, "u2")
		m.Disconnect("u2", "s3")
		expect(t, m)
	})
	t.Run("UnknownPairsIgnored", func(t *testing.T) {
		m := newManager(t)
		m.Connect("u1", "s1")
		m.Disconnect("u2", "s1") // wrong owner
		m.Disconnect("u1", "nope")
		m.Touch("nope", time.Now())
		expect(t, m, "u1")
	})
	t.Run("Reconnect", func(t *testing.T) {
		m := newManager(t)
		m.Connect("u1", "s1")
		m.Connect("u2", "s1") // the socket re-authenticated as another account
		expect(t, m, "u2")
	})
	t.Run("Concurrent", func(t *testing.T) {
		m := newManager(t)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				sid := string(rune('a' + i))
				for range 200 {
					m.Connect("u", sid)
					m.Touch(sid, time.Now())
					_ = m.Online()
					m.Disconnect("u", sid)
				}
			})
		}
		wg.Wait()
		expect(t, m)
	})
}

func expect(t *testing.T, m presence.Manager, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if got := m.Online(); !slices.Equal(got, want) {
		t.Fatalf("Online() = %v, want %v", got, want)
	}
}
