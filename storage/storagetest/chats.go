package storagetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quire/quire/storage"
)

// Chats: saved AI conversations, their listing, locked updates and read
// positions.

func testChats(t *testing.T, b *bundle) {
	t.Run("CreateAndGet", func(t *testing.T) { t.Parallel(); testCreateChat(t, b) })
	t.Run("CreateMany", func(t *testing.T) { t.Parallel(); testCreateChats(t, b) })
	t.Run("List", func(t *testing.T) { t.Parallel(); testListChats(t, b) })
	t.Run("Update", func(t *testing.T) { t.Parallel(); testUpdateChat(t, b) })
	t.Run("ConcurrentUpdates", func(t *testing.T) { t.Parallel(); testConcurrentChatUpdates(t, b) })
	t.Run("LastReadAt", func(t *testing.T) { t.Parallel(); testChatLastReadAt(t, b) })
	t.Run("Delete", func(t *testing.T) { t.Parallel(); testDeleteChat(t, b) })
}

// newChat stores a chat updated at a given time, so that order does not
// depend on the clock.
func newChat(t testing.TB, s storage.Store, userID, title string, at int64) *storage.Chat {
	t.Helper()
	c := &storage.Chat{UserID: userID, Title: title, Chat: json.RawMessage(`{"title":"` + title + `"}`), CreatedAt: at, UpdatedAt: at}
	require.NoError(t, s.CreateChat(context.Background(), c))
	return c
}

func testCreateChat(t *testing.T, b *bundle) {
	ctx, s := context.Background(), b.store
	u := newUser(t, s, storage.RoleUser)

	// Every field round-trips, the conversation byte for byte.
	body := json.RawMessage(`{"title":"Ünïcode ✓","models":["m"],"history":{"messages":{"a":{"id":"a","role":"user","content":"hi\n"}},"currentId":"a"},"n":1.50}`)
	full := &storage.Chat{ID: newID(), UserID: u.ID, Title: "Ünïcode ✓", Chat: body, Meta: json.RawMessage(`{"tags":["x"]}`),
		Pinned: true, Archived: true, FolderID: "folder-1", ShareID: "share-" + newID(), LastReadAt: 1700000005,
		CreatedAt: 1700000001, UpdatedAt: 1700000002}
	want := *full
	require.NoError(t, s.CreateChat(ctx, full))
	require.Equal(t, want, *full, "nothing given was rewritten")
	got, err := s.GetChat(ctx, full.ID)
	require.NoError(t, err)
	require.Equal(t, want, *got)

	// Defaults: an id, now, empty objects, no folder, share or read time.
	c := &storage.Chat{UserID: u.ID, Title: "New Chat"}
	require.NoError(t, s.CreateChat(ctx, c))
	require.NotEmpty(t, c.ID)
	require.Positive(t, c.CreatedAt)
	require.Less(t, c.CreatedAt, int64(1e11), "seconds, not milli- or nanoseconds")
	require.Equal(t, c.CreatedAt, c.UpdatedAt)
	got, err = s.GetChat(ctx, c.ID)
	require.NoError(t, err)
	require.JSONEq(t, `{}`, string(got.Chat))
	require.JSONEq(t, `{}`, string(got.Meta))
	require.Equal(t, *c, *got)
	require.Zero(t, got.LastReadAt)
	require.Empty(t, got.FolderID+got.ShareID)

	// A taken id, an owner that is no account, a taken share id.
	dup := &storage.Chat{ID: full.ID, UserID: u.ID, Title: "dup"}
	require.ErrorIs(t, s.CreateChat(ctx, dup), storage.ErrConflict)
	require.ErrorIs(t, s.CreateChat(ctx, &storage.Chat{UserID: "no-such-account", Title: "x"}), storage.ErrNotFound)
	require.ErrorIs(t, s.CreateChat(ctx, &storage.Chat{UserID: u.ID, Title: "x", ShareID: full.ShareID}), storage.ErrConflict)
	got, err = s.GetChat(ctx, full.ID)
	require.NoError(t, err)
	require.Equal(t, want, *got, "the refused duplicate changed nothing")

	_, err = s.GetChat(ctx, "no-such-chat")
	require.ErrorIs(t, err, storage.ErrNotFound)
}

