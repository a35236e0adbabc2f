package storage

import (
	"context"
	"encoding/json"
)

// Channel types, as Open WebUI's channel.type.
const (
	ChannelStandard = ""      // a named channel; public unless IsPrivate
	ChannelGroup    = "group" // a named channel for a set of members
	ChannelDM       = "dm"    // a direct conversation
)

// Member roles in a channel.
const (
	MemberManager = "manager"
	MemberMember  = "member"
)

// Channel is a chat channel. Timestamps are Unix nanoseconds, as Open WebUI.
type Channel struct {
	ID          string
	UserID      string // owner
	Type        string // ChannelStandard, ChannelGroup or ChannelDM
	Name        string
	Description string
	IsPrivate   bool
	Data        json.RawMessage // JSON object; never nil once stored ("{}" at least)
	Meta        json.RawMessage // JSON object; never nil once stored
	CreatedAt   int64
	UpdatedAt   int64
}

// ChannelMember is one account's membership of a channel.
type ChannelMember struct {
	ChannelID string
	UserID    string
	Role      string // MemberManager or MemberMember; "" is stored as MemberMember
	// IsActive: false hides a DM from its member until the REST layer
	// reactivates it (SetMemberActive). Members are stored active.
	IsActive   bool
	LastReadAt int64 // Unix nanoseconds; 0: never read
	JoinedAt   int64 // Unix nanoseconds; 0 becomes the time of the insert
}

// ChannelListing is one entry of ListChannels.
type ChannelListing struct {
	Channel
	// Member is the listing account's membership, nil when it is not a
	// member (a public channel listed with IncludePublic, or All).
	Member *ChannelMember
	// UnreadCount counts, as Open WebUI's get_unread_message_count, the
	// top-level messages (replies are not counted) posted by other accounts
	// after the member's LastReadAt (after 0 for a non-member).
	UnreadCount int
	// LastMessageAt is the created_at of the channel's newest message,
	// replies included; 0 when it has none.
	LastMessageAt int64
}

// ListChannelsOptions selects the channels ListChannels returns.
type ListChannelsOptions struct {
	// UserID: the channels this account is a member of; also the account
	// whose unread counts are computed.
	UserID string
	// IncludePublic adds the standard channels that are not private.
	IncludePublic bool
	// All lists every channel (admins).
	All bool
}

// Message is a message in a channel. ParentID is the thread root ("" for a
// top-level message); ReplyToID the message it quotes ("" for none; cleared
// when that message is deleted). Timestamps are Unix nanoseconds.
type Message struct {
	ID        string
	UserID    string
	ChannelID string
	ParentID  string
	ReplyToID string
	IsPinned  bool
	PinnedAt  int64  // 0 when not pinned
	PinnedBy  string // "" when not pinned
	Content   string
	Data      json.RawMessage // JSON object; never nil once stored
	Meta      json.RawMessage // JSON object; never nil once stored
	CreatedAt int64
	UpdatedAt int64
}

// MessageThread is a top-level message with its thread's summary, as Open
// WebUI's MessageResponse reply_count and latest_reply_at.
type MessageThread struct {
	Message
	ReplyCount    int
	LatestReplyAt int64 // created_at of the newest reply; 0 when none
}

// Reaction is every reaction of one name on a message, as Open WebUI's
// Reactions (which it fills with user names; the caller joins those).
type Reaction struct {
	Name    string
	UserIDs []string // in the order they reacted
	Count   int
}

