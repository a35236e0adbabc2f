package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/chat/chattest"
	"github.com/quire/quire/internal/tcptest"
	"github.com/quire/quire/quiretest"
	"github.com/quire/quire/server"
)

// chatServer starts Quire on the given upstream base URLs and keys.
func chatServer(t *testing.T, urls, keys string, edit ...func(*server.Config)) (*quiretest.Server, string) {
	t.Helper()
	s := quiretest.New(t, quiretest.WithConfig(func(c *server.Config) {
		c.OpenAIBaseURLs, c.OpenAIAPIKeys = urls, keys
		for _, e := range edit {
			e(c)
		}
	}))
	return s, s.SignUp("alice").Token
}

// streamReq posts a completion and returns the open response.
func streamReq(t *testing.T, s *quiretest.Server, token string, body map[string]any) *http.Response {
	t.Helper()
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest("POST", s.URL+"/api/chat/completions", bytes.NewReader(raw))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := s.Client.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

// events reads `data:` payloads until the body ends.
func events(t *testing.T, resp *http.Response) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}

func content(t *testing.T, ev string) string {
	t.Helper()
	var c struct {
		Choices []struct {
			Delta struct {
				Content string `json:"content"`
			} `json:"delta"`
		} `json:"choices"`
	}
	require.NoError(t, json.Unmarshal([]byte(ev), &c), ev)
	require.Len(t, c.Choices, 1, ev)
	return c.Choices[0].Delta.Content
}

func msgs() []map[string]any { return []map[string]any{{"role": "user", "content": "hi"}} }

func TestChatModels(t *testing.T) {
	t.Parallel()
	a := chattest.New(t, chattest.WithModels("m1", "shared"))
	b := chattest.New(t, chattest.WithModels("m2", "shared"))
	slow := chattest.New(t, chattest.WithSlowModels())
	s, tok := chatServer(t, a.BaseURL+";"+slow.BaseURL+" ; "+b.BaseURL+"/", "ka;ks;kb",
		// The timeout only has to outlast the fast upstreams' answers on a
		// loaded -race run (2 s did not, once in CI); the slow one waits it out.
		func(c *server.Config) { c.ChatModelsTimeout = 10 * time.Second })

	s.JSON("GET", "/api/models", "", nil, http.StatusUnauthorized, nil)
	var got struct {
		Data []struct {
			ID, Name string
			Owned    string `json:"owned_by"`
			URLIdx   int    `json:"urlIdx"`
		} `json:"data"`
	}
	s.JSON("GET", "/api/models", tok, nil, http.StatusOK, &got)
	var ids []string
	for _, m := range got.Data {
		ids = append(ids, m.ID)
		require.Equal(t, m.ID, m.Name)
		require.Equal(t, "chattest", m.Owned)
	}
	// The slow upstream is left out; "shared" is served by the first.
	require.Equal(t, []string{"m1", "shared", "m2"}, ids)
	require.Equal(t, 0, got.Data[1].URLIdx)
	require.Equal(t, 2, got.Data[2].URLIdx)
	slow.WaitCancelled(t, "models")

	// Each model goes to its own upstream, with that upstream's key.
	for _, c := range []struct {
		model, key string
		up         *chattest.Upstream
	}{{"m1", "ka", a}, {"shared", "ka", a}, {"m2", "kb", b}} {
		var out map[string]any
		s.JSON("POST", "/api/chat/completions", tok, map[string]any{"model": c.model, "messages": msgs()}, http.StatusOK, &out)
		reqs := c.up.Requests()
		require.Equal(t, "Bearer "+c.key, reqs[len(reqs)-1].Auth)
	}
}

func TestChatModelsNoUpstream(t *testing.T) {
	t.Parallel()
	s, tok := chatServer(t, "", "")
	r := s.JSON("GET", "/api/models", tok, nil, http.StatusOK, nil)
	require.JSONEq(t, `{"data": []}`, string(r.Body))
	r = s.Do("POST", "/api/chat/completions", tok, map[string]any{"model": "gpt", "messages": msgs(), "stream": true})
	require.Equal(t, http.StatusNotFound, r.Status)
	require.Equal(t, "Model not found", r.Detail())
}