// testCreateChats: a batch is stored whole, with CreateChat's defaults,
// or not at all when one of its chats is refused.
func testCreateChats(t *testing.T, b *bundle) {
	ctx, s := context.Background(), b.store
	u := newUser(t, s, storage.RoleUser)
	require.NoError(t, s.CreateChats(ctx, nil))

	given := &storage.Chat{ID: newID(), UserID: u.ID, Title: "given", Chat: json.RawMessage(`{"title":"given"}`),
		Meta: json.RawMessage(`{"tags":["x"]}`), Pinned: true, LastReadAt: 1700000009, CreatedAt: 1700000001, UpdatedAt: 1700000002}
	want := *given
	bare := &storage.Chat{UserID: u.ID, Title: "bare"}
	require.NoError(t, s.CreateChats(ctx, []*storage.Chat{given, bare}))
	require.Equal(t, want, *given, "nothing given was rewritten")
	require.NotEmpty(t, bare.ID)
	require.Positive(t, bare.CreatedAt)
	require.Equal(t, bare.CreatedAt, bare.UpdatedAt)
	for _, c := range []*storage.Chat{given, bare} {
		got, err := s.GetChat(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, *c, *got)
	}

	// A taken id or an owner that is no account, last in the batch: the
	// chats before it are not stored either.
	for bad, want := range map[*storage.Chat]error{
		{ID: given.ID, UserID: u.ID, Title: "dup"}: storage.ErrConflict,
		{UserID: "no-such-account", Title: "x"}:    storage.ErrNotFound,
	} {
		first := &storage.Chat{ID: newID(), UserID: u.ID, Title: "first"}
		require.ErrorIs(t, s.CreateChats(ctx, []*storage.Chat{first, bad}), want)
		_, err := s.GetChat(ctx, first.ID)
		require.ErrorIs(t, err, storage.ErrNotFound, "the batch's first chat was rolled back")
	}
	list, err := s.ListChats(ctx, storage.ListChatsOptions{UserID: u.ID})
	require.NoError(t, err)
	require.Len(t, list, 2)
	got, err := s.GetChat(ctx, given.ID)
	require.NoError(t, err)
	require.Equal(t, want, *got, "the refused duplicate changed nothing")
}

func testListChats(t *testing.T, b *bundle) {
	ctx, s := context.Background(), b.store
	u, other := newUser(t, s, storage.RoleUser), newUser(t, s, storage.RoleUser)
	c1 := newChat(t, s, u.ID, "one", 100)
	c2 := newChat(t, s, u.ID, "two", 300)
	c3 := newChat(t, s, u.ID, "three", 200)
	tie := newChat(t, s, u.ID, "tie", 200) // same time as c3: id breaks the tie
	newChat(t, s, other.ID, "someone else's", 250)
	pinned := newChat(t, s, u.ID, "pinned", 50)
	_, err := s.UpdateChat(ctx, pinned.ID, func(c *storage.Chat) error { c.Pinned = true; return nil })
	require.NoError(t, err)
	archived := newChat(t, s, u.ID, "archived", 400)
	_, err = s.UpdateChat(ctx, archived.ID, func(c *storage.Chat) error { c.Archived = true; return nil })
	require.NoError(t, err)
	require.NoError(t, s.SetChatLastReadAt(ctx, c2.ID, u.ID, 350))

	ids := func(ts []storage.ChatTitle) []string {
		out := make([]string, len(ts))
		for i, t := range ts {
			out[i] = t.ID
		}
		return out
	}
	middle := []string{c3.ID, tie.ID}
	if tie.ID > c3.ID {
		middle = []string{tie.ID, c3.ID}
	}
	all, err := s.ListChats(ctx, storage.ListChatsOptions{UserID: u.ID})
	require.NoError(t, err)
	require.Equal(t, append(append([]string{c2.ID}, middle...), c1.ID, pinned.ID), ids(all), "newest first, the owner's, not archived")
	require.Equal(t, storage.ChatTitle{ID: c2.ID, Title: "two", LastReadAt: 350, CreatedAt: 300, UpdatedAt: 300}, all[0])
	require.True(t, all[4].Pinned)

	unpinned, err := s.ListChats(ctx, storage.ListChatsOptions{UserID: u.ID, Pinned: new(false)})
	require.NoError(t, err)
	require.Equal(t, append(append([]string{c2.ID}, middle...), c1.ID), ids(unpinned))
	onlyPinned, err := s.ListChats(ctx, storage.ListChatsOptions{UserID: u.ID, Pinned: new(true)})
	require.NoError(t, err)
	require.Equal(t, []string{pinned.ID}, ids(onlyPinned))
	arch, err := s.ListChats(ctx, storage.ListChatsOptions{UserID: u.ID, Archived: true})
	require.NoError(t, err)
	require.Equal(t, []string{archived.ID}, ids(arch))
	require.True(t, arch[0].Archived)

	page, err := s.ListChats(ctx, storage.ListChatsOptions{UserID: u.ID, Skip: 1, Limit: 2})
	require.NoError(t, err)
	require.Equal(t, middle, ids(page))
	page, err = s.ListChats(ctx, storage.ListChatsOptions{UserID: u.ID, Skip: 5, Limit: 2})
	require.NoError(t, err)
	require.Empty(t, page)
	require.NotNil(t, page, "an empty page is an empty list")

	none, err := s.ListChats(ctx, storage.ListChatsOptions{UserID: "no-such-account"})
	require.NoError(t, err)
	require.Empty(t, none)
}

