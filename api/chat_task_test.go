package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/chat/chattest"
	"github.com/quire/quire/internal/nodetest"
	"github.com/quire/quire/quiretest"
	"github.com/quire/quire/server"
)

// sockEvent is one event a chatsocket.mjs socket got.
type sockEvent struct {
	Name    string `json:"name"`
	Payload struct {
		ChatID    string  `json:"chat_id"`
		ChannelID string  `json:"channel_id"`
		MessageID *string `json:"message_id"`
		Data      struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		} `json:"data"`
	} `json:"payload"`
}

// sockets runs chatsocket.mjs with one socket per token and returns its
// step function (the "ready" line is read).
func sockets(t *testing.T, s *quiretest.Server, tokens ...string) func(string) map[string]any {
	t.Helper()
	script := nodetest.Start(t, filepath.Join("testdata", "chatsocket.mjs"), append([]string{"ws" + s.URL[len("http"):]}, tokens...)...)
	script.Ready()
	return script.Step
}

func sids(t *testing.T, step func(string) map[string]any) []string {
	t.Helper()
	var out []string
	for _, s := range step("sids")["sids"].([]any) {
		out = append(out, s.(string))
	}
	return out
}

// eventsOf returns what socket i got (for message mid, unless "").
func eventsOf(t *testing.T, step func(string) map[string]any, i int, mid string) []sockEvent {
	t.Helper()
	raw, err := json.Marshal(step(strings.TrimSpace(fmt.Sprintf("events %d %s", i, mid)))["events"])
	require.NoError(t, err)
	var evs []sockEvent
	require.NoError(t, json.Unmarshal(raw, &evs))
	return evs
}

// taskBody is a task-mode completion request of the stock frontend's shape,
// with the conversation sent: the answer has no parent (parent_id must
// name a stored question, and the chat has none).
func taskBody(sid, chatID, mid, model string, maxTokens int) map[string]any {
	return map[string]any{
		"model": model, "messages": msgs(), "stream": true, "max_tokens": maxTokens,
		"session_id": sid, "chat_id": chatID, "id": mid, "parent_id": nil,
		"params": map[string]any{}, "features": map[string]any{}, "background_tasks": map[string]any{"title_generation": true},
	}
}

// startTask posts a task and returns its id.
func startTask(t *testing.T, s *quiretest.Server, tok string, body map[string]any) string {
	t.Helper()
	var out struct {
		Status bool   `json:"status"`
		TaskID string `json:"task_id"`
	}
	s.JSON("POST", "/api/chat/completions", tok, body, http.StatusOK, &out)
	require.True(t, out.Status)
	require.NotEmpty(t, out.TaskID)
	return out.TaskID
}

// trace is one message's events as the frontend applies them: the types
// in order, consecutive text deltas folded into one "text"; the text they
// add up to; how many there were; the done event's data; the error shown.
type trace struct {
	types    []string
	text     string
	deltas   []string
	done     map[string]any
	errorMsg string
}

func traceOf(t *testing.T, evs []sockEvent) trace {
	t.Helper()
	var tr trace
	for _, e := range evs {
		require.Equal(t, "events", e.Name)
		typ := e.Payload.Data.Type
		var data map[string]any
		if typ == "chat:title" { // its data is the title, a string
			tr.types = append(tr.types, typ)
			continue
		}
		if len(e.Payload.Data.Data) > 0 {
			require.NoError(t, json.Unmarshal(e.Payload.Data.Data, &data))
		}
		switch {
		case typ == "chat:completion" && data["choices"] != nil:
			// Only the new text: nothing else the frontend would re-apply.
			require.Equal(t, []string{"choices"}, keys(data))
			piece := data["choices"].([]any)[0].(map[string]any)["delta"].(map[string]any)["content"].(string)
			tr.text += piece
			tr.deltas = append(tr.deltas, piece)
			if len(tr.types) == 0 || tr.types[len(tr.types)-1] != "text" {
				tr.types = append(tr.types, "text")
			}
			continue
		case typ == "chat:completion" && data["done"] == true:
			tr.done = data
			typ = "done"
		case typ == "chat:completion" && data["usage"] != nil:
			typ = "usage"
		case typ == "chat:active":
			typ = fmt.Sprintf("active:%v", data["active"])
		case typ == "chat:message:error":
			tr.errorMsg = data["error"].(map[string]any)["content"].(string)
		case typ == "status":
			typ = fmt.Sprintf("status:%v", data["done"])
		}
		tr.types = append(tr.types, typ)
	}
	return tr
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func numbers(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "%d ", i)
	}
	return b.String()
}

