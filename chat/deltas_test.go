package chat_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/chat"
	"github.com/quire/quire/chat/chattest"
)

func newClient(t *testing.T, urls ...string) *chat.Client {
	t.Helper()
	var ups []chat.Upstream
	for _, u := range urls {
		ups = append(ups, chat.Upstream{BaseURL: u})
	}
	c, err := chat.New(chat.Config{Upstreams: ups, IdleTimeout: 10 * time.Second})
	require.NoError(t, err)
	t.Cleanup(c.Stop)
	return c
}

func streamBody(model string, n int) []byte {
	return fmt.Appendf(nil, `{"model":%q,"stream":true,"max_tokens":%d,"messages":[{"role":"user","content":"hi"}]}`, model, n)
}

// deltas runs Deltas over model's answer and returns what fn was given.
func deltas(t *testing.T, c *chat.Client, model string, n int) ([]chat.Delta, error) {
	t.Helper()
	r, err := c.Complete(context.Background(), 0, streamBody(model, n), true)
	require.NoError(t, err, model)
	defer r.Close()
	var got []chat.Delta
	err = r.Deltas(func(d chat.Delta) error { got = append(got, d); return nil })
	return got, err
}

func contents(ds []chat.Delta) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.Content)
	}
	return b.String()
}

// Deltas hands over each chunk's text in order and stops at [DONE]; the
// reasoning, the usage and every fault come out as documented.
func TestDeltas(t *testing.T) {
	t.Parallel()
	up := chattest.New(t)
	c := newClient(t, up.BaseURL)

	got, err := deltas(t, c, chattest.ModelOK, 300)
	require.NoError(t, err)
	require.Len(t, got, 300)
	for i, d := range got {
		require.Equal(t, chat.Delta{Content: fmt.Sprintf("%d ", i)}, d)
	}

	got, err = deltas(t, c, chattest.ModelReason, 2)
	require.NoError(t, err)
	require.Equal(t, []chat.Delta{{Reasoning: "thinking "}, {Reasoning: "hard"}, {Content: "0 "}, {Content: "1 "},
		{Usage: []byte(`{"prompt_tokens":3,"completion_tokens":2}`)}}, got)

	got, err = deltas(t, c, chattest.ModelStreamError, 5)
	var se *chat.StreamError
	require.ErrorAs(t, err, &se)
	require.Equal(t, "the model is overloaded", se.Message)
	require.Equal(t, "0 1 ", contents(got), "the text before the error event")

	for model, want := range map[string]error{chattest.ModelTruncate: chat.ErrTruncated, chattest.ModelCut: chat.ErrTruncated} {
		got, err = deltas(t, c, model, 5)
		require.ErrorIs(t, err, want, model)
		require.Equal(t, "0 1 2 ", contents(got), model)
	}
	got, err = deltas(t, c, chattest.ModelStall, 5)
	require.ErrorIs(t, err, chat.ErrStalled)
	require.Equal(t, "0 1 ", contents(got))
	up.WaitCancelled(t, chattest.ModelStall)

	// fn's error ends the reading, as is.
	r, err := c.Complete(context.Background(), 0, streamBody(chattest.ModelOK, 10), true)
	require.NoError(t, err)
	mine := errors.New("enough")
	n := 0
	require.Equal(t, mine, r.Deltas(func(chat.Delta) error {
		if n++; n == 3 {
			return mine
		}
		return nil
	}))
	r.Close()

	// The request's end (a stop) ends it with the context's cause, and the
	// upstream sees its request cancelled.
	ctx, cancel := context.WithCancelCause(context.Background())
	r, err = c.Complete(ctx, 0, streamBody(chattest.ModelHold, 5), true)
	require.NoError(t, err)
	err = r.Deltas(func(d chat.Delta) error {
		require.Equal(t, "0 ", d.Content)
		cancel(chat.ErrTaskStopped)
		return nil
	})
	require.ErrorIs(t, err, chat.ErrTaskStopped)
	r.Close()
	up.WaitCancelled(t, chattest.ModelHold)

	// After Release, a held answer goes on to the end.
	up2 := chattest.New(t)
	c2 := newClient(t, up2.BaseURL)
	close(up2.Release)
	got, err = deltas(t, c2, chattest.ModelHold, 4)
	require.NoError(t, err)
	require.Equal(t, "0 1 2 3 ", contents(got))
}

// The event-stream syntax: CRLF line ends, comments and event names are
// skipped, an event's data lines are joined, a chunk that is not JSON or
// adds nothing is skipped, and nothing after [DONE] is read.
func TestDeltasEventSyntax(t *testing.T) {
	t.Parallel()
	body := "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\r\n\r\n" +
		": a comment\n\n" +
		"event: chunk\nid: 7\ndata: {\"choices\":\ndata: [{\"delta\":{\"content\":\"b\"},\"finish_reason\":null}]}\n\n" +
		"data: not json\n\n" +
		"data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n" +
		"data: {\"choices\":[{\"delta\":{\"reasoning\":\"r\"},\"finish_reason\":\"stop\"}],\"error\":null}\n\n" +
		"data: [DONE]\n\n" +
		"data: {\"choices\":[{\"delta\":{\"content\":\"after\"}}]}\n\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	got, err := deltas(t, newClient(t, srv.URL), "any", 1)
	require.NoError(t, err)
	require.Equal(t, []chat.Delta{{Content: "a"}, {Content: "b"}, {Reasoning: "r", FinishReason: "stop"}}, got)
}
