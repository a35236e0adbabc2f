package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/chat/chattest"
	"github.com/quire/quire/quiretest"
	"github.com/quire/quire/server"
)

// storedChat is GET /api/v1/chats/{id}, the parts these tests read.
type storedChat struct {
	ID     string `json:"id"`
	UserID string `json:"user_id"`
	Title  string `json:"title"`
	Chat   struct {
		Title   string   `json:"title"`
		Models  []string `json:"models"`
		History struct {
			Messages  map[string]map[string]any `json:"messages"`
			CurrentID string                    `json:"currentId"`
		} `json:"history"`
		Messages []map[string]any `json:"messages"`
	} `json:"chat"`
}

// stockServer is chatServer on backend b.
func stockServer(t *testing.T, b quiretest.Backend, upstream string) (*quiretest.Server, string) {
	t.Helper()
	opts := append([]quiretest.Option{quiretest.WithConfig(func(c *server.Config) { c.OpenAIBaseURLs = upstream })}, b.Opts...)
	s := quiretest.New(t, opts...)
	return s, s.SignUp("alice").Token
}

func getChat(t *testing.T, s *quiretest.Server, tok, id string) storedChat {
	t.Helper()
	var c storedChat
	s.JSON("GET", "/api/v1/chats/"+id, tok, nil, http.StatusOK, &c)
	return c
}

// stockBody is a task request as the stock 0.11 frontend sends it for a
// saved chat: no conversation, the question as user_message, whose parent
// is parent_id; no chat_id for a new chat.
func stockBody(sid, chatID, parentID, userID, question, answerID string) map[string]any {
	var parent any
	if parentID != "" {
		parent = parentID
	}
	b := map[string]any{
		"stream": true, "model": chattest.ModelOK, "max_tokens": 2, "params": map[string]any{},
		"session_id": sid, "id": answerID, "parent_id": parent,
		"user_message": map[string]any{"id": userID, "parentId": parent, "childrenIds": []string{answerID},
			"role": "user", "content": question, "timestamp": 1700000000, "models": []string{chattest.ModelOK}},
		"background_tasks": map[string]any{"title_generation": true},
	}
	if chatID != "" {
		b["chat_id"] = chatID
	}
	return b
}

// startStock posts a stock request and returns its answer.
func startStock(t *testing.T, s *quiretest.Server, tok string, body map[string]any) (taskID, chatID string) {
	t.Helper()
	var out struct {
		Status bool   `json:"status"`
		TaskID string `json:"task_id"`
		ChatID string `json:"chat_id"`
	}
	s.JSON("POST", "/api/chat/completions", tok, body, http.StatusOK, &out)
	require.True(t, out.Status)
	require.NotEmpty(t, out.TaskID)
	return out.TaskID, out.ChatID
}

func listChatIDs(t *testing.T, s *quiretest.Server, tok string) []string {
	t.Helper()
	var lst []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	s.JSON("GET", "/api/v1/chats/?page=1", tok, nil, http.StatusOK, &lst)
	ids := []string{}
	for _, c := range lst {
		ids = append(ids, c.ID)
	}
	return ids
}

// A new chat, as the stock frontend starts one: no chat_id. Quire makes
// the chat, answers its id, stores the question and the answer, titles
// the chat after the question and says so (chat:title) before the task's
// last event. The follow-up carries only its question and a system
// prompt: the model gets the whole conversation from the stored chat, and
// both new messages join the tree below the first answer.
func TestChatTaskCreatesTheChat(t *testing.T) {
	t.Parallel()
	for _, b := range quiretest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			testChatTaskCreatesTheChat(t, b)
		})
	}
}

