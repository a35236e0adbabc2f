package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quire/quire/api"
	"github.com/quire/quire/auth"
	"github.com/quire/quire/storage"
	"github.com/quire/quire/storage/storagetest"
)

// testChatLimit is saveBundle's Config.MaxChatBytes: small, so that
// chats at the limit are quick to build and check.
const testChatLimit = 64 << 10

// saveBundle is an API on a real store, so that the test can call the
// task code's save directly and the REST routes over HTTP.
type saveBundle struct {
	t          testing.TB
	api        *api.API
	store      storage.Store
	url        string
	ada, bob   *storage.User
	adaToken   string
	ctx        context.Context
	httpClient *http.Client
}

// openStore opens a store, closed when the test ends: SQLite in a
// temporary directory, or a fresh PostgreSQL database if postgres.
func openStore(t testing.TB, postgres bool) storage.Store {
	t.Helper()
	dbURL := ""
	if postgres {
		dbURL = storagetest.NewPostgres(t)
	}
	store, err := storage.Open(context.Background(), dbURL, t.TempDir(), slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	return store
}

func newSaveBundle(t testing.TB, postgres bool) *saveBundle {
	return newSaveBundleLimit(t, postgres, testChatLimit)
}

// newSaveBundleLimit is newSaveBundle with Config.MaxChatBytes limit.
func newSaveBundleLimit(t testing.TB, postgres bool, limit int64) *saveBundle {
	ctx := context.Background()
	store := openStore(t, postgres)
	a, err := auth.NewAuthenticator(auth.Config{Store: store, Secret: []byte("chat-save-test-secret"), Password: auth.LowCostParams})
	require.NoError(t, err)
	rest, err := api.New(api.Config{Store: store, Auth: a, MaxChatBytes: limit})
	require.NoError(t, err)
	mux := http.NewServeMux()
	rest.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	b := &saveBundle{t: t, api: rest, store: store, url: srv.URL, ctx: ctx, httpClient: srv.Client()}
	for _, name := range []string{"ada", "bob"} {
		u := &storage.User{Email: name + "@example.com", Name: name, Role: storage.RoleUser, SessionStamp: auth.NewSessionStamp()}
		require.NoError(t, store.CreateUser(ctx, u))
		if name == "ada" {
			b.ada = u
			b.adaToken, err = a.Issue(ctx, u)
			require.NoError(t, err)
		} else {
			b.bob = u
		}
	}
	return b
}

// do sends a REST request as Ada and decodes a 200 answer into out; a
// []byte body goes as it is, any other is encoded.
func (b *saveBundle) do(method, path string, body any, out any) int {
	b.t.Helper()
	var rd io.Reader
	if raw, ok := body.([]byte); ok {
		rd = bytes.NewReader(raw)
	} else if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(b.t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.url+path, rd)
	require.NoError(b.t, err)
	req.Header.Set("Authorization", "Bearer "+b.adaToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.httpClient.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	if resp.StatusCode == http.StatusOK && out != nil {
		require.NoError(b.t, json.Unmarshal(raw, out), "%s", raw)
	}
	return resp.StatusCode
}

func (b *saveBundle) get(id string) chatResp {
	b.t.Helper()
	var c chatResp
	require.Equal(b.t, http.StatusOK, b.do("GET", chatsPath+id, nil, &c))
	return c
}

func (b *saveBundle) save(chatID, messageID string, m api.AssistantMessage) error {
	return api.SaveAssistantMessage(b.api, b.ctx, b.ada.ID, chatID, messageID, m)
}

func eachStore(t *testing.T, fn func(t *testing.T, b *saveBundle)) {
	for _, pg := range []bool{false, true} {
		t.Run(map[bool]string{false: "sqlite", true: "postgres"}[pg], func(t *testing.T) {
			t.Parallel()
			fn(t, newSaveBundle(t, pg))
		})
	}
}

func chatMessage(c chatResp, id string) map[string]any {
	msgs, _ := history(c)
	m, _ := msgs[id].(map[string]any)
	return m
}

func listIDs(c chatResp) []string {
	var out []string
	for _, m := range c.Chat["messages"].([]any) {
		out = append(out, m.(map[string]any)["id"].(string))
	}
	return out
}

// TestSaveAssistantMessage: the task code's save fills the frontend's
// placeholder (history and messages list alike), records errors, creates a
// missing answer under its parent, leaves temporary chats alone, and
// refuses chats that are unknown or someone else's, changing nothing.
func TestSaveAssistantMessage(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b *saveBundle) {
		var c chatResp
		require.Equal(t, http.StatusOK, b.do("POST", chatsPath+"new", map[string]any{"chat": frontendChat("Ask")}, &c))
		before := chatMessage(c, "a1")

		require.NoError(t, b.save(c.ID, "a1", api.AssistantMessage{Content: "hello there", Done: true, Model: "m9", ParentID: "u1"}))
		got := b.get(c.ID)
		a1 := chatMessage(got, "a1")
		require.Equal(t, "hello there", a1["content"])
		require.Equal(t, true, a1["done"])
		require.Equal(t, "assistant", a1["role"])
		require.Equal(t, "m9", a1["model"])
		require.Equal(t, "u1", a1["parentId"])
		require.Equal(t, before["timestamp"], a1["timestamp"], "other fields stay")
		require.Nil(t, a1["error"])
		require.Equal(t, chatMessage(c, "u1"), chatMessage(got, "u1"), "the question is untouched")
		_, cur := history(got)
		require.Equal(t, "a1", cur)
		require.Equal(t, []string{"u1", "a1"}, listIDs(got))
		require.Equal(t, a1, got.Chat["messages"].([]any)[1], "the list's entry matches history")
		require.Equal(t, c.Chat["models"], got.Chat["models"])
		require.GreaterOrEqual(t, got.UpdatedAt, c.UpdatedAt)

		// An error is stored as the frontend shows it; NUL is dropped, so
		// the frontend can save the chat back.
		require.NoError(t, b.save(c.ID, "a1", api.AssistantMessage{Content: "part\x00ial", Done: true, Error: "upstream failed"}))
		got = b.get(c.ID)
		a1 = chatMessage(got, "a1")
		require.Equal(t, map[string]any{"content": "upstream failed"}, a1["error"])
		require.Equal(t, "partial", a1["content"])
		require.Equal(t, "m9", a1["model"], "an empty Model leaves the stored one")
		require.Equal(t, http.StatusOK, b.do("POST", chatsPath+c.ID, map[string]any{"chat": got.Chat}, nil))

		// A missing answer (the frontend's save not in yet) is created
		// under its parent and becomes the current message.
		require.NoError(t, b.save(c.ID, "a2", api.AssistantMessage{Content: "again", Done: true, Model: "m1", ParentID: "u1"}))
		got = b.get(c.ID)
		a2 := chatMessage(got, "a2")
		require.Equal(t, "a2", a2["id"])
		require.Equal(t, "u1", a2["parentId"])
		require.Equal(t, []any{}, a2["childrenIds"])
		require.Equal(t, "again", a2["content"])
		require.NotNil(t, a2["timestamp"])
		require.Equal(t, []any{"a1", "a2"}, chatMessage(got, "u1")["childrenIds"])
		_, cur = history(got)
		require.Equal(t, "a2", cur)
		require.Equal(t, []string{"u1", "a2"}, listIDs(got), "the list follows the current message")

		// A chat without history or list gets a history, and no list.
		var bare chatResp
		require.Equal(t, http.StatusOK, b.do("POST", chatsPath+"new", map[string]any{"chat": map[string]any{"title": "bare"}}, &bare))
		require.NoError(t, b.save(bare.ID, "x1", api.AssistantMessage{Content: "hi", Done: false}))
		got = b.get(bare.ID)
		require.Equal(t, "hi", chatMessage(got, "x1")["content"])
		require.Equal(t, false, chatMessage(got, "x1")["done"])
		require.NotContains(t, got.Chat, "messages")

		// Temporary chats are the browser's; unknown or foreign ones are
		// not found, and nothing changes.
		snap := b.get(c.ID)
		for _, id := range []string{"local:abc", "temporary:abc", "channel:abc"} {
			require.NoError(t, b.save(id, "a1", api.AssistantMessage{Content: "x", Done: true}), id)
		}
		require.ErrorIs(t, b.save("no-such-chat", "a1", api.AssistantMessage{Content: "x", Done: true}), storage.ErrNotFound)
		require.ErrorIs(t, b.save("", "a1", api.AssistantMessage{Content: "x", Done: true}), storage.ErrNotFound)
		err := api.SaveAssistantMessage(b.api, b.ctx, b.bob.ID, c.ID, "a1", api.AssistantMessage{Content: "stolen", Done: true})
		require.ErrorIs(t, err, storage.ErrNotFound, "Bob's task cannot write Ada's chat")
		err = b.save(c.ID, "", api.AssistantMessage{Content: "x", Done: true})
		require.Error(t, err)
		require.False(t, errors.Is(err, storage.ErrNotFound), "a bad message id is not an unknown chat")
		require.Equal(t, snap, b.get(c.ID))

		// An answer, or an update, that would grow the chat past the limit
		// is refused whole.
		var big chatResp
		require.Equal(t, http.StatusOK, b.do("POST", chatsPath+"new", map[string]any{"chat": map[string]any{"blob": strings.Repeat("b", testChatLimit-100)}}, &big))
		err = b.save(big.ID, "a1", api.AssistantMessage{Content: strings.Repeat("c", 200), Done: true})
		require.ErrorContains(t, err, "larger than")
		require.Equal(t, http.StatusRequestEntityTooLarge, b.do("POST", chatsPath+big.ID, map[string]any{"chat": map[string]any{"more": strings.Repeat("m", 200)}}, nil))
		require.Equal(t, http.StatusRequestEntityTooLarge, b.do("POST", chatsPath+"new", map[string]any{"chat": map[string]any{"blob": strings.Repeat("b", testChatLimit)}}, nil))
		require.Equal(t, big, b.get(big.ID))
	})
}

