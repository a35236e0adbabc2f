package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/api"
	"github.com/quire/quire/chat/chattest"
	"github.com/quire/quire/quiretest"
	"github.com/quire/quire/server"
	"github.com/quire/quire/storage"
)

// answerMsg is a channel message with the meta of a model's answer.
type answerMsg struct {
	ID       string  `json:"id"`
	UserID   string  `json:"user_id"`
	ParentID *string `json:"parent_id"`
	Content  string  `json:"content"`
	Meta     struct {
		ModelID   string `json:"model_id"`
		ModelName string `json:"model_name"`
		Done      bool   `json:"done"`
		Error     string `json:"error"`
	} `json:"meta"`
}

// replies returns the thread's replies, oldest first (the root left out).
func replies(t *testing.T, s *quiretest.Server, tok, channelID, root string) []answerMsg {
	t.Helper()
	var l []answerMsg
	s.JSON("GET", chans+channelID+"/messages/"+root+"/thread", tok, nil, http.StatusOK, &l)
	var out []answerMsg
	for i := len(l) - 1; i >= 0; i-- {
		if l[i].ID != root {
			out = append(out, l[i])
		}
	}
	return out
}

// channelUpdates returns the message:update payloads socket i got for
// message mid, in order.
func channelUpdates(t *testing.T, step func(string) map[string]any, i int, mid string) []answerMsg {
	t.Helper()
	var out []answerMsg
	for _, e := range eventsOf(t, step, i, "") {
		if e.Name != "events:channel" || e.Payload.Data.Type != "message:update" || e.Payload.MessageID == nil || *e.Payload.MessageID != mid {
			continue
		}
		var m answerMsg
		require.NoError(t, json.Unmarshal(e.Payload.Data.Data, &m))
		out = append(out, m)
	}
	return out
}

// waitAnswer waits until socket i was told message mid is done and
// returns the updates it got.
func waitAnswer(t *testing.T, step func(string) map[string]any, i int, mid string) []answerMsg {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ups := channelUpdates(t, step, i, mid)
		if len(ups) > 0 && ups[len(ups)-1].Meta.Done {
			return ups
		}
		require.False(t, time.Now().After(deadline), "message %s never done on socket %d", mid, i)
		time.Sleep(20 * time.Millisecond)
	}
}

// chatTaskIDs is GET /api/tasks/chat/{chatID}'s task ids on s.
func chatTaskIDs(s *quiretest.Server, tok, chatID string) []string {
	var lst struct {
		TaskIDs []string `json:"task_ids"`
	}
	s.JSON("GET", "/api/tasks/chat/"+chatID, tok, nil, http.StatusOK, &lst)
	return lst.TaskIDs
}

// deleteTold reports whether socket 0 was told message:delete of deleted,
// and fails t if anything about reply reached it after that.
func deleteTold(t *testing.T, step func(string) map[string]any, what, deleted, reply string) bool {
	t.Helper()
	after := false
	for _, e := range eventsOf(t, step, 0, "") {
		if e.Name != "events:channel" || e.Payload.MessageID == nil {
			continue
		}
		if e.Payload.Data.Type == "message:delete" && *e.Payload.MessageID == deleted {
			after = true
			continue
		}
		if after && *e.Payload.MessageID == reply {
			t.Fatalf("%s: %s about the reply after its deletion", what, e.Payload.Data.Type)
		}
	}
	return after
}

// waitUpdate waits until socket i got a message:update for mid.
func waitUpdate(t *testing.T, step func(string) map[string]any, i int, mid string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(channelUpdates(t, step, i, mid)) == 0 {
		require.False(t, time.Now().After(deadline), "no update of %s on socket %d", mid, i)
		time.Sleep(20 * time.Millisecond)
	}
}