func testChatTaskCreatesTheChat(t *testing.T, b quiretest.Backend) {
	up := chattest.New(t)
	s, tok := stockServer(t, b, up.BaseURL)
	step := sockets(t, s, tok)
	sid := sids(t, step)[0]

	_, chatID := startStock(t, s, tok, stockBody(sid, "", "", "u1", "What is Quire,\n  really?", "a1"))
	require.Regexp(t, "^[0-9a-f-]{36}$", chatID)
	waitInactive(t, step, 0, "a1")
	evs := eventsOf(t, step, 0, "a1")
	tr := traceOf(t, evs)
	require.Equal(t, []string{"active:true", "text", "done", "chat:title", "active:false"}, tr.types)
	for _, e := range evs {
		require.Equal(t, chatID, e.Payload.ChatID)
	}
	require.JSONEq(t, `"What is Quire,"`, string(evs[len(evs)-2].Payload.Data.Data))
	require.Equal(t, []any{map[string]any{"role": "user", "content": "What is Quire,\n  really?"}}, up.Requests()[0].Body["messages"])

	c := getChat(t, s, tok, chatID)
	require.Equal(t, "What is Quire,", c.Title)
	require.Equal(t, "What is Quire,", c.Chat.Title)
	require.Equal(t, []string{chattest.ModelOK}, c.Chat.Models)
	require.Equal(t, "a1", c.Chat.History.CurrentID)
	u1, a1 := c.Chat.History.Messages["u1"], c.Chat.History.Messages["a1"]
	require.Nil(t, u1["parentId"])
	require.Equal(t, []any{"a1"}, u1["childrenIds"])
	require.Equal(t, "user", u1["role"])
	require.Equal(t, "assistant", a1["role"])
	require.Equal(t, "u1", a1["parentId"])
	require.Equal(t, "0 1 ", a1["content"])
	require.Equal(t, true, a1["done"])
	require.Equal(t, chattest.ModelOK, a1["model"])
	require.Len(t, c.Chat.Messages, 2)
	require.Equal(t, []string{chatID}, listChatIDs(t, s, tok))

	// The follow-up.
	body := stockBody(sid, chatID, "a1", "u2", "And then?", "a2")
	body["messages"] = []map[string]any{{"role": "system", "content": "be brief"}}
	_, again := startStock(t, s, tok, body)
	require.Equal(t, chatID, again)
	waitInactive(t, step, 0, "a2")
	require.Equal(t, []string{"active:true", "text", "done", "active:false"}, traceOf(t, eventsOf(t, step, 0, "a2")).types,
		"a titled chat is not titled again")
	require.Equal(t, []any{
		map[string]any{"role": "system", "content": "be brief"},
		map[string]any{"role": "user", "content": "What is Quire,\n  really?"},
		map[string]any{"role": "assistant", "content": "0 1 "},
		map[string]any{"role": "user", "content": "And then?"},
	}, up.Requests()[1].Body["messages"])
	c = getChat(t, s, tok, chatID)
	require.Equal(t, "What is Quire,", c.Title)
	require.Equal(t, "a2", c.Chat.History.CurrentID)
	require.Equal(t, []any{"u2"}, c.Chat.History.Messages["a1"]["childrenIds"])
	require.Equal(t, "a1", c.Chat.History.Messages["u2"]["parentId"])
	require.Equal(t, "u2", c.Chat.History.Messages["a2"]["parentId"])
	var path []string
	for _, m := range c.Chat.Messages {
		path = append(path, m["id"].(string))
	}
	require.Equal(t, []string{"u1", "a1", "u2", "a2"}, path)
	require.Zero(t, s.InternalErrors())
}

// A chat id no chat has yet is made, with that id, for the caller; a
// temporary chat (temporary:…, local:…) is never stored, and its request
// carries the conversation. Titles are made of the question's first line
// with text, at most 60 characters.
func TestChatTaskChatIDs(t *testing.T) {
	t.Parallel()
	up := chattest.New(t)
	s, tok := chatServer(t, up.BaseURL, "")
	step := sockets(t, s, tok)
	sid := sids(t, step)[0]

	long := "\n\n" + strings.Repeat("word ", 30)
	_, id := startStock(t, s, tok, stockBody(sid, "my-chat", "", "u1", long, "a1"))
	require.Equal(t, "my-chat", id)
	waitInactive(t, step, 0, "a1")
	c := getChat(t, s, tok, "my-chat")
	require.Equal(t, strings.TrimSpace(strings.Repeat("word ", 12))+"…", c.Title)
	require.Equal(t, "0 1 ", c.Chat.History.Messages["a1"]["content"])

	for i, tmp := range []string{"temporary:abc", "local:abc"} {
		mid := []string{"t1", "t2"}[i]
		body := stockBody(sid, tmp, "", "q"+mid, "temporary question", mid)
		body["messages"] = []map[string]any{{"role": "user", "content": "temporary question"}}
		_, id := startStock(t, s, tok, body)
		require.Equal(t, tmp, id)
		waitInactive(t, step, 0, mid)
		require.Equal(t, []any{map[string]any{"role": "user", "content": "temporary question"}}, up.Requests()[1+i].Body["messages"])
		types := traceOf(t, eventsOf(t, step, 0, mid)).types
		require.Equal(t, []string{"active:true", "text", "done", "active:false"}, types, "no title for a temporary chat")
	}
	require.Equal(t, []string{"my-chat"}, listChatIDs(t, s, tok))
	require.Zero(t, s.InternalErrors())
}