// Channels holds chat channels, their members, messages (with threads and
// pins) and reactions. Integrity is checked here, nothing else: a reference
// to a channel, message or account that does not exist is ErrNotFound, a
// taken unique value ErrConflict. Who may do what is the caller's to decide.
type Channels interface {
	// CreateChannel inserts c and its initial members in one transaction.
	// An empty ID gets a UUID, zero timestamps now, nil Data/Meta "{}" (all
	// written back). Members are deduplicated by account (manager beats
	// member). A DM is unique per set of initial members: creating a second
	// one is ErrConflict (so racing "open a DM" requests make one channel;
	// the loser finds it with FindDM). A member that is not an account is
	// ErrNotFound, and nothing is stored.
	CreateChannel(ctx context.Context, c *Channel, members []ChannelMember) error
	// GetChannel returns the channel, or ErrNotFound.
	GetChannel(ctx context.Context, id string) (*Channel, error)
	// ListChannels returns the channels opt selects, oldest first
	// (created_at, then id), with the account's unread count and the time
	// of the newest message, in one query.
	ListChannels(ctx context.Context, opt ListChannelsOptions) ([]ChannelListing, error)
	// UpdateChannel writes c's Name, Description, IsPrivate, Data and Meta,
	// and UpdatedAt (zero: now, written back). Type, owner and members do not
	// change. ErrNotFound if the channel is absent.
	UpdateChannel(ctx context.Context, c *Channel) error
	// DeleteChannel removes the channel with its members, messages and
	// reactions (Open WebUI deletes outright too). ErrNotFound if absent.
	DeleteChannel(ctx context.Context, id string) error

	// AddChannelMembers adds the accounts to the channel, in one
	// transaction. An account that is a member already keeps its row as it
	// is. ErrNotFound if the channel or an account is absent (then nothing
	// is added).
	AddChannelMembers(ctx context.Context, channelID string, members []ChannelMember) error
	// RemoveChannelMembers removes those accounts' memberships; accounts
	// that are not members are ignored. Their messages stay.
	RemoveChannelMembers(ctx context.Context, channelID string, userIDs []string) error
	// GetChannelMember returns the account's membership (its role), or
	// ErrNotFound when it is not a member.
	GetChannelMember(ctx context.Context, channelID, userID string) (*ChannelMember, error)
	// ListChannelMembers returns the channel's members, in joining order
	// (then by account id); none for an unknown channel.
	ListChannelMembers(ctx context.Context, channelID string) ([]ChannelMember, error)
	// FindDM returns the DM channel created for exactly these two accounts
	// (in either order; the same id twice is a DM with oneself), or
	// ErrNotFound.
	FindDM(ctx context.Context, userA, userB string) (*Channel, error)
	// SetLastReadAt records when the member last read the channel.
	// ErrNotFound when it is not a member.
	SetLastReadAt(ctx context.Context, channelID, userID string, at int64) error
	// SetMemberActive shows (true) or hides (false) the channel for the
	// member. ErrNotFound when it is not a member.
	SetMemberActive(ctx context.Context, channelID, userID string, active bool) error

	// PostMessage inserts m and writes back what it stored: an empty ID gets
	// a UUID, zero CreatedAt now (UpdatedAt = CreatedAt when zero), nil
	// Data/Meta "{}". A ParentID that is itself a reply is replaced by its
	// thread root, so ParentID is always a top-level message. ErrNotFound
	// if the channel, the account, or the parent or the quoted message in
	// that channel is absent. Pins are not set by posting.
	PostMessage(ctx context.Context, m *Message) error
	// GetMessage returns the message, or ErrNotFound.
	GetMessage(ctx context.Context, id string) (*Message, error)
	// GetThread returns the message with its thread's reply count and
	// newest reply time (as ListMessages), or ErrNotFound.
	GetThread(ctx context.Context, id string) (*MessageThread, error)
	// ListMessages returns the channel's top-level messages, newest first
	// (created_at, then id, descending), skipping skip and returning at most
	// limit (limit <= 0: no limit), each with its thread's reply count and
	// newest reply time.
	ListMessages(ctx context.Context, channelID string, skip, limit int) ([]MessageThread, error)
	// ListReplies returns the replies to parentID, newest first, paged as
	// ListMessages (Open WebUI's thread view adds the parent itself).
	ListReplies(ctx context.Context, parentID string, skip, limit int) ([]Message, error)
	// UpdateMessage reads the message, calls fn on it and writes back
	// Content, Data, Meta and UpdatedAt (now, if fn left it unchanged) in
	// one transaction, and returns the stored message. fn returning an
	// error aborts with it. fn must be quick and must not call the Store.
	UpdateMessage(ctx context.Context, id string, fn func(*Message) error) (*Message, error)
	// DeleteMessage removes the message, its replies (a thread goes with its
	// root, as the frontend shows no orphan replies) and their reactions;
	// messages quoting them keep an empty ReplyToID. ErrNotFound if absent.
	DeleteMessage(ctx context.Context, id string) error
	// PinMessage pins (by, at recorded) or unpins (both cleared) the
	// message and returns it. ErrNotFound if absent.
	PinMessage(ctx context.Context, id string, pinned bool, by string, at int64) (*Message, error)

	// AddReaction records the account's reaction; adding it again changes
	// nothing. Reports whether it was added. ErrNotFound if the message or
	// the account is absent. With maxNames > 0, a name the message does not
	// have yet is refused with ErrLimit once it has maxNames different
	// ones, also when adds race.
	AddReaction(ctx context.Context, messageID, userID, name string, at int64, maxNames int) (bool, error)
	// RemoveReaction removes the reaction; reports whether there was one.
	RemoveReaction(ctx context.Context, messageID, userID, name string) (bool, error)
	// ListReactions returns the reactions of each message (a message with
	// none is absent from the map), grouped by name, names in the order they
	// were first used.
	ListReactions(ctx context.Context, messageIDs []string) (map[string][]Reaction, error)
}