// A message mentioning a model as the frontend writes it gets the model's
// answer as a reply in its thread, posted at once by the asker with the
// model in meta, then streamed as message:update. With a long interval
// the 200 chunks come as two updates, the first chunk at once and the
// stored final answer: the updates are throttled, not one per chunk. The
// final content is whole and stored. A typed @model-id in the thread
// answers there too, with the thread (the model's earlier answer as its
// own turn) as the conversation.
func TestChannelAnswerStreams(t *testing.T) {
	t.Parallel()
	up := chattest.New(t, chattest.WithChunks(200))
	s, tok := chatServer(t, up.BaseURL, "", func(c *server.Config) { c.ChannelAnswerInterval = time.Hour })
	step := sockets(t, s, tok)
	ch := createChannel(s, tok, map[string]any{"name": "general"})
	require.Equal(t, map[string]any{"ok": true}, step("join 0")["ack"])

	asked := post(s, tok, ch.ID, map[string]any{"content": "<@M:ok|OK> count please"})
	rs := replies(t, s, tok, ch.ID, asked.ID)
	require.Len(t, rs, 1, "the reply is posted before the message's POST answers")
	reply := rs[0]
	require.Equal(t, asked.ID, *reply.ParentID)
	require.Equal(t, asked.UserID, reply.UserID)
	require.Equal(t, "ok", reply.Meta.ModelID)

	ups := waitAnswer(t, step, 0, reply.ID)
	want := numbers(0, 200)
	last := ups[len(ups)-1]
	require.Equal(t, want, last.Content)
	require.Empty(t, last.Meta.Error)
	require.Len(t, ups, 2, "200 chunks, throttled: the first at once, then the stored end")
	for i := 1; i < len(ups); i++ {
		require.GreaterOrEqual(t, len(ups[i].Content), len(ups[i-1].Content), "each update has the text so far")
	}
	stored := replies(t, s, tok, ch.ID, asked.ID)
	require.Len(t, stored, 1)
	require.Equal(t, want, stored[0].Content)
	require.True(t, stored[0].Meta.Done)
	require.Equal(t, []any{map[string]any{"role": "user", "content": "alice: @OK count please"}}, up.Requests()[0].Body["messages"])
	require.Equal(t, true, up.Requests()[0].Body["stream"])

	// The room was told the reply (message) and the thread's new count.
	var told, parent bool
	for _, e := range eventsOf(t, step, 0, "") {
		if e.Name == "events:channel" && e.Payload.MessageID != nil {
			if e.Payload.Data.Type == "message" && *e.Payload.MessageID == reply.ID {
				var m answerMsg
				require.NoError(t, json.Unmarshal(e.Payload.Data.Data, &m))
				require.Equal(t, "", m.Content, "posted empty")
				require.False(t, m.Meta.Done)
				require.Equal(t, "ok", m.Meta.ModelID)
				told = true
			}
			parent = parent || (e.Payload.Data.Type == "message:reply" && *e.Payload.MessageID == asked.ID)
		}
	}
	require.True(t, told, "message event of the reply")
	require.True(t, parent, "message:reply of the thread")

	// Typed, in the thread, with punctuation after it.
	again := post(s, tok, ch.ID, map[string]any{"content": "@ok, again", "parent_id": asked.ID})
	rs = replies(t, s, tok, ch.ID, asked.ID)
	require.Len(t, rs, 3)
	require.Equal(t, again.ID, rs[1].ID)
	second := rs[2]
	require.Equal(t, asked.ID, *second.ParentID, "the reply joins the thread")
	waitAnswer(t, step, 0, second.ID)
	require.Equal(t, want, replies(t, s, tok, ch.ID, asked.ID)[2].Content)
	require.Equal(t, []any{
		map[string]any{"role": "user", "content": "alice: @OK count please"},
		map[string]any{"role": "assistant", "content": want},
		map[string]any{"role": "user", "content": "alice: @ok, again"},
	}, up.Requests()[1].Body["messages"])

	// Two models at once: the second is sent the first's answer by name,
	// or nothing while that is still empty (held), and the other model's
	// answers as "ok: …", not as its own.
	post(s, tok, ch.ID, map[string]any{"content": "<@M:hold|H> @reason both", "parent_id": asked.ID})
	rs = replies(t, s, tok, ch.ID, asked.ID)
	require.Len(t, rs, 6)
	close(up.Release)
	for _, r := range rs[4:] {
		waitAnswer(t, step, 0, r.ID)
	}
	var reasonAsked any
	for _, r := range up.Requests() {
		if r.Body["model"] == chattest.ModelReason {
			reasonAsked = r.Body["messages"]
		}
	}
	require.Equal(t, []any{
		map[string]any{"role": "user", "content": "alice: @OK count please"},
		map[string]any{"role": "user", "content": "ok: " + want},
		map[string]any{"role": "user", "content": "alice: @ok, again"},
		map[string]any{"role": "user", "content": "ok: " + want},
		map[string]any{"role": "user", "content": "alice: @H @reason both"},
	}, reasonAsked)
	require.Zero(t, s.InternalErrors())
}