// Bad task requests of the stock shape are 4xx and change nothing: no
// chat is made or edited, nothing reaches the upstream, no socket hears of
// it: another account's chat (404, as an unknown one would be to it), a
// malformed user_message or chat_id, a socket that is not the caller's,
// an unknown model, a question that would make the chat too large, a body
// that is not JSON.
func TestChatTaskStockBadInput(t *testing.T) {
	t.Parallel()
	for _, b := range quiretest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			testChatTaskStockBadInput(t, b)
		})
	}
}

func testChatTaskStockBadInput(t *testing.T, b quiretest.Backend) {
	up := chattest.New(t)
	s, tok := stockServer(t, b, up.BaseURL)
	bob := s.SignUp("Bob")
	step := sockets(t, s, tok, bob.Token)
	ids := sids(t, step)
	mine, bobs := ids[0], ids[1]

	// Bob's chat, which Alice must not touch; and Alice's own, almost full.
	var bobChat struct {
		ID string `json:"id"`
	}
	s.JSON("POST", "/api/v1/chats/new", bob.Token, map[string]any{"chat": map[string]any{"title": "Bob's",
		"history": map[string]any{"messages": map[string]any{}, "currentId": nil}, "messages": []any{}}}, http.StatusOK, &bobChat)
	var full struct {
		ID string `json:"id"`
	}
	s.JSON("POST", "/api/v1/chats/new", tok, map[string]any{"chat": map[string]any{"title": "Full",
		"filler": strings.Repeat("x", 8<<20-64<<10)}}, http.StatusOK, &full)
	bobBefore := s.JSON("GET", "/api/v1/chats/"+bobChat.ID, bob.Token, nil, http.StatusOK, nil).Body
	fullBefore := s.JSON("GET", "/api/v1/chats/"+full.ID, tok, nil, http.StatusOK, nil).Body

	with := func(chatID string, edit func(map[string]any)) map[string]any {
		b := stockBody(mine, chatID, "", "u1", "hello", "a1")
		edit(b)
		return b
	}
	um := func(k string, v any) func(map[string]any) {
		return func(b map[string]any) { b["user_message"].(map[string]any)[k] = v }
	}
	const badUM = `user_message must be a message object {id, role: "user", content}`
	for _, c := range []struct {
		name   string
		body   any
		status int
		detail string
	}{
		{"another account's chat", with(bobChat.ID, func(map[string]any) {}), 404, "Chat not found"},
		{"another account's chat, no question", with(bobChat.ID, func(b map[string]any) {
			delete(b, "user_message")
			b["messages"] = []map[string]any{{"role": "user", "content": "hi"}}
		}), 404, "Chat not found"},
		{"user_message not an object", with("", func(b map[string]any) { b["user_message"] = "hello" }), 400, badUM},
		{"user_message of the assistant", with("", um("role", "assistant")), 400, badUM},
		{"user_message without id", with("", um("id", nil)), 400, badUM},
		{"user_message with a bad id", with("", um("id", strings.Repeat("i", 129))), 400, badUM},
		{"user_message content a number", with("", um("content", 5)), 400, badUM},
		{"user_message with NUL", with("", um("content", "a\x00b")), 400,
			"user_message must not contain NUL characters or numbers beyond double precision, nor nest too deep"},
		{"question and answer with one id", with("", um("id", "a1")), 400, "user_message.id must differ from id (the answer's)"},
		{"chat_id not a string", with("", func(b map[string]any) { b["chat_id"] = 7 }), 400,
			"chat_id must be a non-empty string of at most 256 bytes"},
		{"chat_id too long for a stored chat", with(strings.Repeat("c", 200), func(map[string]any) {}), 400,
			"chat_id and id must be ids (at most 128 bytes, no NUL) in a saved chat"},
		{"chat_id with NUL", with("c\x00d", func(map[string]any) {}), 400,
			"chat_id and id must be ids (at most 128 bytes, no NUL) in a saved chat"},
		{"answer id too long for a stored chat", with("", func(b map[string]any) { b["id"] = strings.Repeat("a", 200) }), 400,
			"chat_id and id must be ids (at most 128 bytes, no NUL) in a saved chat"},
		{"another account's socket", with("", func(b map[string]any) { b["session_id"] = bobs }), 400,
			"session_id is not a live socket of this account; reconnect and try again"},
		{"unknown model", with("", func(b map[string]any) { b["model"] = "gpt-9" }), 404, "Model not found"},
		{"too large for the chat", with(full.ID, um("content", strings.Repeat("y", 128<<10))), 413,
			"the chat would be larger than 8388608 bytes"},
		{"not JSON", `{"session_id":`, 400, "request body is not valid JSON"},
	} {
		r := s.Do("POST", "/api/chat/completions", tok, c.body)
		require.Equal(t, c.status, r.Status, "%s: %s", c.name, r.Body)
		require.Equal(t, c.detail, r.Detail(), c.name)
	}
	require.Empty(t, up.Requests(), "nothing reached the upstream")
	require.Equal(t, []string{full.ID}, listChatIDs(t, s, tok), "no chat was made")
	require.Equal(t, string(bobBefore), string(s.JSON("GET", "/api/v1/chats/"+bobChat.ID, bob.Token, nil, http.StatusOK, nil).Body))
	require.Equal(t, string(fullBefore), string(s.JSON("GET", "/api/v1/chats/"+full.ID, tok, nil, http.StatusOK, nil).Body))
	var lst struct {
		Tasks []any `json:"tasks"`
	}
	s.JSON("GET", "/api/tasks", tok, nil, http.StatusOK, &lst)
	require.Empty(t, lst.Tasks)
	require.Empty(t, eventsOf(t, step, 0, ""), "Alice's socket heard nothing")
	require.Empty(t, eventsOf(t, step, 1, ""), "Bob's socket heard nothing")
	require.Zero(t, s.InternalErrors())
}