func testUpdateChat(t *testing.T, b *bundle) {
	ctx, s := context.Background(), b.store
	u := newUser(t, s, storage.RoleUser)
	c := newChat(t, s, u.ID, "before", 100)
	require.NoError(t, s.SetChatLastReadAt(ctx, c.ID, u.ID, 150))

	got, err := s.UpdateChat(ctx, c.ID, func(x *storage.Chat) error {
		require.Equal(t, "before", x.Title, "fn sees the stored chat")
		x.Title, x.Chat, x.Meta = "after", json.RawMessage(`{"title":"after"}`), json.RawMessage(`{"k":1}`)
		x.Pinned, x.Archived, x.FolderID, x.ShareID, x.UpdatedAt = true, true, "f", "s-"+c.ID, 200
		x.LastReadAt, x.UserID, x.CreatedAt = 999, "someone-else", 1 // not written
		return nil
	})
	require.NoError(t, err)
	stored, err := s.GetChat(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, storage.Chat{ID: c.ID, UserID: u.ID, Title: "after", Chat: json.RawMessage(`{"title":"after"}`),
		Meta: json.RawMessage(`{"k":1}`), Pinned: true, Archived: true, FolderID: "f", ShareID: "s-" + c.ID,
		LastReadAt: 150, CreatedAt: 100, UpdatedAt: 200}, *stored)
	require.Equal(t, stored, got, "the stored chat is returned")

	// UpdatedAt is fn's to move; clearing folder and share stores NULL.
	_, err = s.UpdateChat(ctx, c.ID, func(x *storage.Chat) error { x.FolderID, x.ShareID = "", ""; return nil })
	require.NoError(t, err)
	stored, err = s.GetChat(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, int64(200), stored.UpdatedAt)
	require.Empty(t, stored.FolderID+stored.ShareID)

	// fn's error comes back as is, and nothing changes.
	boom := errors.New("boom")
	_, err = s.UpdateChat(ctx, c.ID, func(x *storage.Chat) error { x.Title = "lost"; return boom })
	require.Same(t, boom, err)
	again, err := s.GetChat(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, stored, again)

	_, err = s.UpdateChat(ctx, "no-such-chat", func(*storage.Chat) error { t.Error("fn ran for an absent chat"); return nil })
	require.ErrorIs(t, err, storage.ErrNotFound)
}

// Racing updaters each add their own key to the conversation: every one
// survives, because each fn runs on the row as the previous commit left it.
func testConcurrentChatUpdates(t *testing.T, b *bundle) {
	ctx, s := context.Background(), b.store
	u := newUser(t, s, storage.RoleUser)
	c := newChat(t, s, u.ID, "race", 100)
	const n = 16
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := s.UpdateChat(ctx, c.ID, func(x *storage.Chat) error {
				var m map[string]any
				if err := json.Unmarshal(x.Chat, &m); err != nil {
					return err
				}
				m[fmt.Sprint("k", i)] = i
				raw, err := json.Marshal(m)
				x.Chat = raw
				return err
			})
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	got, err := s.GetChat(ctx, c.ID)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(got.Chat, &m))
	require.Len(t, m, n+1, "title and every updater's key: %s", got.Chat)
}

func testChatLastReadAt(t *testing.T, b *bundle) {
	ctx, s := context.Background(), b.store
	u, other := newUser(t, s, storage.RoleUser), newUser(t, s, storage.RoleUser)
	c := newChat(t, s, u.ID, "read", 100)
	require.NoError(t, s.SetChatLastReadAt(ctx, c.ID, u.ID, 170))
	require.ErrorIs(t, s.SetChatLastReadAt(ctx, c.ID, other.ID, 180), storage.ErrNotFound, "only the owner has a read position")
	require.ErrorIs(t, s.SetChatLastReadAt(ctx, "no-such-chat", u.ID, 180), storage.ErrNotFound)
	got, err := s.GetChat(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, int64(170), got.LastReadAt)
	require.Equal(t, int64(100), got.UpdatedAt, "reading is not an update")
}

func testDeleteChat(t *testing.T, b *bundle) {
	ctx, s := context.Background(), b.store
	u := newUser(t, s, storage.RoleUser)
	c, kept := newChat(t, s, u.ID, "gone", 100), newChat(t, s, u.ID, "kept", 100)
	require.NoError(t, s.DeleteChat(ctx, c.ID))
	_, err := s.GetChat(ctx, c.ID)
	require.ErrorIs(t, err, storage.ErrNotFound)
	require.ErrorIs(t, s.DeleteChat(ctx, c.ID), storage.ErrNotFound)
	_, err = s.GetChat(ctx, kept.ID)
	require.NoError(t, err)
}