// Mentions that are not of a model start nothing: an account, an unknown
// id, an address. No reply, no upstream request, no update.
func TestChannelAnswerNotAModel(t *testing.T) {
	t.Parallel()
	up := chattest.New(t)
	s, tok := chatServer(t, up.BaseURL, "")
	bob := s.SignUp("Bob")
	step := sockets(t, s, tok)
	ch := createChannel(s, tok, map[string]any{"name": "general"})
	require.Equal(t, map[string]any{"ok": true}, step("join 0")["ack"])
	for _, content := range []string{"<@U:" + bob.ID + "|Bob> hi", "@bob hi", "@gpt-9 hi", "mail me at me@ok", "<@M:gpt-9|GPT> hi", "no mention"} {
		m := post(s, tok, ch.ID, map[string]any{"content": content})
		require.Empty(t, replies(t, s, tok, ch.ID, m.ID), content)
	}
	require.Empty(t, up.Requests())
	for _, e := range eventsOf(t, step, 0, "") {
		require.NotEqual(t, "message:update", e.Payload.Data.Type)
	}
	require.Zero(t, s.InternalErrors())
}

// An upstream fault ends the answer with the error's text in the message
// (after the text that came), stored, and meta.error; a fault before any
// text leaves only the error.
func TestChannelAnswerFaults(t *testing.T) {
	t.Parallel()
	up := chattest.New(t)
	s, tok := chatServer(t, up.BaseURL+";"+closingUpstream(t), "")
	step := sockets(t, s, tok)
	ch := createChannel(s, tok, map[string]any{"name": "general"})
	require.Equal(t, map[string]any{"ok": true}, step("join 0")["ack"])
	for _, c := range []struct{ model, content, err string }{
		{chattest.ModelFail500, "", "the model server answered 500: the GPU caught fire"},
		{"gone", "", "the model server could not be reached"},
		{chattest.ModelStreamError, "0 1 ", "the model server reported an error: the model is overloaded"},
		{chattest.ModelTruncate, "0 1 2 ", "the model server's answer ended early"},
	} {
		asked := post(s, tok, ch.ID, map[string]any{"content": "@" + c.model + " go"})
		reply := replies(t, s, tok, ch.ID, asked.ID)[0]
		last := waitAnswer(t, step, 0, reply.ID)
		want := "Error: " + c.err
		if c.content != "" {
			want = c.content + "\n\n" + want
		}
		require.Equal(t, want, last[len(last)-1].Content, c.model)
		require.Equal(t, c.err, last[len(last)-1].Meta.Error, c.model)
		stored := replies(t, s, tok, ch.ID, asked.ID)[0]
		require.Equal(t, want, stored.Content, c.model)
		require.True(t, stored.Meta.Done, c.model)
	}
	require.Zero(t, s.InternalErrors())
}

