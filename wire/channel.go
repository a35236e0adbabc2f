package wire

import (
	"encoding/json"

	"github.com/quire/quire/storage"
)

// Channel is Open WebUI's ChannelModel (timestamps in nanoseconds): the
// body of the channel routes and the "channel" of events:channel. Type is
// null for a standard channel, as Open WebUI stores it.
type Channel struct {
	ID          string          `json:"id"`
	UserID      string          `json:"user_id"`
	Type        *string         `json:"type"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	IsPrivate   bool            `json:"is_private"`
	Data        json.RawMessage `json:"data"`
	Meta        json.RawMessage `json:"meta"`
	CreatedAt   int64           `json:"created_at"`
	UpdatedAt   int64           `json:"updated_at"`
}

// ChannelOf is c as the frontend expects it.
func ChannelOf(c *storage.Channel) Channel {
	var typ *string
	if c.Type != storage.ChannelStandard {
		t := c.Type
		typ = &t
	}
	return Channel{ID: c.ID, UserID: c.UserID, Type: typ, Name: c.Name, Description: c.Description,
		IsPrivate: c.IsPrivate, Data: objectOrEmpty(c.Data), Meta: objectOrEmpty(c.Meta),
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

// UserName is Open WebUI's UserNameResponse: who wrote a message or caused
// an event.
type UserName struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
}

// UserNameOf is u's public name.
func UserNameOf(u *storage.User) UserName { return UserName{ID: u.ID, Name: u.Name, Role: u.Role} }

// Reaction is one reaction name on a message with who used it.
type Reaction struct {
	Name    string   `json:"name"`
	UserIDs []string `json:"user_ids"`
	Count   int      `json:"count"`
}

// Message is Open WebUI's MessageModel with MessageResponse's extras (the
// author, reactions, the thread summary of a top-level message). Name is
// the reaction name on message:reaction:* events, TempID the client's
// optimistic id echoed on the "message" event.
type Message struct {
	ID            string          `json:"id"`
	UserID        string          `json:"user_id"`
	ChannelID     string          `json:"channel_id"`
	ParentID      *string         `json:"parent_id"`
	ReplyToID     *string         `json:"reply_to_id"`
	IsPinned      bool            `json:"is_pinned"`
	PinnedAt      *int64          `json:"pinned_at"`
	PinnedBy      *string         `json:"pinned_by"`
	Content       string          `json:"content"`
	Data          json.RawMessage `json:"data"`
	Meta          json.RawMessage `json:"meta"`
	CreatedAt     int64           `json:"created_at"`
	UpdatedAt     int64           `json:"updated_at"`
	User          *UserName       `json:"user,omitempty"`
	Reactions     []Reaction      `json:"reactions"`
	ReplyCount    int             `json:"reply_count"`
	LatestReplyAt *int64          `json:"latest_reply_at"`
	Name          string          `json:"name,omitempty"`
	TempID        string          `json:"temp_id,omitempty"`
}

// MessageOf is m with no author, reactions or replies filled in.
func MessageOf(m *storage.Message) Message {
	out := Message{ID: m.ID, UserID: m.UserID, ChannelID: m.ChannelID, ParentID: strOrNull(m.ParentID),
		ReplyToID: strOrNull(m.ReplyToID), IsPinned: m.IsPinned, PinnedBy: strOrNull(m.PinnedBy),
		Content: m.Content, Data: objectOrEmpty(m.Data), Meta: objectOrEmpty(m.Meta),
		CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt, Reactions: []Reaction{}}
	if m.PinnedAt != 0 {
		at := m.PinnedAt
		out.PinnedAt = &at
	}
	return out
}

func strOrNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// ChannelEvent is the payload of events:channel (protocol §5.1): Data is
// {type, data}; Channel is absent on typing events. (channel:created is
// only {"data":{"type":"channel:created"}}, sent by the realtime server.)
type ChannelEvent struct {
	ChannelID string    `json:"channel_id"`
	MessageID *string   `json:"message_id"`
	Data      EventData `json:"data"`
	User      *UserName `json:"user,omitempty"`
	Channel   *Channel  `json:"channel,omitempty"`
}

// EventData is an event's {type, data}.
type EventData struct {
	Type string `json:"type"`
	Data any    `json:"data,omitempty"`
}
