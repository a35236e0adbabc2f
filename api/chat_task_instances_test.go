package api_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/chat/chattest"
	"github.com/quire/quire/internal/redistest"
	"github.com/quire/quire/quiretest"
	"github.com/quire/quire/server"
	"github.com/quire/quire/storage"
	"github.com/quire/quire/storage/storagetest"
)

// twoChatInstances: two servers on one PostgreSQL database and one Redis
// prefix (behind one address without sticky sessions, as the README
// says), with upstream up; alice (the admin) signed up.
func twoChatInstances(t *testing.T, up *chattest.Upstream) (a, b *quiretest.Server, tok string) {
	t.Helper()
	redisURL := redistest.URL(t)
	db := storagetest.NewPostgres(t)
	prefix := redistest.Prefix(t, redistest.Client(t))
	shared := quiretest.WithConfig(func(c *server.Config) {
		c.RedisURL, c.RedisPrefix, c.OpenAIBaseURLs = redisURL, prefix, up.BaseURL
	})
	a = quiretest.New(t, quiretest.WithDatabaseURL(db), shared)
	b = quiretest.New(t, quiretest.WithDatabaseURL(db), shared)
	return a, b, a.SignUp("alice").Token
}

// A chat task started on instance A is listed by B, refused a second
// writer by B, stopped through B (by id and by the stop button) once it
// has saved and told its end, and ended by deletions made on B; another
// account sees none of it and gets 404, as for an unknown task.
func TestChatTaskAcrossInstances(t *testing.T) {
	// Not parallel: requireNoChatGoroutines counts the process's.
	up := chattest.New(t)
	a, b, tok := twoChatInstances(t, up)
	carol := b.SignUp("Carol")
	step := sockets(t, a, tok)
	sid := sids(t, step)[0]
	hold := func(body map[string]any) map[string]any { body["model"] = chattest.ModelHold; return body }
	listed := func(s *quiretest.Server, tok string) []string {
		var lst struct {
			Tasks []struct {
				ID        string `json:"id"`
				ChatID    string `json:"chat_id"`
				MessageID string `json:"message_id"`
				Model     string `json:"model"`
			} `json:"tasks"`
		}
		s.JSON("GET", "/api/tasks", tok, nil, http.StatusOK, &lst)
		var out []string
		for _, t := range lst.Tasks {
			out = append(out, t.ID+" "+t.ChatID+" "+t.MessageID+" "+t.Model)
		}
		return out
	}

	id, chatID := startStock(t, a, tok, hold(stockBody(sid, "", "", "u1", "first", "a1")))
	step("until 0 chat:completion a1")
	for _, s := range []*quiretest.Server{a, b} {
		require.Equal(t, []string{id + " " + chatID + " a1 " + chattest.ModelHold}, listed(s, tok))
		require.Equal(t, []string{id}, chatTaskIDs(s, tok, chatID))
		require.Empty(t, listed(s, carol.Token))
		require.Empty(t, chatTaskIDs(s, carol.Token, chatID))
	}

	// B refuses a second writer of the answer, and stores nothing.
	before := b.JSON("GET", "/api/v1/chats/"+chatID, tok, nil, http.StatusOK, nil).Body
	r := b.Do("POST", "/api/chat/completions", tok, stockBody(sid, chatID, "", "u1", "first", "a1"))
	require.Equal(t, http.StatusConflict, r.Status, string(r.Body))
	require.Equal(t, string(before), string(b.JSON("GET", "/api/v1/chats/"+chatID, tok, nil, http.StatusOK, nil).Body))

	// Bad input on B: another account's task and unknown ids are 404.
	for _, path := range []string{"/api/tasks/stop/" + id, "/api/tasks/stop/no-such-task"} {
		require.Equal(t, http.StatusNotFound, b.Do("POST", path, carol.Token, nil).Status, path)
	}
	require.Equal(t, http.StatusNotFound, b.Do("POST", "/api/tasks/stop/no-such-task", tok, nil).Status)
	var stopped struct {
		TaskIDs []string `json:"task_ids"`
	}
	b.JSON("POST", "/api/tasks/chat/"+chatID+"/stop", carol.Token, nil, http.StatusOK, &stopped)
	require.Empty(t, stopped.TaskIDs)
	b.JSON("POST", "/api/tasks/chat/no-such-chat/stop", tok, nil, http.StatusOK, &stopped)
	require.Empty(t, stopped.TaskIDs)
	require.Equal(t, []string{id}, chatTaskIDs(a, tok, chatID), "still running")

	// Stopped through B: it answers once A's task saved what it had.
	r = b.JSON("POST", "/api/tasks/stop/"+id, tok, nil, http.StatusOK, nil)
	require.Contains(t, string(r.Body), `"status":true`)
	for _, s := range []*quiretest.Server{a, b} {
		require.Empty(t, chatTaskIDs(s, tok, chatID))
	}
	ans := getChat(t, b, tok, chatID).Chat.History.Messages["a1"]
	require.Equal(t, true, ans["done"], "the stop answered before the answer was saved")
	require.Equal(t, "0 ", ans["content"])
	up.WaitCancelled(t, chattest.ModelHold)
	step("until 0 chat:tasks:cancel a1")
	require.Equal(t, http.StatusNotFound, b.Do("POST", "/api/tasks/stop/"+id, tok, nil).Status, "a finished task is unknown")

	// The stop button, on B.
	id2, _ := startStock(t, a, tok, hold(stockBody(sid, chatID, "", "u2", "second", "a2")))
	step("until 0 chat:completion a2")
	b.JSON("POST", "/api/tasks/chat/"+chatID+"/stop", tok, nil, http.StatusOK, &stopped)
	require.Equal(t, []string{id2}, stopped.TaskIDs)
	require.Empty(t, chatTaskIDs(a, tok, chatID))
	up.WaitCancelled(t, chattest.ModelHold)

	// Its message deleted on B.
	startStock(t, a, tok, hold(stockBody(sid, chatID, "", "u3", "third", "a3")))
	step("until 0 chat:completion a3")
	b.JSON("DELETE", "/api/v1/chats/"+chatID+"/messages/a3", tok, nil, http.StatusOK, nil)
	require.Empty(t, chatTaskIDs(a, tok, chatID), "the task ended with the DELETE")
	up.WaitCancelled(t, chattest.ModelHold)
	require.NotContains(t, getChat(t, a, tok, chatID).Chat.History.Messages, "a3", "the answer is not saved back")

	// The chat deleted on B.
	startStock(t, a, tok, hold(stockBody(sid, chatID, "", "u4", "fourth", "a4")))
	step("until 0 chat:completion a4")
	b.JSON("DELETE", "/api/v1/chats/"+chatID, tok, nil, http.StatusOK, nil)
	require.Empty(t, chatTaskIDs(a, tok, chatID), "the task ended with the DELETE")
	up.WaitCancelled(t, chattest.ModelHold)
	a.JSON("GET", "/api/v1/chats/"+chatID, tok, nil, http.StatusNotFound, nil)

	for _, s := range []*quiretest.Server{a, b} {
		s.Client.CloseIdleConnections() // requireNoChatGoroutines closes one server's
		s.Server.Chat().CloseIdleConnections()
	}
	for _, s := range []*quiretest.Server{a, b} {
		requireNoChatGoroutines(t, s)
		require.Zero(t, s.InternalErrors())
	}
}