// An answer is a task of the account that asked: listed under chat_id
// channel:<id>, stopped by it (not by another account), and the text so
// far is stored, done, without an error. At shutdown a running answer
// ends (the upstream request is cancelled) and does not hold the stop.
func TestChannelAnswerStop(t *testing.T) {
	t.Parallel()
	up := chattest.New(t)
	s, tok := chatServer(t, up.BaseURL, "")
	bob := s.SignUp("Bob")
	step := sockets(t, s, tok)
	ch := createChannel(s, tok, map[string]any{"name": "general"})
	require.Equal(t, map[string]any{"ok": true}, step("join 0")["ack"])
	asked := post(s, tok, ch.ID, map[string]any{"content": "@hold tell me"})
	reply := replies(t, s, tok, ch.ID, asked.ID)[0]
	waitUpdate(t, step, 0, reply.ID) // the first chunk came; the upstream holds the rest

	ids := chatTaskIDs(s, tok, "channel:"+ch.ID)
	require.Len(t, ids, 1)
	require.Equal(t, http.StatusNotFound, s.Do("POST", "/api/tasks/stop/"+ids[0], bob.Token, nil).Status)
	s.JSON("POST", "/api/tasks/stop/"+ids[0], tok, nil, http.StatusOK, nil)
	up.WaitCancelled(t, chattest.ModelHold)
	last := waitAnswer(t, step, 0, reply.ID)
	require.Equal(t, "0 ", last[len(last)-1].Content)
	require.Empty(t, last[len(last)-1].Meta.Error)
	stored := replies(t, s, tok, ch.ID, asked.ID)[0]
	require.Equal(t, "0 ", stored.Content)
	require.True(t, stored.Meta.Done)

	// Shutdown.
	asked = post(s, tok, ch.ID, map[string]any{"content": "@hold again"})
	reply = replies(t, s, tok, ch.ID, asked.ID)[0]
	waitUpdate(t, step, 0, reply.ID)
	require.NoError(t, s.Server.Stop(context.Background()))
	up.WaitCancelled(t, chattest.ModelHold)
}

// A private channel's answer reaches its members only: a non-member whose
// socket joined its own channels hears nothing of it and cannot read it.
func TestChannelAnswerPrivate(t *testing.T) {
	t.Parallel()
	up := chattest.New(t)
	s, admin := chatServer(t, up.BaseURL, "")
	bob, carol := s.SignUp("Bob"), s.SignUp("Carol")
	step := sockets(t, s, admin, bob.Token, carol.Token)
	priv := createChannel(s, admin, map[string]any{"name": "secret", "is_private": true, "user_ids": []string{bob.ID}})
	for i := range 3 {
		require.Equal(t, map[string]any{"ok": true}, step(jsonStep("join", i))["ack"])
	}
	asked := post(s, bob.Token, priv.ID, map[string]any{"content": "@ok psst"})
	reply := replies(t, s, bob.Token, priv.ID, asked.ID)[0]
	for i := range 2 {
		last := waitAnswer(t, step, i, reply.ID)
		require.Equal(t, numbers(0, 5), last[len(last)-1].Content)
	}
	require.Empty(t, eventsOf(t, step, 2, ""), "carol heard nothing")
	s.JSON("GET", chans+priv.ID+"/messages/"+asked.ID+"/thread", carol.Token, nil, http.StatusForbidden, nil)
	require.Zero(t, s.InternalErrors())
}

func jsonStep(cmd string, i int) string {
	b, _ := json.Marshal(i)
	return cmd + " " + string(b)
}

// One message may ask several models (each once, at most three): each
// answers in its own reply.
func TestChannelAnswerSeveralModels(t *testing.T) {
	t.Parallel()
	up := chattest.New(t)
	s, tok := chatServer(t, up.BaseURL, "")
	step := sockets(t, s, tok)
	ch := createChannel(s, tok, map[string]any{"name": "general"})
	require.Equal(t, map[string]any{"ok": true}, step("join 0")["ack"])
	asked := post(s, tok, ch.ID, map[string]any{"content": "<@M:ok|OK> @reason @ok @stream-error @hold all of you"})
	rs := replies(t, s, tok, ch.ID, asked.ID)
	var models []string
	for _, r := range rs {
		models = append(models, r.Meta.ModelID)
		waitAnswer(t, step, 0, r.ID)
	}
	require.ElementsMatch(t, []string{"ok", "reason", "stream-error"}, models)
	require.Len(t, up.Requests(), 3, "@hold, the fourth, was not asked")
	require.Zero(t, s.InternalErrors())
}

