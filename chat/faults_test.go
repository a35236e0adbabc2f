package chat_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/chat"
	"github.com/quire/quire/chat/chattest"
	"github.com/quire/quire/internal/syncbuf"
)

// rawUpstream answers every completion with the event stream body, then
// ends the body cleanly.
func rawUpstream(t *testing.T, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// An event of many short data lines is bounded as one long line is: an
// upstream that never ends its event cannot grow Deltas' memory without
// bound.
func TestDeltasBoundsAnEvent(t *testing.T) {
	t.Parallel()
	line := "data: " + strings.Repeat("x", 1000) + "\n"
	url := rawUpstream(t, strings.Repeat(line, 300)+"\n"+"data: [DONE]\n\n")
	c, err := chat.New(chat.Config{Upstreams: []chat.Upstream{{BaseURL: url}}, IdleTimeout: 10 * time.Second, MaxLineBytes: 64 << 10})
	require.NoError(t, err)
	t.Cleanup(c.Stop)
	r, err := c.Complete(context.Background(), 0, streamBody("any", 1), true)
	require.NoError(t, err)
	defer r.Close()
	require.ErrorIs(t, r.Deltas(func(chat.Delta) error { return nil }), chat.ErrLineTooLong)
}

// Some OpenAI-compatible servers (older llama.cpp forks, TGI before 2.2)
// end a finished answer's stream without `data: [DONE]`: a clean end of
// the body after a chunk with a finish_reason is the answer's end, as Open
// WebUI takes it, not a fault. Without a finish_reason it stays one.
func TestStreamEndsWithoutDone(t *testing.T) {
	t.Parallel()
	finished := "data: {\"choices\":[{\"delta\":{\"content\":\"a\"},\"finish_reason\":null}]}\n\n" +
		"data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
	c := newClient(t, rawUpstream(t, finished))

	r, err := c.Complete(context.Background(), 0, streamBody("any", 1), true)
	require.NoError(t, err)
	var got []chat.Delta
	require.NoError(t, r.Deltas(func(d chat.Delta) error { got = append(got, d); return nil }))
	r.Close()
	require.Equal(t, []chat.Delta{{Content: "a"}, {FinishReason: "stop"}}, got)

	// Relayed, the client's stream ends as a whole one does.
	r, err = c.Complete(context.Background(), 0, streamBody("any", 1), true)
	require.NoError(t, err)
	var w bytes.Buffer
	require.NoError(t, r.Relay(&w, func() error { return nil }))
	r.Close()
	require.Equal(t, finished+"data: [DONE]\n\n", w.String())

	// Not finished: the end is early.
	c = newClient(t, rawUpstream(t, "data: {\"choices\":[{\"delta\":{\"content\":\"a\"},\"finish_reason\":null}]}\n\n"))
	r, err = c.Complete(context.Background(), 0, streamBody("any", 1), true)
	require.NoError(t, err)
	require.ErrorIs(t, r.Deltas(func(chat.Delta) error { return nil }), chat.ErrTruncated)
	r.Close()
	r, err = c.Complete(context.Background(), 0, streamBody("any", 1), true)
	require.NoError(t, err)
	w.Reset()
	require.ErrorIs(t, r.Relay(&w, func() error { return nil }), chat.ErrTruncated)
	r.Close()
	require.Contains(t, w.String(), `"the model server's answer ended early"`)
}

// A line over MaxLineBytes ends the answer with ErrLineTooLong, whether it
// fits the read buffer (32 KiB) or not; relayed, the client gets the
// chunks before it and an error event.
func TestLineTooLong(t *testing.T) {
	t.Parallel()
	first := "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
	for _, c := range []struct{ limit, line int }{{1000, 2000}, {40 << 10, 100 << 10}} {
		url := rawUpstream(t, first+"data: "+strings.Repeat("x", c.line)+"\n\ndata: [DONE]\n\n")
		cl, err := chat.New(chat.Config{Upstreams: []chat.Upstream{{BaseURL: url}}, IdleTimeout: 10 * time.Second, MaxLineBytes: c.limit})
		require.NoError(t, err)
		t.Cleanup(cl.Stop)
		r, err := cl.Complete(context.Background(), 0, streamBody("any", 1), true)
		require.NoError(t, err)
		require.ErrorIs(t, r.Deltas(func(chat.Delta) error { return nil }), chat.ErrLineTooLong, "limit %d", c.limit)
		r.Close()
		r, err = cl.Complete(context.Background(), 0, streamBody("any", 1), true)
		require.NoError(t, err)
		var w bytes.Buffer
		require.ErrorIs(t, r.Relay(&w, func() error { return nil }), chat.ErrLineTooLong, "limit %d", c.limit)
		r.Close()
		require.Equal(t, first+`data: {"error":{"message":"the model server sent a chunk that is too long"}}`+"\n\n", w.String())
	}
}

// Every upstream fault is logged once, naming the upstream, so that an
// operator can tell which one fails; the server's own stop, which every
// open stream meets at shutdown, is no warning.
func TestFaultLogs(t *testing.T) {
	t.Parallel()
	up := chattest.New(t)
	mute := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // else the server does not notice the client leave
		<-r.Context().Done()
	}))
	t.Cleanup(func() {
		mute.CloseClientConnections()
		mute.Close()
	})
	var logs syncbuf.Buffer
	newC := func(idle time.Duration) *chat.Client {
		c, err := chat.New(chat.Config{Upstreams: []chat.Upstream{{BaseURL: up.BaseURL}, {BaseURL: mute.URL}}, IdleTimeout: idle,
			Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
		require.NoError(t, err)
		t.Cleanup(c.Stop)
		return c
	}
	seen := 0 // what earlier calls of warnings read
	warnings := func() []string {
		all := logs.String()
		var out []string
		for _, l := range strings.Split(all[seen:], "\n") {
			if strings.Contains(l, "level=WARN") {
				out = append(out, l)
			}
		}
		seen = len(all)
		return out
	}
	ctx := context.Background()

	_, err := newC(100*time.Millisecond).Complete(ctx, 1, streamBody("any", 1), true)
	require.ErrorIs(t, err, chat.ErrNoAnswer)
	w := warnings()
	require.Len(t, w, 1)
	require.Contains(t, w[0], "upstream="+mute.URL)

	c := newC(10 * time.Second)
	_, err = c.Complete(ctx, 0, streamBody(chattest.ModelNoStream, 1), true)
	require.ErrorIs(t, err, chat.ErrNotStream)
	w = warnings()
	require.Len(t, w, 1)
	require.Contains(t, w[0], "upstream="+up.BaseURL)

	r, err := c.Complete(ctx, 0, streamBody(chattest.ModelTruncate, 5), true)
	require.NoError(t, err)
	require.ErrorIs(t, r.Deltas(func(chat.Delta) error { return nil }), chat.ErrTruncated)
	r.Close()
	w = warnings()
	require.Len(t, w, 1)
	require.Contains(t, w[0], "upstream="+up.BaseURL)

	r, err = c.Complete(ctx, 0, streamBody(chattest.ModelHold, 5), true)
	require.NoError(t, err)
	require.ErrorIs(t, r.Deltas(func(chat.Delta) error { c.Stop(); return nil }), chat.ErrStopped)
	r.Close()
	require.Empty(t, warnings())
}

// A model list being gathered when the client stops is given up at once,
// not after ModelsTimeout: a request (or a channel answer) looking its
// model up would otherwise hold the server's shutdown that long.
func TestModelsEndAtStop(t *testing.T) {
	t.Parallel()
	asked, cancelled := make(chan struct{}), make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		close(asked)
		<-r.Context().Done()
		close(cancelled)
	}))
	t.Cleanup(func() {
		slow.CloseClientConnections()
		slow.Close()
	})
	c, err := chat.New(chat.Config{Upstreams: []chat.Upstream{{BaseURL: slow.URL}}, ModelsTimeout: time.Hour})
	require.NoError(t, err)
	got := make(chan []chat.Model, 1)
	go func() { got <- c.Models(context.Background()) }()
	<-asked
	c.Stop()
	select {
	case <-cancelled:
	case <-time.After(20 * time.Second):
		t.Fatal("the model list's request was not cancelled by Stop")
	}
	require.Empty(t, <-got)
}