// A task answers {"status": true, "task_id"} at once; the answer reaches
// every socket of the account (both tabs), in order and whole, as the
// events the stock frontend applies; each text event carries only new
// text (bytes linear in the answer). Another account hears nothing, and
// the upstream got an OpenAI request that streams.
func TestChatTaskStreams(t *testing.T) {
	t.Parallel()
	up := chattest.New(t)
	s, tok := chatServer(t, up.BaseURL, "")
	bob := s.SignUp("Bob")
	step := sockets(t, s, tok, tok, bob.Token)
	sid := sids(t, step)[0]

	startTask(t, s, tok, taskBody(sid, "chat-1", "m1", chattest.ModelOK, 300))
	want := numbers(0, 300)
	// chat:active false is last: wait for it on both.
	waitInactive(t, step, 0, "m1")
	waitInactive(t, step, 1, "m1")
	for i := range 2 {
		evs := eventsOf(t, step, i, "m1")
		for _, e := range evs {
			require.Equal(t, "chat-1", e.Payload.ChatID)
		}
		tr := traceOf(t, evs)
		require.Equal(t, []string{"active:true", "text", "done", "active:false"}, tr.types, "socket %d", i)
		require.Equal(t, want, tr.text)
		require.Equal(t, want, tr.done["content"])
		require.LessOrEqual(t, len(tr.deltas), 300, "never more text events than chunks")
	}
	require.Empty(t, eventsOf(t, step, 2, ""), "another account's socket")
	require.Equal(t, true, up.Requests()[0].Body["stream"])
	require.Equal(t, "ok", up.Requests()[0].Body["model"])
	require.Nil(t, up.Requests()[0].Body["session_id"], "Open WebUI's fields stay here")

	// Reasoning: a status while the model thinks and when it is done; the
	// final content carries it as the collapsible block; the usage is told.
	startTask(t, s, tok, taskBody(sid, "chat-1", "m2", chattest.ModelReason, 3))
	waitInactive(t, step, 0, "m2")
	tr := traceOf(t, eventsOf(t, step, 0, "m2"))
	require.Equal(t, []string{"active:true", "status:false", "status:true", "text", "usage", "done", "active:false"}, tr.types)
	require.Equal(t, "0 1 2 ", tr.text)
	content := tr.done["content"].(string)
	require.Regexp(t, "^<details type=\"reasoning\" done=\"true\" duration=\"\\d+\">\n<summary>Thought for \\d+ seconds</summary>\n> thinking hard\n</details>\n0 1 2 $", content)
}

// The stock 0.11 frontend sends a saved chat's question as user_message,
// with no conversation (at most the system prompt): the question reaches
// the upstream after the system prompt.
func TestChatTaskStockFrontendRequest(t *testing.T) {
	t.Parallel()
	up := chattest.New(t)
	s, tok := chatServer(t, up.BaseURL, "")
	step := sockets(t, s, tok)
	sid := sids(t, step)[0]
	user := map[string]any{"id": "u1", "parentId": nil, "childrenIds": []string{"m1"}, "role": "user", "content": "hi there", "timestamp": 1}
	body := taskBody(sid, "chat-1", "m1", chattest.ModelOK, 2)
	delete(body, "messages")
	body["user_message"] = user
	startTask(t, s, tok, body)
	waitInactive(t, step, 0, "m1")
	body = taskBody(sid, "chat-1", "m2", chattest.ModelOK, 2)
	body["messages"] = []map[string]any{{"role": "system", "content": "be brief"}}
	body["user_message"] = user
	startTask(t, s, tok, body)
	waitInactive(t, step, 0, "m2")
	reqs := up.Requests()
	require.Len(t, reqs, 2)
	require.Equal(t, []any{map[string]any{"role": "user", "content": "hi there"}}, reqs[0].Body["messages"])
	require.Equal(t, []any{map[string]any{"role": "system", "content": "be brief"}, map[string]any{"role": "user", "content": "hi there"}}, reqs[1].Body["messages"])
	require.Equal(t, "0 1 ", traceOf(t, eventsOf(t, step, 0, "m2")).done["content"])

	// Neither a conversation nor a question: 400, as without task fields.
	body = taskBody(sid, "chat-1", "m3", chattest.ModelOK, 2)
	delete(body, "messages")
	r := s.Do("POST", "/api/chat/completions", tok, body)
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.Equal(t, "messages must be a non-empty array", r.Detail())
	body["messages"] = "hi"
	r = s.Do("POST", "/api/chat/completions", tok, body)
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.Equal(t, "messages must be an array of messages", r.Detail())
}