// events/emit with a chat_id reaches the chat's owner (every tab), found
// through the chats store; a temporary chat id names no stored chat.
func TestEventsEmitToChat(t *testing.T) {
	t.Parallel()
	s := quiretest.New(t)
	admin, bob := s.SignUp("Admin"), s.SignUp("Bob")
	var c struct {
		ID string `json:"id"`
	}
	s.JSON("POST", "/api/v1/chats/new", bob.Token, map[string]any{"chat": map[string]any{"title": "Ask"}}, http.StatusOK, &c)
	step := sockets(t, s, bob.Token, admin.Token)
	data := map[string]any{"type": "chat:message:delta", "data": map[string]any{"content": "hi"}}
	r := s.JSON("POST", "/api/v1/events/emit", admin.Token, map[string]any{"chat_id": c.ID, "message_id": "m1", "data": data}, http.StatusOK, nil)
	require.JSONEq(t, `{"status": true}`, string(r.Body))
	for _, id := range []string{"temporary:" + c.ID, "local:x"} {
		r := s.Do("POST", "/api/v1/events/emit", admin.Token, map[string]any{"chat_id": id, "data": data})
		require.Equal(t, http.StatusNotFound, r.Status)
		require.Equal(t, "Chat not found", r.Detail())
	}
	var got []map[string]any
	raw, err := json.Marshal(step("events 0")["events"])
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &got))
	require.Equal(t, []map[string]any{{"name": "events", "payload": map[string]any{"chat_id": c.ID, "message_id": "m1", "data": data}}}, got)
	require.Empty(t, eventsOf(t, step, 1, ""), "the admin owns no such chat")
	require.Zero(t, s.InternalErrors())
}