// Two starts of one answer at once, one on each instance or both on one:
// one task, the other request 409.
func TestChatTaskStartRaceAcrossInstances(t *testing.T) {
	t.Parallel()
	up := chattest.New(t)
	a, b, tok := twoChatInstances(t, up)
	step := sockets(t, a, tok)
	sid := sids(t, step)[0]
	hold := func(body map[string]any) map[string]any { body["model"] = chattest.ModelHold; return body }
	_, chatID := startStock(t, a, tok, stockBody(sid, "", "", "u1", "first", "a1"))
	// a1 has ended and left the lists (its chat:active false comes just
	// before): each round's stop must find that round's task alone.
	waitInactive(t, step, 0, "a1")
	require.Eventually(t, func() bool { return len(chatTaskIDs(b, tok, chatID)) == 0 }, 30*time.Second, 20*time.Millisecond)
	for round, pair := range [][2]*quiretest.Server{{a, b}, {a, a}, {b, a}, {b, b}} {
		answer := fmt.Sprintf("b%d", round)
		var wg sync.WaitGroup
		status := make(chan int, 2)
		for _, s := range pair {
			wg.Add(1)
			go func() {
				defer wg.Done()
				status <- s.Do("POST", "/api/chat/completions", tok, hold(stockBody(sid, chatID, "", "q"+answer, "again", answer))).Status
			}()
		}
		wg.Wait()
		close(status)
		got := map[int]int{}
		for st := range status {
			got[st]++
		}
		require.Equal(t, map[int]int{http.StatusOK: 1, http.StatusConflict: 1}, got, "round %d", round)
		// The upstream has the request (its first chunk came): a stop
		// before that would rightly never send it, and nothing would be
		// cancelled to wait for.
		step("until 0 chat:completion " + answer)
		var lst struct {
			TaskIDs []string `json:"task_ids"`
		}
		b.JSON("POST", "/api/tasks/chat/"+chatID+"/stop", tok, nil, http.StatusOK, &lst)
		require.Len(t, lst.TaskIDs, 1)
		up.WaitCancelled(t, chattest.ModelHold)
	}
}

