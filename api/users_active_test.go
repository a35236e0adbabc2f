package api_test

import (
	"context"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/internal/nodetest"
	"github.com/quire/quire/presence"
	"github.com/quire/quire/quiretest"
	"github.com/quire/quire/server"
)

// A real socket.io-client socket: its account is listed in
// /api/v1/users/active while the socket lives, its heartbeat writes the
// account's last_active_at, and it is gone after disconnect. A socket
// silent for longer than presence.TimeoutDefault (a fake server clock) is
// not listed until its next heartbeat.
func TestActiveUsers(t *testing.T) {
	t.Parallel()
	for _, b := range quiretest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			var clock atomic.Int64
			clock.Store(time.Now().UnixNano())
			now := func() time.Time { return time.Unix(0, clock.Load()) }
			s := quiretest.New(t, append(b.Opts, quiretest.WithConfig(func(c *server.Config) { c.Now = now }))...)
			alice, bob := s.SignUp("Alice"), s.SignUp("Bob")
			active := func() []string {
				t.Helper()
				var r struct {
					UserIDs []string `json:"user_ids"`
				}
				s.JSON("GET", "/api/v1/users/active", bob.Token, nil, http.StatusOK, &r)
				require.NotNil(t, r.UserIDs, "an array, never null")
				return r.UserIDs
			}
			s.JSON("GET", "/api/v1/users/active", "", nil, http.StatusUnauthorized, nil)
			require.Empty(t, active())

			ctx := context.Background()
			require.NoError(t, s.Store().TouchUser(ctx, alice.ID, 1))
			script := nodetest.Start(t, filepath.Join("testdata", "presence.mjs"), "ws"+s.URL[len("http"):], alice.Token)
			script.Ready()
			step := script.Step
			// The CONNECT reply can precede the socket's authentication (the
			// first task on its worker), which puts it in presence: poll.
			deadline := time.Now().Add(10 * time.Second)
			for len(active()) == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			require.Equal(t, []string{alice.ID}, active())

			require.Equal(t, map[string]any{"ok": true}, step("heartbeat")["ack"])
			u, err := s.Store().GetUser(ctx, alice.ID)
			require.NoError(t, err)
			require.Greater(t, u.LastActiveAt, int64(1), "the heartbeat wrote last_active_at")

			clock.Add(int64(presence.TimeoutDefault + time.Second))
			require.Empty(t, active(), "silent for longer than the timeout")
			require.Equal(t, map[string]any{"ok": true}, step("heartbeat")["ack"])
			require.Equal(t, []string{alice.ID}, active(), "its heartbeat brings it back")

			require.Equal(t, true, step("close")["closed"])
			deadline = time.Now().Add(10 * time.Second)
			for len(active()) != 0 {
				require.False(t, time.Now().After(deadline), "still listed after disconnect: %v", active())
				time.Sleep(5 * time.Millisecond)
			}
			require.Zero(t, s.InternalErrors())
		})
	}
}
