package api_test

import (
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

// A real socket's `usage` events keep their model listed by GET /api/usage
// for 3 s of the server's clock after the latest one, and until the socket
// disconnects; a usage event without a model is refused and lists nothing.
func TestUsage(t *testing.T) {
	t.Parallel()
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	s := quiretest.New(t, quiretest.WithConfig(func(c *server.Config) { c.Now = now }))
	alice := s.SignUp("Alice")
	models := func() []string {
		t.Helper()
		var r struct {
			ModelIDs []string `json:"model_ids"`
		}
		s.JSON("GET", "/api/usage", alice.Token, nil, http.StatusOK, &r)
		require.NotNil(t, r.ModelIDs, "an array, never null")
		return r.ModelIDs
	}
	s.JSON("GET", "/api/usage", "", nil, http.StatusUnauthorized, nil)
	require.Empty(t, models())

	script := nodetest.Start(t, filepath.Join("testdata", "presence.mjs"), "ws"+s.URL[len("http"):], alice.Token)
	script.Ready()
	step := script.Step
	require.Equal(t, map[string]any{"ok": false, "error": "invalid_payload"}, step("usage")["ack"])
	require.Empty(t, models())

	require.Equal(t, map[string]any{"ok": true}, step("usage gpt-x")["ack"])
	require.Equal(t, map[string]any{"ok": true}, step("usage llama")["ack"])
	require.Equal(t, []string{"gpt-x", "llama"}, models())
	clock.Add(int64(presence.UsageTimeoutDefault))
	require.Equal(t, map[string]any{"ok": true}, step("usage llama")["ack"])
	clock.Add(int64(time.Second))
	require.Equal(t, []string{"llama"}, models(), "gpt-x's last use is over 3 s old")

	require.Equal(t, true, step("close")["closed"])
	deadline := time.Now().Add(20 * time.Second)
	for len(models()) != 0 {
		require.False(t, time.Now().After(deadline), "still in use after disconnect: %v", models())
		time.Sleep(5 * time.Millisecond)
	}
	require.Zero(t, s.InternalErrors())
}