// waitInactive waits until socket i got chat:active {active: false} for mid.
func waitInactive(t *testing.T, step func(string) map[string]any, i int, mid string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, e := range eventsOf(t, step, i, mid) {
			if e.Payload.Data.Type == "chat:active" && string(e.Payload.Data.Data) == `{"active":false}` {
				return
			}
		}
		require.False(t, time.Now().After(deadline), "no chat:active false for %s on socket %d", mid, i)
		time.Sleep(20 * time.Millisecond)
	}
}

// With a long interval only the size bound sends text: the first piece
// goes out at once, then pieces of at least ChatFlushBytes, then the rest
// before done; nothing is lost or reordered.
func TestChatTaskBatchesText(t *testing.T) {
	t.Parallel()
	up := chattest.New(t)
	s, tok := chatServer(t, up.BaseURL, "", func(c *server.Config) {
		c.ChatFlushInterval, c.ChatFlushBytes = time.Hour, 1024
	})
	step := sockets(t, s, tok)
	startTask(t, s, tok, taskBody(sids(t, step)[0], "chat-1", "m1", chattest.ModelOK, 1000))
	waitInactive(t, step, 0, "m1")
	tr := traceOf(t, eventsOf(t, step, 0, "m1"))
	want := numbers(0, 1000)
	require.Equal(t, want, tr.text)
	require.Equal(t, "0 ", tr.deltas[0], "the first piece at once")
	for _, d := range tr.deltas[1 : len(tr.deltas)-1] {
		require.GreaterOrEqual(t, len(d), 1024)
	}
	require.LessOrEqual(t, len(tr.deltas), 2+len(want)/1024, "1,000 chunks in a handful of events")
}