// TestSaveAssistantMessageRacesUpdates: answers saved while the frontend
// posts stale copies of the chat (with its own new keys) all survive, and
// so do the frontend's keys: every write happens on the row as the last
// commit left it, and the merge keeps messages the writer did not know.
func TestSaveAssistantMessageRacesUpdates(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b *saveBundle) {
		var c chatResp
		require.Equal(t, http.StatusOK, b.do("POST", chatsPath+"new", map[string]any{"chat": frontendChat("Race")}, &c))
		require.NoError(t, b.save(c.ID, "a1", api.AssistantMessage{Content: "first", Done: true}))
		const n = 8
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				err := b.save(c.ID, fmt.Sprint("r", i), api.AssistantMessage{Content: fmt.Sprint("answer ", i), Done: true, ParentID: "u1"})
				assert.NoError(t, err)
			})
			wg.Go(func() {
				stale := frontendChat("Race") // a1 unfinished, no r*
				stale[fmt.Sprint("k", i)] = i
				assert.Equal(t, http.StatusOK, b.do("POST", chatsPath+c.ID, map[string]any{"chat": stale}, nil))
			})
		}
		wg.Wait()
		got := b.get(c.ID)
		children := chatMessage(got, "u1")["childrenIds"].([]any)
		require.Len(t, children, n+1, "%v", children)
		for i := range n {
			require.Equal(t, fmt.Sprint("answer ", i), chatMessage(got, fmt.Sprint("r", i))["content"])
			require.Contains(t, children, fmt.Sprint("r", i))
			require.EqualValues(t, i, got.Chat[fmt.Sprint("k", i)])
		}
		require.Equal(t, "first", chatMessage(got, "a1")["content"], "no stale placeholder undid the answer")
	})
}
