package storagetest

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/quire/quire/storage"
)

// Run runs the conformance suite. open must return a store on an empty
// database of its own at each call, closed in t.Cleanup. Most subtests share
// one store (each uses fresh ids and emails); those that need an empty
// database (first-account role) call open again.
func Run(t *testing.T, open func(t *testing.T) storage.Store) {
	shared := open(t)
	b := &bundle{store: shared, open: open}

	t.Run("Ping", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, shared.Ping(context.Background()))
	})
	t.Run("Users", func(t *testing.T) { t.Parallel(); testUsers(t, b) })
	t.Run("SearchUsers", func(t *testing.T) { t.Parallel(); testSearchUsers(t, b) })
	t.Run("UserSettings", func(t *testing.T) { t.Parallel(); testUserSettings(t, b) })
	t.Run("SearchNotes", func(t *testing.T) { t.Parallel(); testSearchNotes(t, b) })
	t.Run("FirstAccount", func(t *testing.T) { t.Parallel(); testFirstAccount(t, b) })
	t.Run("Tokens", func(t *testing.T) { t.Parallel(); testTokens(t, b) })
	t.Run("Notes", func(t *testing.T) { t.Parallel(); testNotes(t, b) })
	t.Run("ListNotes", func(t *testing.T) { t.Parallel(); testListNotes(t, b) })
	t.Run("UpdateNote", func(t *testing.T) { t.Parallel(); testUpdateNote(t, b) })
	t.Run("SetNoteContents", func(t *testing.T) { t.Parallel(); testSetNoteContents(t, b) })
	t.Run("NoteAccess", func(t *testing.T) { t.Parallel(); testNoteAccess(t, b) })
	t.Run("DeleteNote", func(t *testing.T) { t.Parallel(); testDeleteNote(t, b) })
	t.Run("Documents", func(t *testing.T) { t.Parallel(); testDocuments(t, b) })
	t.Run("Compact", func(t *testing.T) { t.Parallel(); testCompact(t, b) })
	t.Run("Channels", func(t *testing.T) { t.Parallel(); testChannels(t, b) })
	t.Run("Chats", func(t *testing.T) { t.Parallel(); testChats(t, b) })
}

type bundle struct {
	store storage.Store
	open  func(t *testing.T) storage.Store
}

func newID() string { return uuid.NewString() }

func newUser(t testing.TB, s storage.Store, role string) *storage.User {
	t.Helper()
	id := newID()
	u := &storage.User{
		ID:           id,
		Email:        "User-" + id + "@Example.com",
		Name:         "User " + id[:8],
		Role:         role,
		PasswordHash: "hash-" + id,
		SessionStamp: "stamp-" + id,
		CreatedAt:    1700000000,
		UpdatedAt:    1700000001,
		LastActiveAt: 1700000002,
	}
	require.NoError(t, s.CreateUser(context.Background(), u))
	return u
}