// "Continue Response": the request names the stored answer as its id and
// assistant_message_id; the model gets the conversation down to that
// answer, and the new text extends it (events, done content, the stored
// message). A temporary chat's continued answer is the last message sent.
func TestChatTaskContinues(t *testing.T) {
	t.Parallel()
	up := chattest.New(t)
	s, tok := chatServer(t, up.BaseURL, "")
	step := sockets(t, s, tok)
	sid := sids(t, step)[0]

	_, chatID := startStock(t, s, tok, stockBody(sid, "", "", "u1", "Count", "a1"))
	waitInactive(t, step, 0, "a1")
	cont := stockBody(sid, chatID, "", "u1", "Count", "a1")
	cont["assistant_message_id"] = "a1"
	bad := stockBody(sid, chatID, "", "u1", "Count", "a1")
	bad["assistant_message_id"] = "a9"
	r := s.Do("POST", "/api/chat/completions", tok, bad)
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.Equal(t, "assistant_message_id must be the answer's id (id)", r.Detail())

	before := len(eventsOf(t, step, 0, "a1"))
	startStock(t, s, tok, cont)
	deadline := func() bool {
		evs := eventsOf(t, step, 0, "a1")
		return len(evs) > before && evs[len(evs)-1].Payload.Data.Type == "chat:active" && string(evs[len(evs)-1].Payload.Data.Data) == `{"active":false}`
	}
	require.Eventually(t, deadline, 30*time.Second, 20*time.Millisecond)
	tr := traceOf(t, eventsOf(t, step, 0, "a1")[before:])
	require.Equal(t, "0 1 ", tr.text, "only the new text is sent")
	require.Equal(t, "0 1 0 1 ", tr.done["content"])
	require.Equal(t, []any{
		map[string]any{"role": "user", "content": "Count"},
		map[string]any{"role": "assistant", "content": "0 1 "},
	}, up.Requests()[1].Body["messages"])
	c := getChat(t, s, tok, chatID)
	require.Equal(t, "0 1 0 1 ", c.Chat.History.Messages["a1"]["content"])
	require.Len(t, c.Chat.History.Messages, 2)

	tmp := stockBody(sid, "temporary:x", "", "t1", "Count", "t2")
	tmp["assistant_message_id"] = "t2"
	tmp["messages"] = []map[string]any{{"role": "user", "content": "Count"}, {"role": "assistant", "content": "abc"}}
	startStock(t, s, tok, tmp)
	waitInactive(t, step, 0, "t2")
	require.Equal(t, "abc0 1 ", traceOf(t, eventsOf(t, step, 0, "t2")).done["content"])
	require.Zero(t, s.InternalErrors())
}

// Two accounts racing to start a task in one chat id that no chat has
// yet: one makes the chat, the other gets 404, never a 500; the chat is
// the winner's and holds only the winner's messages.
func TestChatTaskCreateRace(t *testing.T) {
	t.Parallel()
	for _, b := range quiretest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			up := chattest.New(t)
			s, tok := stockServer(t, b, up.BaseURL)
			bob := s.SignUp("Bob")
			step := sockets(t, s, tok, bob.Token)
			ids := sids(t, step)
			toks := []string{tok, bob.Token}
			for i := range 8 {
				chatID := "contested-" + strings.Repeat("x", i)
				statuses := make([]int, 2)
				done := make(chan struct{})
				for who := range 2 {
					go func() {
						defer func() { done <- struct{}{} }()
						body := stockBody(ids[who], chatID, "", "u"+string(rune('a'+who)), "race", "a"+string(rune('a'+who)))
						statuses[who] = s.Do("POST", "/api/chat/completions", toks[who], body).Status
					}()
				}
				<-done
				<-done
				require.ElementsMatch(t, []int{http.StatusOK, http.StatusNotFound}, statuses, chatID)
				winner := 0
				if statuses[1] == http.StatusOK {
					winner = 1
				}
				c := getChat(t, s, toks[winner], chatID)
				require.Len(t, c.Chat.History.Messages, 2, chatID)
				require.Contains(t, c.Chat.History.Messages, "u"+string(rune('a'+winner)))
			}
			require.Zero(t, s.InternalErrors())
		})
	}
}

// A task request names stored messages by id; each is checked against the
// stored history, under the chat's lock, before anything is stored: the
// answer's id must be new, an unfinished answer, or (continue) a stored
// answer; the question's id new or a stored question; the answer's parent
// the question (a stored user message, or the one sent), neither the
// answer nor below it; the question's parent not below the question. Each
// refusal is 400 with what is wrong, leaves the chat byte for byte as it
// was, makes no chat, starts no task and asks no upstream.
func TestChatTaskChecksStoredIDs(t *testing.T) {
	t.Parallel()
	for _, b := range quiretest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			testChatTaskChecksStoredIDs(t, b)
		})
	}
}