// A stop cancels the upstream request, tells the sockets chat:tasks:cancel
// (no done) and chat:active false, and the task is gone from the lists.
// Only the task's account or an admin may stop it or see it.
func TestChatTaskStop(t *testing.T) {
	t.Parallel()
	up := chattest.New(t)
	s, admin := chatServer(t, up.BaseURL, "")
	bob, carol := s.SignUp("Bob"), s.SignUp("Carol")
	step := sockets(t, s, bob.Token)
	sid := sids(t, step)[0]

	id := startTask(t, s, bob.Token, taskBody(sid, "chat-b", "m1", chattest.ModelHold, 5))
	step("until 0 chat:completion m1") // the first text arrived; the upstream holds the rest
	var lst struct {
		TaskIDs []string `json:"task_ids"`
		Tasks   []struct {
			ID, Model string
			ChatID    string `json:"chat_id"`
			MessageID string `json:"message_id"`
		} `json:"tasks"`
	}
	s.JSON("GET", "/api/tasks/chat/chat-b", bob.Token, nil, http.StatusOK, &lst)
	require.Equal(t, []string{id}, lst.TaskIDs)
	s.JSON("GET", "/api/tasks", bob.Token, nil, http.StatusOK, &lst)
	require.Len(t, lst.Tasks, 1)
	require.Equal(t, id, lst.Tasks[0].ID)
	require.Equal(t, "chat-b", lst.Tasks[0].ChatID)
	require.Equal(t, "m1", lst.Tasks[0].MessageID)
	require.Equal(t, chattest.ModelHold, lst.Tasks[0].Model)

	// Carol neither sees nor stops it.
	s.JSON("GET", "/api/tasks/chat/chat-b", carol.Token, nil, http.StatusOK, &lst)
	require.Empty(t, lst.TaskIDs)
	s.JSON("GET", "/api/tasks", carol.Token, nil, http.StatusOK, &lst)
	require.Empty(t, lst.Tasks)
	r := s.Do("POST", "/api/tasks/stop/"+id, carol.Token, nil)
	require.Equal(t, http.StatusNotFound, r.Status)
	r = s.JSON("POST", "/api/tasks/chat/chat-b/stop", carol.Token, nil, http.StatusOK, &lst)
	require.Empty(t, lst.TaskIDs, "%s", r.Body)

	r = s.JSON("POST", "/api/tasks/stop/"+id, bob.Token, nil, http.StatusOK, nil)
	require.Contains(t, string(r.Body), `"status":true`)
	up.WaitCancelled(t, chattest.ModelHold)
	// The stop answers once the task has wound up.
	tr := traceOf(t, eventsOf(t, step, 0, "m1"))
	require.Equal(t, []string{"active:true", "text", "chat:tasks:cancel", "active:false"}, tr.types)
	require.Equal(t, "0 ", tr.text)
	s.JSON("GET", "/api/tasks/chat/chat-b", bob.Token, nil, http.StatusOK, &lst)
	require.Empty(t, lst.TaskIDs)
	require.Equal(t, http.StatusNotFound, s.Do("POST", "/api/tasks/stop/"+id, bob.Token, nil).Status, "a finished task is unknown")

	// The stock frontend's stop button stops the chat's tasks; an admin
	// may stop anyone's.
	id2 := startTask(t, s, bob.Token, taskBody(sid, "chat-b", "m2", chattest.ModelHold, 5))
	step("until 0 chat:completion m2")
	s.JSON("POST", "/api/tasks/chat/chat-b/stop", admin, nil, http.StatusOK, &lst)
	require.Equal(t, []string{id2}, lst.TaskIDs)
	up.WaitCancelled(t, chattest.ModelHold)
	require.Equal(t, []string{"active:true", "text", "chat:tasks:cancel", "active:false"}, traceOf(t, eventsOf(t, step, 0, "m2")).types)
}

