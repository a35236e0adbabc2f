package storage

import (
	"context"
	"encoding/json"
	"strings"
)

// Chat is one saved AI conversation (protocol §9.8). Timestamps are Unix
// seconds, as Open WebUI's chat table.
type Chat struct {
	ID     string
	UserID string // owner
	Title  string
	// Chat is the frontend's conversation object ({title, models,
	// messages, history: {messages: {id: …}, currentId}, …}), kept as the
	// JSON text it was written as; never nil once stored ("{}" at least).
	// Its size and shape are the caller's to bound.
	Chat     json.RawMessage
	Meta     json.RawMessage // JSON object; never nil once stored
	Pinned   bool
	Archived bool
	FolderID string // "" is NULL: folders are not modelled yet
	ShareID  string // "" is NULL: sharing is not modelled yet; unique when set
	// LastReadAt: when the owner last had the chat open; 0 (NULL) is never,
	// which the frontend shows as unread.
	LastReadAt int64
	CreatedAt  int64
	UpdatedAt  int64
}

// ChatTitle is one entry of ListChats: a chat without its conversation, as
// Open WebUI's ChatTitleIdResponse.
type ChatTitle struct {
	ID         string
	Title      string
	Pinned     bool
	Archived   bool
	LastReadAt int64 // 0: never read
	CreatedAt  int64
	UpdatedAt  int64
}

// ListChatsOptions selects and pages the chats ListChats returns.
type ListChatsOptions struct {
	UserID string // the owner; required
	// Pinned nil lists pinned and unpinned chats; otherwise only those
	// whose pinned flag equals *Pinned.
	Pinned *bool
	// Archived lists the archived chats instead of the others.
	Archived bool
	Skip     int
	Limit    int // 0: no limit
}

// Chats holds saved chats. Integrity is checked here, nothing else: an
// owner that is not an account is ErrNotFound, a taken id ErrConflict. Who
// may do what, and what a chat object may hold, is the caller's to decide.
type Chats interface {
	// CreateChat inserts c and writes back what it stored: an empty ID gets
	// a UUID, zero CreatedAt now (UpdatedAt = CreatedAt when zero), nil
	// Chat/Meta "{}".
	CreateChat(ctx context.Context, c *Chat) error
	// CreateChats inserts each chat as CreateChat does, in one
	// transaction: on an error none is stored (the chats' defaults may
	// have been filled in all the same).
	CreateChats(ctx context.Context, cs []*Chat) error
	// GetChat returns the chat, or ErrNotFound.
	GetChat(ctx context.Context, id string) (*Chat, error)
	// ListChats returns the owner's chats that opt selects, newest first
	// (updated_at, then id, descending), without their conversations.
	ListChats(ctx context.Context, opt ListChatsOptions) ([]ChatTitle, error)
	// UpdateChat reads the chat, calls fn on it and writes back Title, Chat,
	// Meta, Pinned, Archived, FolderID, ShareID and UpdatedAt as fn left
	// them (a pin need not look like news), in one transaction, with the
	// row locked, so concurrent updaters never lose each other's changes;
	// LastReadAt is SetChatLastReadAt's alone. fn returning an error aborts with that
	// error and changes nothing. Returns the stored chat. fn must be quick
	// and must not call the Store (on SQLite it runs while the single
	// writer is held). ErrNotFound if the chat is absent.
	UpdateChat(ctx context.Context, id string, fn func(*Chat) error) (*Chat, error)
	// SetChatLastReadAt records when the owner last read the chat.
	// ErrNotFound when the chat is absent or userID does not own it.
	SetChatLastReadAt(ctx context.Context, id, userID string, at int64) error
	// DeleteChat removes the chat. ErrNotFound if absent.
	DeleteChat(ctx context.Context, id string) error
}

// SavedChatID reports whether a chat id can name a stored chat: Open
// WebUI's temporary chats ("local:…", "temporary:…") live in the browser
// only, and "channel:…" names a channel, not a chat.
func SavedChatID(id string) bool {
	for _, p := range []string{"local:", "temporary:", "channel:"} {
		if strings.HasPrefix(id, p) {
			return false
		}
	}
	return id != ""
}