func testChatTaskChecksStoredIDs(t *testing.T, b quiretest.Backend) {
	up := chattest.New(t)
	s, tok := stockServer(t, b, up.BaseURL)
	step := sockets(t, s, tok)
	sid := sids(t, step)[0]

	// u1 → a1 → u2 → a2, all finished.
	_, chatID := startStock(t, s, tok, stockBody(sid, "", "", "u1", "first", "a1"))
	waitInactive(t, step, 0, "a1")
	startStock(t, s, tok, stockBody(sid, chatID, "a1", "u2", "second", "a2"))
	waitInactive(t, step, 0, "a2")
	// And an answer without a question (r0, a root), then q1 → r1 below it.
	cont := func(b map[string]any) map[string]any { b["assistant_message_id"] = b["id"]; return b }
	noQuestion := func(b map[string]any) map[string]any {
		delete(b, "user_message")
		b["messages"] = []map[string]any{{"role": "user", "content": "hi"}}
		return b
	}
	startStock(t, s, tok, noQuestion(stockBody(sid, chatID, "", "", "", "r0")))
	waitInactive(t, step, 0, "r0")
	startStock(t, s, tok, stockBody(sid, chatID, "r0", "q1", "below", "r1"))
	waitInactive(t, step, 0, "r1")
	before := s.JSON("GET", "/api/v1/chats/"+chatID, tok, nil, http.StatusOK, nil).Body
	asked := len(up.Requests())
	heard := len(eventsOf(t, step, 0, ""))

	const (
		notAnswer   = "id names a stored message that is not an answer"
		finished    = "id names a finished answer; only a continued answer (assistant_message_id) may be written again"
		notQuestion = "user_message.id names a stored message that is not a question"
		noParent    = "parent_id names no message of this chat"
		notUser     = "the answer's parent must be a question (a user message)"
		selfParent  = "the answer cannot be its own parent"
		otherParent = "id names a stored answer to another question"
		userCycle   = "parent_id is below the question: the question cannot follow its own answers"
		answerCycle = "parent_id is below the answer: the answer cannot follow its own replies"
	)
	for _, c := range []struct {
		name   string
		body   map[string]any
		detail string
	}{
		{"answer id names the question", stockBody(sid, chatID, "a2", "u3", "third", "u1"), notAnswer},
		{"answer id names the question, continued", cont(stockBody(sid, chatID, "a1", "u2", "second", "u1")), notAnswer},
		{"answer id names the question, no question sent", noQuestion(stockBody(sid, chatID, "", "", "", "u2")), notAnswer},
		{"answer id names a finished answer", stockBody(sid, chatID, "a2", "u3", "third", "a1"), finished},
		{"question id names an answer", stockBody(sid, chatID, "a2", "a1", "third", "a3"), notQuestion},
		{"parent unknown", func() map[string]any {
			b := noQuestion(stockBody(sid, chatID, "", "", "", "a3"))
			b["parent_id"] = "nope"
			return b
		}(), noParent},
		{"parent unknown, in a chat not made yet", func() map[string]any {
			b := noQuestion(stockBody(sid, "not-yet", "", "", "", "a3"))
			b["parent_id"] = "user-msg"
			return b
		}(), noParent},
		{"parent an answer", func() map[string]any {
			b := noQuestion(stockBody(sid, chatID, "", "", "", "a3"))
			b["parent_id"] = "a1"
			return b
		}(), notUser},
		{"parent the answer itself", func() map[string]any {
			b := noQuestion(stockBody(sid, chatID, "", "", "", "a3"))
			b["parent_id"] = "a3"
			return b
		}(), selfParent},
		{"continued answer moved below its own reply", cont(stockBody(sid, chatID, "a1", "u2", "second", "a1")), otherParent},
		{"continued answer moved to another question", cont(stockBody(sid, chatID, "", "u1", "first", "a2")), otherParent},
		{"continued root answer moved below its own reply", func() map[string]any {
			b := cont(noQuestion(stockBody(sid, chatID, "", "", "", "r0")))
			b["parent_id"] = "q1"
			return b
		}(), answerCycle},
		{"question moved below its own answer", stockBody(sid, chatID, "a2", "u1", "first", "a3"), userCycle},
	} {
		r := s.Do("POST", "/api/chat/completions", tok, c.body)
		require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", c.name, r.Body)
		require.Equal(t, c.detail, r.Detail(), c.name)
		require.Equal(t, string(before), string(s.JSON("GET", "/api/v1/chats/"+chatID, tok, nil, http.StatusOK, nil).Body), c.name)
	}
	require.Len(t, up.Requests(), asked, "nothing reached the upstream")
	require.Equal(t, []string{chatID}, listChatIDs(t, s, tok), "no chat was made")
	var lst struct {
		Tasks []any `json:"tasks"`
	}
	s.JSON("GET", "/api/tasks", tok, nil, http.StatusOK, &lst)
	require.Empty(t, lst.Tasks)
	require.Len(t, eventsOf(t, step, 0, ""), heard, "the socket heard nothing")

	// What the stock frontend sends stays accepted: regenerate (a new
	// answer to a stored question, sent again), continue.
	startStock(t, s, tok, stockBody(sid, chatID, "a1", "u2", "second", "a2b"))
	waitInactive(t, step, 0, "a2b")
	startStock(t, s, tok, cont(stockBody(sid, chatID, "a1", "u2", "second", "a2")))
	require.Eventually(t, func() bool {
		s.JSON("GET", "/api/tasks", tok, nil, http.StatusOK, &lst)
		return len(lst.Tasks) == 0
	}, 30*time.Second, 20*time.Millisecond)
	c := getChat(t, s, tok, chatID)
	require.Equal(t, "u2", c.Chat.History.Messages["a2b"]["parentId"])
	require.Equal(t, []any{"a2", "a2b"}, c.Chat.History.Messages["u2"]["childrenIds"])
	require.Zero(t, s.InternalErrors())
}