func TestChatCompletionStream(t *testing.T) {
	t.Parallel()
	up := chattest.New(t)
	s, tok := chatServer(t, up.BaseURL, "sk-test")

	resp := streamReq(t, s, tok, map[string]any{
		"model": chattest.ModelOK, "messages": msgs(), "stream": true, "max_tokens": 50,
		"params": map[string]any{"temperature": 0.5, "max_tokens": 7},
		"files":  []any{}, "features": map[string]any{"web_search": true}, "chat_id": "c1", "id": "m1",
		"background_tasks": map[string]any{"title_generation": true}, "model_item": map[string]any{"id": "ok"},
	})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	ev := events(t, resp)
	require.Len(t, ev, 51)
	for i := range 50 {
		require.Equal(t, itoa(i)+" ", content(t, ev[i]))
	}
	require.Equal(t, "[DONE]", ev[50])

	// Only the OpenAI fields went upstream, with the key as Bearer; a
	// top-level max_tokens beats the one in params.
	req := up.Requests()[0]
	require.Equal(t, "Bearer sk-test", req.Auth)
	require.Equal(t, map[string]any{
		"model": "ok", "messages": []any{map[string]any{"role": "user", "content": "hi"}},
		"stream": true, "max_tokens": float64(50), "temperature": 0.5,
	}, req.Body)
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestChatCompletionJSON(t *testing.T) {
	t.Parallel()
	up := chattest.New(t)
	s, tok := chatServer(t, up.BaseURL, "")
	var out struct {
		Object  string `json:"object"`
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
	}
	s.JSON("POST", "/api/chat/completions", tok, map[string]any{"model": "ok", "messages": msgs(), "max_tokens": 3}, http.StatusOK, &out)
	require.Equal(t, "chat.completion", out.Object)
	require.Equal(t, "0 1 2 ", out.Choices[0].Message.Content)
	require.Equal(t, "", up.Requests()[0].Auth, "no key, no Authorization")
	require.Equal(t, false, up.Requests()[0].Body["stream"])
}

func TestChatCompletionBadInput(t *testing.T) {
	t.Parallel()
	up := chattest.New(t)
	s, tok := chatServer(t, up.BaseURL, "")
	for _, c := range []struct {
		name   string
		body   any
		status int
		detail string
	}{
		{"no model", map[string]any{"messages": msgs()}, 400, "model must be a non-empty string"},
		{"model not a string", map[string]any{"model": 3, "messages": msgs()}, 400, "model must be a non-empty string"},
		{"no messages", map[string]any{"model": "ok"}, 400, "messages must be a non-empty array"},
		{"bad stream", map[string]any{"model": "ok", "messages": msgs(), "stream": "yes"}, 400, "stream must be true or false"},
		{"unknown model", map[string]any{"model": "gpt-9", "messages": msgs(), "stream": true}, 404, "Model not found"},
		{"too large", `{"model":"ok","messages":[{"role":"user","content":"` + strings.Repeat("x", 9<<20) + `"}]}`, 413, ""},
		{"task mode, no such socket", map[string]any{"model": "ok", "messages": msgs(), "stream": true, "session_id": "sid", "chat_id": "c", "id": "m"}, 400, ""},
	} {
		r := s.Do("POST", "/api/chat/completions", tok, c.body)
		require.Equal(t, c.status, r.Status, "%s: %s", c.name, r.Body)
		require.NotEmpty(t, r.Detail(), c.name)
		if c.detail != "" {
			require.Equal(t, c.detail, r.Detail(), c.name)
		}
	}
	require.Equal(t, http.StatusUnauthorized, s.Do("POST", "/api/chat/completions", "", map[string]any{"model": "ok", "messages": msgs()}).Status)
	require.Empty(t, up.Requests(), "nothing reached the upstream")
}

func TestChatUpstreamUnreachable(t *testing.T) {
	t.Parallel()
	// A port nothing listens on: the model list has the model from a
	// server that then goes away.
	up := chattest.New(t, chattest.WithModels("ok"))
	dead := "http://" + tcptest.RefusingAddr(t) + "/v1"
	s, tok := chatServer(t, dead+";"+up.BaseURL, "")
	r := s.JSON("GET", "/api/models", tok, nil, http.StatusOK, nil)
	require.Contains(t, string(r.Body), `"ok"`)
	up.CloseClientConnections()
	up.Close()

	for _, stream := range []bool{true, false} {
		r = s.Do("POST", "/api/chat/completions", tok, map[string]any{"model": "ok", "messages": msgs(), "stream": stream})
		require.Equal(t, http.StatusBadGateway, r.Status, "%s", r.Body)
		require.Equal(t, "application/json", r.Header.Get("Content-Type"))
		require.Equal(t, "the model server could not be reached", r.Detail())
	}
}

func TestChatUpstreamErrorStatus(t *testing.T) {
	t.Parallel()
	up := chattest.New(t)
	s, tok := chatServer(t, up.BaseURL, "")
	for _, c := range []struct {
		model  string
		status int
		detail string
	}{
		{chattest.ModelFail500, 502, "the model server answered 500: the GPU caught fire"},
		{chattest.ModelFail400, 400, "the model server answered 400: context length exceeded"},
		{chattest.ModelFail401, 502, "the model server answered 401: bad key"},
		{chattest.ModelNoStream, 502, "the model server did not answer with an event stream"},
	} {
		r := s.Do("POST", "/api/chat/completions", tok, map[string]any{"model": c.model, "messages": msgs(), "stream": true})
		require.Equal(t, c.status, r.Status, "%s: %s", c.model, r.Body)
		require.Equal(t, c.detail, r.Detail())
	}
}

// A stream that ends early, by a clean end of body or a cut connection,
// reaches the client as its chunks, an error event, and the end.
func TestChatStreamStopsMidway(t *testing.T) {
	t.Parallel()
	up := chattest.New(t)
	s, tok := chatServer(t, up.BaseURL, "")
	for _, model := range []string{chattest.ModelTruncate, chattest.ModelCut} {
		resp := streamReq(t, s, tok, map[string]any{"model": model, "messages": msgs(), "stream": true})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		ev := events(t, resp)
		require.Len(t, ev, 4, model)
		for i := range 3 {
			require.Equal(t, itoa(i)+" ", content(t, ev[i]))
		}
		require.JSONEq(t, `{"error": {"message": "the model server's answer ended early"}}`, ev[3])
	}
}

func TestChatStreamStalls(t *testing.T) {
	t.Parallel()
	up := chattest.New(t)
	s, tok := chatServer(t, up.BaseURL, "", func(c *server.Config) { c.ChatIdleTimeout = 10 * time.Second })
	resp := streamReq(t, s, tok, map[string]any{"model": chattest.ModelStall, "messages": msgs(), "stream": true})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	ev := events(t, resp)
	require.Len(t, ev, 3)
	require.Equal(t, "1 ", content(t, ev[1]))
	require.JSONEq(t, `{"error": {"message": "the model server stopped sending (timed out)"}}`, ev[2])
	up.WaitCancelled(t, chattest.ModelStall)
}

// The first chunk reaches the client while the upstream still holds the
// rest (so nothing is buffered); when the client leaves, the upstream
// request is cancelled.
func TestChatClientDisconnects(t *testing.T) {
	t.Parallel()
	up := chattest.New(t)
	s, tok := chatServer(t, up.BaseURL, "")
	resp := streamReq(t, s, tok, map[string]any{"model": chattest.ModelHold, "messages": msgs(), "stream": true})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "0 ", content(t, strings.TrimPrefix(strings.TrimSpace(line), "data: ")))
	require.NoError(t, resp.Body.Close())
	up.WaitCancelled(t, chattest.ModelHold)
}

// A stream in progress when the server stops ends with an error event, so
// it does not hold the shutdown to its deadline (which Stop would report
// as an error), and the upstream request is cancelled.
func TestChatStreamEndsAtShutdown(t *testing.T) {
	t.Parallel()
	up := chattest.New(t)
	s, tok := chatServer(t, up.BaseURL, "")
	resp := streamReq(t, s, tok, map[string]any{"model": chattest.ModelHold, "messages": msgs(), "stream": true})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "0 ", content(t, strings.TrimPrefix(strings.TrimSpace(line), "data: ")))

	stopped := make(chan error, 1)
	go func() { stopped <- s.Server.Stop(context.Background()) }()
	ev := events(t, &http.Response{Body: io.NopCloser(br)})
	require.Equal(t, []string{`{"error":{"message":"the server is shutting down"}}`}, ev)
	require.NoError(t, <-stopped)
	up.WaitCancelled(t, chattest.ModelHold)
}