// No goroutine is left behind by channel answers, whatever their end: a
// success, faults, a stop (as TestChatTaskLeavesNoGoroutine; not parallel,
// so that it sees only its own).
func TestChannelAnswerLeavesNoGoroutine(t *testing.T) {
	up := chattest.New(t)
	s, tok := chatServer(t, up.BaseURL+";"+closingUpstream(t), "", func(c *server.Config) { c.ChatIdleTimeout = 10 * time.Second })
	step := sockets(t, s, tok)
	ch := createChannel(s, tok, map[string]any{"name": "general"})
	require.Equal(t, map[string]any{"ok": true}, step("join 0")["ack"])
	for _, model := range []string{chattest.ModelOK, "gone", chattest.ModelFail500, chattest.ModelCut, chattest.ModelStreamError, chattest.ModelStall, chattest.ModelHold} {
		asked := post(s, tok, ch.ID, map[string]any{"content": "@" + model + " go"})
		reply := replies(t, s, tok, ch.ID, asked.ID)[0]
		if model == chattest.ModelHold {
			waitUpdate(t, step, 0, reply.ID)
			var lst struct {
				TaskIDs []string `json:"task_ids"`
			}
			s.JSON("POST", "/api/tasks/chat/channel:"+ch.ID+"/stop", tok, nil, http.StatusOK, &lst)
			require.Len(t, lst.TaskIDs, 1)
		}
		waitAnswer(t, step, 0, reply.ID)
	}

	requireNoChatGoroutines(t, s)
}

// An answer longer than a channel message may be ends with the error, and
// the stored message, error text included, stays within
// MaxMessageContentBytes, as every other message of the channel. (Read
// from the store: the socket helper reads lines of at most 64 KiB.)
func TestChannelAnswerTooLong(t *testing.T) {
	t.Parallel()
	up := chattest.New(t, chattest.WithChunks(20000)) // ~109 KB of text
	s, tok := chatServer(t, up.BaseURL, "", func(c *server.Config) { c.ChannelAnswerInterval = time.Hour })
	ch := createChannel(s, tok, map[string]any{"name": "general"})

	asked := post(s, tok, ch.ID, map[string]any{"content": "<@M:ok|OK> count please"})
	deadline := time.Now().Add(60 * time.Second)
	stored := replies(t, s, tok, ch.ID, asked.ID)[0]
	for !stored.Meta.Done {
		require.False(t, time.Now().After(deadline), "the answer never ended")
		time.Sleep(50 * time.Millisecond)
		stored = replies(t, s, tok, ch.ID, asked.ID)[0]
	}
	const errText = "the model's answer is longer than a channel message may be (64 KiB)"
	require.Equal(t, errText, stored.Meta.Error)
	require.True(t, strings.HasSuffix(stored.Content, "\n\nError: "+errText))
	require.True(t, strings.HasPrefix(stored.Content, "0 1 2 "))
	require.LessOrEqual(t, len(stored.Content), api.MaxMessageContentBytes)
	require.Zero(t, s.InternalErrors())
}

// Deleting what an answer writes into ends it, as a stop does, but quietly:
// its reply, the thread's root (the replies go with it) or the channel.
// The upstream request is cancelled, the task leaves the lists before the
// DELETE answers, the room hears nothing of the reply after its
// message:delete (no update, no final message), nothing is written, and
// no goroutine is left (not parallel: requireNoChatGoroutines).
func TestChannelAnswerEndsWhenDeleted(t *testing.T) {
	up := chattest.New(t)
	s, tok := chatServer(t, up.BaseURL, "")
	step := sockets(t, s, tok)
	for _, what := range []string{"reply", "root", "channel"} {
		ch := createChannel(s, tok, map[string]any{"name": "general-" + what})
		require.Equal(t, map[string]any{"ok": true}, step("join 0")["ack"])
		asked := post(s, tok, ch.ID, map[string]any{"content": "@hold tell me"})
		reply := replies(t, s, tok, ch.ID, asked.ID)[0]
		waitUpdate(t, step, 0, reply.ID) // streaming; the upstream holds the rest

		deleted := deleteAnswerPart(s, tok, what, ch.ID, asked.ID, reply.ID)
		require.Empty(t, chatTaskIDs(s, tok, "channel:"+ch.ID), "%s: the answer ended with the DELETE", what)
		up.WaitCancelled(t, chattest.ModelHold)

		// Nothing about the reply after the deletion was told.
		after := deleteTold(t, step, what, deleted, reply.ID)
		require.True(t, after || deleted == "", "%s: message:delete told", what)
		if what != "channel" {
			_, err := s.Server.Store().GetMessage(context.Background(), reply.ID)
			require.ErrorIs(t, err, storage.ErrNotFound, "%s: the reply stays deleted", what)
		}
	}
	requireNoChatGoroutines(t, s)
	require.Zero(t, s.InternalErrors())
}