// closingUpstream lists model "gone" and closes every completion request's
// connection before answering: an upstream that cannot be reached.
func closingUpstream(t *testing.T) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":[{"id":"gone"}]}`))
	})
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, _ *http.Request) {
		if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = c.Close()
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

// Every upstream fault reaches the sockets as the error the frontend shows
// (chat:message:error), then chat:tasks:cancel and chat:active false,
// after the text that did arrive.
func TestChatTaskFaults(t *testing.T) {
	t.Parallel()
	up := chattest.New(t)
	s, tok := chatServer(t, up.BaseURL+";"+closingUpstream(t), "", func(c *server.Config) { c.ChatIdleTimeout = 10 * time.Second })
	step := sockets(t, s, tok)
	sid := sids(t, step)[0]
	cases := []struct{ model, text, err string }{
		{"gone", "", "the model server could not be reached"},
		{chattest.ModelFail500, "", "the model server answered 500: the GPU caught fire"},
		{chattest.ModelFail400, "", "the model server answered 400: context length exceeded"},
		{chattest.ModelNoStream, "", "the model server did not answer with an event stream"},
		{chattest.ModelTruncate, "0 1 2 ", "the model server's answer ended early"},
		{chattest.ModelCut, "0 1 2 ", "the model server's answer ended early"},
		{chattest.ModelStreamError, "0 1 ", "the model server reported an error: the model is overloaded"},
		{chattest.ModelStall, "0 1 ", "the model server stopped sending (timed out)"},
	}
	for i, c := range cases {
		startTask(t, s, tok, taskBody(sid, "chat-1", fmt.Sprintf("m%d", i), c.model, 5))
	}
	for i, c := range cases {
		mid := fmt.Sprintf("m%d", i)
		waitInactive(t, step, 0, mid)
		tr := traceOf(t, eventsOf(t, step, 0, mid))
		want := []string{"active:true", "chat:message:error", "chat:tasks:cancel", "active:false"}
		if c.text != "" {
			want = []string{"active:true", "text", "chat:message:error", "chat:tasks:cancel", "active:false"}
		}
		require.Equal(t, want, tr.types, c.model)
		require.Equal(t, c.text, tr.text, c.model)
		require.Equal(t, c.err, tr.errorMsg, c.model)
	}
	up.WaitCancelled(t, chattest.ModelStall)
	require.Zero(t, s.InternalErrors())
}

// A browser that leaves mid-answer does not stop the task (as Open WebUI):
// the upstream is not cancelled, and the account's other tab gets the rest
// and the end.
func TestChatTaskBrowserLeaves(t *testing.T) {
	t.Parallel()
	up := chattest.New(t)
	s, tok := chatServer(t, up.BaseURL, "")
	step := sockets(t, s, tok, tok)
	sid := sids(t, step)[0]
	startTask(t, s, tok, taskBody(sid, "chat-1", "m1", chattest.ModelHold, 6))
	step("until 0 chat:completion m1")
	require.Equal(t, float64(0), step("close 0")["closed"])
	close(up.Release)
	waitInactive(t, step, 1, "m1")
	tr := traceOf(t, eventsOf(t, step, 1, "m1"))
	require.Equal(t, []string{"active:true", "text", "done", "active:false"}, tr.types)
	require.Equal(t, numbers(0, 6), tr.text)
	require.Equal(t, numbers(0, 6), tr.done["content"])
	select {
	case m := <-up.Cancelled:
		t.Fatalf("the upstream request of %s was cancelled", m)
	default:
	}
}

// Bad task requests are 4xx and start nothing: malformed task fields, a
// socket that is not the caller's (another account's, an unknown one), an
// unknown model. The task routes need a token.
func TestChatTaskBadInput(t *testing.T) {
	t.Parallel()
	up := chattest.New(t)
	s, tok := chatServer(t, up.BaseURL, "")
	bob := s.SignUp("Bob")
	step := sockets(t, s, tok, bob.Token)
	ids := sids(t, step)
	mine, bobs := ids[0], ids[1]
	with := func(k string, v any) map[string]any {
		b := taskBody(mine, "chat-1", "m1", chattest.ModelOK, 3)
		b[k] = v
		return b
	}
	for _, c := range []struct {
		name   string
		body   map[string]any
		status int
		detail string
	}{
		{"session_id not a string", with("session_id", 5), 400, "session_id must be a non-empty string of at most 256 bytes"},
		{"chat_id not a string", with("chat_id", []int{1}), 400, "chat_id must be a non-empty string of at most 256 bytes"},
		{"id too long", with("id", strings.Repeat("x", 257)), 400, "id must be a non-empty string of at most 256 bytes"},
		{"parent_id not a string", with("parent_id", true), 400, "parent_id must be a non-empty string of at most 256 bytes"},
		{"channel chat", with("chat_id", "channel:c1"), 400, "chat_id: answers into channels are not streamed here"},
		{"another account's socket", with("session_id", bobs), 400, "session_id is not a live socket of this account; reconnect and try again"},
		{"unknown socket", with("session_id", "no-such-socket"), 400, "session_id is not a live socket of this account; reconnect and try again"},
		{"unknown model", with("model", "gpt-9"), 404, "Model not found"},
		{"no messages", with("messages", []any{}), 400, "messages must be a non-empty array"},
	} {
		r := s.Do("POST", "/api/chat/completions", tok, c.body)
		require.Equal(t, c.status, r.Status, "%s: %s", c.name, r.Body)
		require.Equal(t, c.detail, r.Detail(), c.name)
	}
	require.Empty(t, up.Requests(), "nothing reached the upstream")
	var lst struct {
		Tasks []any `json:"tasks"`
	}
	s.JSON("GET", "/api/tasks", tok, nil, http.StatusOK, &lst)
	require.Empty(t, lst.Tasks)
	require.Empty(t, eventsOf(t, step, 0, ""), "no socket heard of anything")

	for _, r := range []struct{ method, path string }{
		{"GET", "/api/tasks"}, {"POST", "/api/tasks/stop/x"}, {"GET", "/api/tasks/chat/x"}, {"POST", "/api/tasks/chat/x/stop"},
	} {
		require.Equal(t, http.StatusUnauthorized, s.Do(r.method, r.path, "", nil).Status, r.path)
	}
	require.Equal(t, http.StatusNotFound, s.Do("POST", "/api/tasks/stop/no-such-task", tok, nil).Status)
	s.JSON("GET", "/api/tasks/chat/no-such-chat", tok, nil, http.StatusOK, nil)
	require.Zero(t, s.InternalErrors())
}

// A task running when the server stops ends with an error its sockets are
// told of, and does not hold the shutdown.
func TestChatTaskEndsAtShutdown(t *testing.T) {
	t.Parallel()
	up := chattest.New(t)
	s, tok := chatServer(t, up.BaseURL, "")
	step := sockets(t, s, tok)
	startTask(t, s, tok, taskBody(sids(t, step)[0], "chat-1", "m1", chattest.ModelHold, 5))
	step("until 0 chat:completion m1")
	require.NoError(t, s.Server.Stop(context.Background()))
	up.WaitCancelled(t, chattest.ModelHold)
}

// No goroutine is left behind by a task, whatever its end: a success, each
// fault, a stop, a browser that leaves. Once idle connections are closed,
// no goroutine runs the api's or chat's code, an upstream handler, or an
// upstream connection (goleak-style, on the stacks: the Socket.IO
// library's timers come and go, so a bare count is noise). Not parallel,
// so that it sees only its own (the parallel tests wait meanwhile).
func TestChatTaskLeavesNoGoroutine(t *testing.T) {
	up := chattest.New(t)
	s, tok := chatServer(t, up.BaseURL+";"+closingUpstream(t), "", func(c *server.Config) { c.ChatIdleTimeout = 10 * time.Second })
	step := sockets(t, s, tok)
	sid := sids(t, step)[0]
	n := 0
	run := func(sid, model string, then func(mid string)) {
		n++
		mid := fmt.Sprintf("m%d", n)
		startTask(t, s, tok, taskBody(sid, "chat-1", mid, model, 20))
		if then != nil {
			then(mid)
		}
		waitInactive(t, step, 0, mid)
	}
	for _, m := range []string{chattest.ModelOK, "gone", chattest.ModelFail500, chattest.ModelTruncate, chattest.ModelCut,
		chattest.ModelStreamError, chattest.ModelStall, chattest.ModelNoStream} {
		run(sid, m, nil)
	}
	run(sid, chattest.ModelHold, func(mid string) {
		step("until 0 chat:completion " + mid)
		var lst struct {
			TaskIDs []string `json:"task_ids"`
		}
		s.JSON("POST", "/api/tasks/chat/chat-1/stop", tok, nil, http.StatusOK, &lst)
		require.Len(t, lst.TaskIDs, 1)
	})
	tab := sockets(t, s, tok) // a tab that starts a task and leaves
	run(sids(t, tab)[0], chattest.ModelHold, func(mid string) {
		tab("until 0 chat:completion " + mid)
		tab("close 0")
		close(up.Release)
	})

	requireNoChatGoroutines(t, s)
}

// requireNoChatGoroutines waits (≤30 s) until no goroutine of the api and
// chat packages, the test upstream or an HTTP connection is left, and fails
// with their stacks otherwise. Only for tests that are not parallel.
func requireNoChatGoroutines(t *testing.T, s *quiretest.Server) {
	t.Helper()
	markers := []string{"quire/quire/api.", "quire/quire/chat.", "quire/quire/chat/chattest.", "net/http.(*persistConn)"}
	leftovers := func() []string {
		s.Client.CloseIdleConnections()
		s.Server.Chat().CloseIdleConnections()
		buf := make([]byte, 4<<20)
		var out []string
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if strings.Contains(g, "created by github.com/quire/quire/chat.NewTasksRedis") {
				continue // the shared registry's listener and beat
			}
			for _, m := range markers {
				if strings.Contains(g, m) {
					out = append(out, g)
					break
				}
			}
		}
		return out
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(leftovers()) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if left := leftovers(); len(left) > 0 {
		t.Fatalf("%d goroutines left behind:\n%s", len(left), strings.Join(left, "\n\n"))
	}
}
