package auth_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/auth"
)

func TestLimiterBackoffCappedAndForgotten(t *testing.T) {
	l := auth.NewLimiter(auth.LimiterConfig{Free: 2, Base: time.Second, Max: 4 * time.Second, Forget: time.Minute, MaxKeys: 2})
	t0 := time.Unix(1000, 0)
	for i := 0; i < 2; i++ {
		l.Fail("a", t0)
		require.Zero(t, l.Wait("a", t0), "free failures cost nothing")
	}
	l.Fail("a", t0)
	require.Equal(t, time.Second, l.Wait("a", t0))
	l.Fail("a", t0)
	require.Equal(t, 2*time.Second, l.Wait("a", t0), "each failure doubles the wait")
	for i := 0; i < 50; i++ {
		l.Fail("a", t0)
	}
	require.Equal(t, 4*time.Second, l.Wait("a", t0), "the wait is capped")
	require.Zero(t, l.Wait("a", t0.Add(4*time.Second)))
	require.Zero(t, l.Wait("a", t0.Add(time.Minute)), "a quiet key is forgotten")
	require.Zero(t, l.Len())

	// Bounded: a third key evicts the oldest.
	l.Fail("x", t0)
	l.Fail("y", t0.Add(time.Second))
	l.Fail("z", t0.Add(2*time.Second))
	require.Equal(t, 2, l.Len())

	l.Reset("z")
	require.Equal(t, 1, l.Len())
}