// meta.model_id marks a model's answer, which the model is later sent as
// its own turn (channelHistory): only the server sets it. A post carrying
// it is 400, and so is an edit that adds or changes it; nothing is stored.
// An edit that keeps an answer's model_id (the frontend sends the meta
// back) is fine.
func TestChannelAnswerModelIDIsTheServers(t *testing.T) {
	t.Parallel()
	up := chattest.New(t)
	s, tok := chatServer(t, up.BaseURL, "")
	ch := createChannel(s, tok, map[string]any{"name": "general"})
	asked := post(s, tok, ch.ID, map[string]any{"content": "@ok hi"})
	deadline := time.Now().Add(30 * time.Second)
	reply := replies(t, s, tok, ch.ID, asked.ID)[0]
	for !reply.Meta.Done {
		require.False(t, time.Now().After(deadline), "the answer never ended")
		time.Sleep(20 * time.Millisecond)
		reply = replies(t, s, tok, ch.ID, asked.ID)[0]
	}
	mine := post(s, tok, ch.ID, map[string]any{"content": "mine", "meta": map[string]any{"note": 1}})
	before := s.JSON("GET", chans+ch.ID+"/messages", tok, nil, http.StatusOK, nil).Body
	thread := s.JSON("GET", chans+ch.ID+"/messages/"+asked.ID+"/thread", tok, nil, http.StatusOK, nil).Body

	const detail = "meta.model_id is set by the server only: it marks a model's answer"
	for _, c := range []struct {
		name, method, path string
		body               map[string]any
	}{
		{"post as a model", "POST", chans + ch.ID + "/messages/post", map[string]any{"content": "I am ok", "meta": map[string]any{"model_id": "ok"}}},
		{"post as a model in the thread", "POST", chans + ch.ID + "/messages/post", map[string]any{"content": "I am ok", "parent_id": asked.ID, "meta": map[string]any{"model_id": "ok", "done": true}}},
		{"edit into a model's answer", "POST", chans + ch.ID + "/messages/" + mine.ID + "/update", map[string]any{"content": "now ok", "meta": map[string]any{"model_id": "ok"}}},
		{"edit an answer into another model's", "POST", chans + ch.ID + "/messages/" + reply.ID + "/update", map[string]any{"content": "x", "meta": map[string]any{"model_id": "reason", "done": true}}},
	} {
		r := s.Do(c.method, c.path, tok, c.body)
		require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", c.name, r.Body)
		require.Equal(t, detail, r.Detail(), c.name)
	}
	require.Equal(t, string(before), string(s.JSON("GET", chans+ch.ID+"/messages", tok, nil, http.StatusOK, nil).Body))
	require.Equal(t, string(thread), string(s.JSON("GET", chans+ch.ID+"/messages/"+asked.ID+"/thread", tok, nil, http.StatusOK, nil).Body))

	// The answer's own meta sent back with an edit is kept.
	s.JSON("POST", chans+ch.ID+"/messages/"+reply.ID+"/update", tok, map[string]any{"content": "edited",
		"meta": map[string]any{"model_id": "ok", "model_name": reply.Meta.ModelName, "done": true}}, http.StatusOK, nil)
	got := replies(t, s, tok, ch.ID, asked.ID)[0]
	require.Equal(t, "edited", got.Content)
	require.Equal(t, "ok", got.Meta.ModelID)
	require.Zero(t, s.InternalErrors())
}

// deleteAnswerPart deletes, through s, what ends a channel answer: its
// reply, its thread root, or the whole channel. It returns the message id
// whose message:delete event the sockets get ("" for a channel).
func deleteAnswerPart(s *quiretest.Server, tok, what, channelID, rootID, replyID string) string {
	switch what {
	case "reply":
		s.JSON("DELETE", chans+channelID+"/messages/"+replyID+"/delete", tok, nil, http.StatusOK, nil)
		return replyID
	case "root":
		s.JSON("DELETE", chans+channelID+"/messages/"+rootID+"/delete", tok, nil, http.StatusOK, nil)
		return rootID
	}
	s.JSON("DELETE", chans+channelID+"/delete", tok, nil, http.StatusOK, nil)
	return ""
}
