// Package chattest is a real OpenAI-compatible server for tests: it lists
// scripted models and streams scripted chunks, and records what it was
// sent and when a request was cancelled.
package chattest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Scripted models: what /chat/completions does for each.
const (
	ModelOK       = "ok"        // max_tokens chunks (default 5, WithChunks) "0 ", "1 ", …, then [DONE]
	ModelFail500  = "fail-500"  // 500 {"error": {"message": "the GPU caught fire"}}
	ModelFail400  = "fail-400"  // 400 {"error": {"message": "context length exceeded"}}
	ModelFail401  = "fail-401"  // 401 {"error": {"message": "bad key"}}
	ModelTruncate = "truncate"  // 3 chunks, then the body ends without [DONE]
	ModelCut      = "cut"       // 3 chunks, then the connection is closed
	ModelStall    = "stall"     // 2 chunks, then nothing until the request is cancelled
	ModelHold     = "hold"      // 1 chunk, then nothing until cancelled or Release, then the rest as ModelOK
	ModelNoStream = "no-stream" // answers JSON even when asked to stream
	// ModelReason streams reasoning ("thinking ", "hard") before ModelOK's
	// chunks, then a usage chunk {"prompt_tokens":3,"completion_tokens":n}.
	ModelReason = "reason"
	// ModelStreamError sends 2 chunks, then an error event
	// {"error": {"message": "the model is overloaded"}}, then ends.
	ModelStreamError = "stream-error"
)

// Request is one completion request as received.
type Request struct {
	Auth string         // Authorization header
	Body map[string]any // decoded body
}

// Upstream is the test server.
type Upstream struct {
	*httptest.Server
	// BaseURL is what Quire is configured with (…/v1).
	BaseURL string
	// Cancelled gets the model of every request whose context ended
	// while the handler waited (the client went away or gave up).
	Cancelled chan string
	// Release, closed, lets ModelHold requests go on.
	Release chan struct{}

	mu        sync.Mutex
	requests  []Request
	models    []string
	slowModel bool
	delay     time.Duration
	chunks    int
}

// Option configures an Upstream.
type Option func(*Upstream)

// WithModels lists these model ids (default: every scripted one).
func WithModels(ids ...string) Option { return func(u *Upstream) { u.models = ids } }

// WithSlowModels makes GET /models wait until its request is cancelled.
func WithSlowModels() Option { return func(u *Upstream) { u.slowModel = true } }

// WithChunks makes a request without max_tokens get n chunks (default 5).
func WithChunks(n int) Option { return func(u *Upstream) { u.chunks = n } }

// WithDelay waits d between chunks.
func WithDelay(d time.Duration) Option { return func(u *Upstream) { u.delay = d } }

// New starts an upstream, closed when the test ends.
func New(t testing.TB, opts ...Option) *Upstream {
	t.Helper()
	u := &Upstream{
		Cancelled: make(chan string, 1024), Release: make(chan struct{}), chunks: 5,
		models: []string{ModelOK, ModelFail500, ModelFail400, ModelFail401, ModelTruncate, ModelCut, ModelStall, ModelHold,
			ModelNoStream, ModelReason, ModelStreamError},
	}
	for _, o := range opts {
		o(u)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", u.listModels)
	mux.HandleFunc("POST /v1/chat/completions", u.complete)
	u.Server = httptest.NewServer(mux)
	u.BaseURL = u.URL + "/v1"
	t.Cleanup(func() {
		u.CloseClientConnections()
		u.Close()
	})
	return u
}

// WaitCancelled waits (20 s at most) for the next request to be cancelled
// and fails the test unless it was one for model.
func (u *Upstream) WaitCancelled(t testing.TB, model string) {
	t.Helper()
	select {
	case m := <-u.Cancelled:
		if m != model {
			t.Fatalf("the upstream saw a %s request cancelled, want its %s request", m, model)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the upstream never saw its %s request cancelled", model)
	}
}

// Requests returns the completion requests received so far.
func (u *Upstream) Requests() []Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]Request(nil), u.requests...)
}

// SetModels replaces the listed model ids.
func (u *Upstream) SetModels(ids ...string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.models = ids
}

func (u *Upstream) listModels(w http.ResponseWriter, r *http.Request) {
	if u.slowModel {
		<-r.Context().Done()
		u.Cancelled <- "models"
		return
	}
	data := []map[string]any{}
	u.mu.Lock()
	ids := u.models
	u.mu.Unlock()
	for _, id := range ids {
		data = append(data, map[string]any{"id": id, "object": "model", "created": 1700000000, "owned_by": "chattest"})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data})
}

func (u *Upstream) complete(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, `{"error":{"message":"bad json"}}`, http.StatusBadRequest)
		return
	}
	u.mu.Lock()
	u.requests = append(u.requests, Request{Auth: r.Header.Get("Authorization"), Body: body})
	u.mu.Unlock()
	model, _ := body["model"].(string)
	stream, _ := body["stream"].(bool)
	n := u.chunks
	if v, ok := body["max_tokens"].(float64); ok {
		n = int(v)
	}
	fail := func(status int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":{"message":%q,"type":"test"}}`, msg)
	}
	switch model {
	case ModelFail500:
		fail(http.StatusInternalServerError, "the GPU caught fire")
		return
	case ModelFail400:
		fail(http.StatusBadRequest, "context length exceeded")
		return
	case ModelFail401:
		fail(http.StatusUnauthorized, "bad key")
		return
	}
	if !stream || model == ModelNoStream {
		var sb strings.Builder
		for i := range n {
			fmt.Fprintf(&sb, "%d ", i)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": "cmpl-test", "object": "chat.completion", "model": model,
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": sb.String()}}},
		})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	flush := http.NewResponseController(w).Flush
	chunk := func(i int) bool {
		if u.delay > 0 {
			select {
			case <-time.After(u.delay):
			case <-r.Context().Done():
				u.Cancelled <- model
				return false
			}
		}
		fmt.Fprintf(w, "data: {\"id\":\"cmpl-test\",\"object\":\"chat.completion.chunk\",\"model\":%q,\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%d \"}}]}\n\n", model, i)
		return flush() == nil
	}
	wait := func() bool {
		select {
		case <-r.Context().Done():
			u.Cancelled <- model
			return false
		case <-u.Release:
			return true
		}
	}
	event := func(json string) {
		fmt.Fprintf(w, "data: %s\n\n", json)
		_ = flush()
	}
	switch model {
	case ModelTruncate, ModelCut:
		for i := range 3 {
			chunk(i)
		}
		if model == ModelCut {
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				_ = conn.Close()
			}
		}
		return
	case ModelStall:
		chunk(0)
		chunk(1)
		wait()
		return
	case ModelStreamError:
		chunk(0)
		chunk(1)
		event(`{"error":{"message":"the model is overloaded","type":"test"}}`)
		return
	}
	first := 0
	switch model {
	case ModelHold:
		chunk(0)
		if !wait() {
			return
		}
		first = 1
	case ModelReason:
		event(`{"id":"cmpl-test","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"reasoning_content":"thinking "}}]}`)
		event(`{"id":"cmpl-test","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"reasoning_content":"hard"}}]}`)
	}
	fmt.Fprint(w, ": keep-alive comment, not relayed\n\n")
	for i := first; i < n; i++ {
		if !chunk(i) {
			return
		}
	}
	if model == ModelReason {
		event(fmt.Sprintf(`{"id":"cmpl-test","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":%d}}`, n))
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
}