// A channel answer running on A ends when its reply, its thread's root or
// its channel is deleted through B, and nothing about the reply reaches
// the room after its message:delete.
func TestChannelAnswerEndsWhenDeletedOnAnotherInstance(t *testing.T) {
	t.Parallel()
	up := chattest.New(t)
	a, b, tok := twoChatInstances(t, up)
	step := sockets(t, a, tok)
	for _, what := range []string{"reply", "root", "channel"} {
		ch := createChannel(a, tok, map[string]any{"name": "general-" + what})
		require.Equal(t, map[string]any{"ok": true}, step("join 0")["ack"])
		asked := post(a, tok, ch.ID, map[string]any{"content": "@hold tell me"})
		reply := replies(t, a, tok, ch.ID, asked.ID)[0]
		waitUpdate(t, step, 0, reply.ID) // streaming on A; the upstream holds the rest

		deleted := deleteAnswerPart(b, tok, what, ch.ID, asked.ID, reply.ID)
		require.Empty(t, chatTaskIDs(a, tok, "channel:"+ch.ID), "%s: the answer ended with the DELETE", what)
		up.WaitCancelled(t, chattest.ModelHold)

		// B's message:delete reaches A's socket through Redis: wait for it.
		deadline := time.Now().Add(30 * time.Second)
		for deleted != "" && !told(eventsOf(t, step, 0, ""), deleted) {
			require.False(t, time.Now().After(deadline), "%s: message:delete never told", what)
			time.Sleep(20 * time.Millisecond)
		}
		after := deleteTold(t, step, what, deleted, reply.ID)
		if what != "channel" {
			require.True(t, after, "%s: message:delete told", what)
			_, err := a.Server.Store().GetMessage(context.Background(), reply.ID)
			require.ErrorIs(t, err, storage.ErrNotFound, "%s: the reply stays deleted", what)
		}
	}
	require.Zero(t, a.InternalErrors())
	require.Zero(t, b.InternalErrors())
}

// told: evs hold the channel's message:delete of mid.
func told(evs []sockEvent, mid string) bool {
	for _, e := range evs {
		if e.Name == "events:channel" && e.Payload.MessageID != nil && *e.Payload.MessageID == mid && e.Payload.Data.Type == "message:delete" {
			return true
		}
	}
	return false
}
