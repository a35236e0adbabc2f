package chat_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/chat"
	"github.com/quire/quire/chat/chattest"
	"github.com/quire/quire/internal/tcptest"
)

func TestParseUpstreams(t *testing.T) {
	t.Parallel()
	ups, err := chat.ParseUpstreams(" http://a.test/v1/ ;https://b.test", "ka", "--u", "--k")
	require.NoError(t, err)
	require.Equal(t, []chat.Upstream{{BaseURL: "http://a.test/v1", APIKey: "ka"}, {BaseURL: "https://b.test"}}, ups)
	ups, err = chat.ParseUpstreams("", "", "--u", "--k")
	require.NoError(t, err)
	require.Empty(t, ups)
	for _, bad := range []string{"a.test", "ftp://a.test", "http://", "http://a.test?x=1", "http://a.test;;http://b.test"} {
		_, err := chat.ParseUpstreams(bad, "", "--u", "--k")
		require.ErrorContains(t, err, "--u", bad)
	}
}

// stopAfter is a client that goes away (cancels its request) once it has
// received n events.
type stopAfter struct {
	bytes.Buffer
	n      int
	cancel context.CancelFunc
}

func (s *stopAfter) flush() error {
	if strings.Count(s.String(), "\n\n") >= s.n {
		s.cancel()
	}
	return nil
}

// TestFaultsFreeEverything runs every upstream fault through a Client and
// then requires the goroutine count back where it was once idle
// connections are closed: no request, connection or timer goroutine is
// left behind by a fault. Not parallel, so that it counts only its own.
func TestFaultsFreeEverything(t *testing.T) {
	up := chattest.New(t)
	dead := "http://" + tcptest.RefusingAddr(t)
	c, err := chat.New(chat.Config{
		Upstreams:   []chat.Upstream{{BaseURL: up.BaseURL}, {BaseURL: dead}},
		IdleTimeout: 10 * time.Second, // long enough that only a real stall trips it, even on a loaded -race run
	})
	require.NoError(t, err)
	base := runtime.NumGoroutine()

	body := func(model string) []byte {
		return []byte(`{"model":"` + model + `","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	}
	ctx := context.Background()

	_, err = c.Complete(ctx, 1, body("ok"), true)
	require.ErrorIs(t, err, chat.ErrUnreachable)
	var ue *chat.UpstreamError
	_, err = c.Complete(ctx, 0, body(chattest.ModelFail500), true)
	require.ErrorAs(t, err, &ue)
	require.Equal(t, 500, ue.Status)

	for model, want := range map[string]error{
		chattest.ModelTruncate: chat.ErrTruncated,
		chattest.ModelCut:      chat.ErrTruncated,
		chattest.ModelStall:    chat.ErrStalled,
		chattest.ModelOK:       nil,
	} {
		r, err := c.Complete(ctx, 0, body(model), true)
		require.NoError(t, err, model)
		var w bytes.Buffer
		require.ErrorIs(t, r.Relay(&w, func() error { return nil }), want, model)
		r.Close()
		// Deltas, on the same line reader, frees as much.
		r, err = c.Complete(ctx, 0, body(model), true)
		require.NoError(t, err, model)
		require.ErrorIs(t, r.Deltas(func(chat.Delta) error { return nil }), want, model)
		r.Close()
	}
	up.WaitCancelled(t, chattest.ModelStall)
	up.WaitCancelled(t, chattest.ModelStall)

	cctx, cancel := context.WithCancel(ctx)
	r, err := c.Complete(cctx, 0, body(chattest.ModelHold), true)
	require.NoError(t, err)
	w := &stopAfter{n: 1, cancel: cancel}
	require.True(t, errors.Is(r.Relay(w, w.flush), context.Canceled))
	r.Close()
	up.WaitCancelled(t, chattest.ModelHold)
	require.Equal(t, 1, strings.Count(w.String(), "data: "), "the client got the first chunk, and no error event")

	c.CloseIdleConnections()
	deadline := time.Now().Add(20 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines left behind:\n%s", n-base, buf[:runtime.Stack(buf, true)])
	}
}

// TestModelsCacheAndLogOnce: the list is reused for ModelsTTL, then
// gathered again; a dead upstream is warned about once, not at every
// gathering, and never with its key.
func TestModelsCacheAndLogOnce(t *testing.T) {
	t.Parallel()
	up := chattest.New(t, chattest.WithModels("m1"))
	dead := "http://" + tcptest.RefusingAddr(t)
	var logs bytes.Buffer
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	c, err := chat.New(chat.Config{
		Upstreams: []chat.Upstream{{BaseURL: dead, APIKey: "sk-secret"}, {BaseURL: up.BaseURL}},
		Logger:    slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil)),
		Now:       func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
	})
	require.NoError(t, err)
	ctx := context.Background()
	ids := func() (out []string) {
		for _, m := range c.Models(ctx) {
			out = append(out, m.ID)
		}
		return out
	}
	require.Equal(t, []string{"m1"}, ids())
	i, ok := c.Lookup(ctx, "m1")
	require.True(t, ok)
	require.Equal(t, 1, i)
	_, ok = c.Lookup(ctx, "m2")
	require.False(t, ok)

	// Within the TTL a new model upstream is not seen; after it, it is.
	up.SetModels("m1", "m2")
	require.Equal(t, []string{"m1"}, ids())
	mu.Lock()
	now = now.Add(chat.ModelsTTLDefault)
	mu.Unlock()
	require.Equal(t, []string{"m1", "m2"}, ids())

	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 1, strings.Count(logs.String(), "upstream model list failed"), logs.String())
	require.NotContains(t, logs.String(), "sk-secret")
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