// Deleting what a chat task writes into ends the task, as a stop does:
// the answer's message (DELETE …/messages/{mid}), or the chat. The
// upstream request is cancelled, the task has left the lists when the
// DELETE answers, and its final save does not bring the message back. A
// second task on an answer still being written is refused (409) and
// changes nothing. Not parallel: requireNoChatGoroutines.
func TestChatTaskEndsWhenDeleted(t *testing.T) {
	for _, b := range quiretest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			up := chattest.New(t)
			s, tok := stockServer(t, b, up.BaseURL)
			step := sockets(t, s, tok)
			sid := sids(t, step)[0]
			hold := func(body map[string]any) map[string]any { body["model"] = chattest.ModelHold; return body }
			running := func(chatID string) []string { return chatTaskIDs(s, tok, chatID) }

			// A second task on the answer being written.
			_, chatID := startStock(t, s, tok, hold(stockBody(sid, "", "", "u1", "first", "a1")))
			step("until 0 chat:completion a1")
			before := s.JSON("GET", "/api/v1/chats/"+chatID, tok, nil, http.StatusOK, nil).Body
			for _, body := range []map[string]any{
				stockBody(sid, chatID, "", "u1", "first", "a1"),
				func() map[string]any {
					b := stockBody(sid, chatID, "", "u1", "first", "a1")
					b["assistant_message_id"] = "a1"
					return b
				}(),
			} {
				r := s.Do("POST", "/api/chat/completions", tok, body)
				require.Equal(t, http.StatusConflict, r.Status, string(r.Body))
				require.Equal(t, "an answer is being written into id already; stop it first", r.Detail())
				require.Equal(t, string(before), string(s.JSON("GET", "/api/v1/chats/"+chatID, tok, nil, http.StatusOK, nil).Body))
			}
			require.Len(t, running(chatID), 1)

			// Its message deleted.
			s.JSON("DELETE", "/api/v1/chats/"+chatID+"/messages/a1", tok, nil, http.StatusOK, nil)
			require.Empty(t, running(chatID), "the task ended with the DELETE")
			up.WaitCancelled(t, chattest.ModelHold)
			c := getChat(t, s, tok, chatID)
			require.NotContains(t, c.Chat.History.Messages, "a1", "the answer is not saved back")
			require.Contains(t, c.Chat.History.Messages, "u1")

			// The chat deleted.
			startStock(t, s, tok, hold(stockBody(sid, chatID, "", "u1", "first", "a2")))
			step("until 0 chat:completion a2")
			s.JSON("DELETE", "/api/v1/chats/"+chatID, tok, nil, http.StatusOK, nil)
			require.Empty(t, running(chatID), "the task ended with the DELETE")
			up.WaitCancelled(t, chattest.ModelHold)
			s.JSON("GET", "/api/v1/chats/"+chatID, tok, nil, http.StatusNotFound, nil)

			requireNoChatGoroutines(t, s)
			require.Zero(t, s.InternalErrors())
		})
	}
}
