package realtime

import (
	"context"
	"errors"
)

// Broker is the rooms engine's one seam: every message to a room (a
// document, a note, a user's sockets, a channel, one socket) and every
// command that concerns sockets on any instance goes through it. The memory
// broker serves one process; a Redis broker fans out between instances
// (STYLE rule 2; centrifuge splits its brokers the same way).
//
// Delivery is by subscription: an instance subscribes to a room while it
// has local sockets in it, and its BrokerHandler receives every message
// published to that room by any instance, its own included. Commands reach
// every instance.
//
// Guarantees every implementation keeps (realtime/brokertest checks them):
//   - A message published by this instance to a room it subscribes to has
//     reached the local handler when Publish returns: fan-out to local
//     sockets never waits for a network hop.
//   - Messages and commands published by one goroutine arrive at each
//     instance in the order published, across rooms too.
//   - A message reaches each subscribed instance at most once.
//   - Message fields arrive as published (Payload and Attachments byte for
//     byte, Except, Origin). Handlers must not modify them: an in-process
//     delivery shares the slices.
//   - When CommandWait returns nil, every live instance's handler has
//     returned from the command, so a message published afterwards
//     reaches the rooms the command made them subscribe (new members'
//     sockets on every instance).
type Broker interface {
	// Start registers the handler that receives this instance's messages and
	// commands until Stop. Called once, before anything else.
	Start(ctx context.Context, h BrokerHandler) error
	// Publish sends m to every instance subscribed to m.Room.
	Publish(ctx context.Context, m Message) error
	// Command sends c to every instance, this one included.
	Command(ctx context.Context, c Command) error
	// CommandWait sends c as Command does, then waits until every live
	// instance has handled it. It stops waiting when ctx ends, for an
	// instance that stops meanwhile, and after the implementation's own
	// bound; it then answers ErrUnconfirmed, c having been sent. Not to be
	// called from a BrokerHandler.
	CommandWait(ctx context.Context, c Command) error
	// Subscribe and Unsubscribe set whether this instance receives room's
	// messages. Both are idempotent; the caller counts its local sockets.
	Subscribe(ctx context.Context, room string) error
	Unsubscribe(ctx context.Context, room string) error
	// Stop ends delivery; later calls answer ErrBrokerStopped. Idempotent.
	Stop(ctx context.Context) error
}

// BrokerHandler receives what a Broker delivers to this instance. Calls
// for one publisher come in publish order; a handler must not block for
// long (it holds up the messages behind it).
type BrokerHandler interface {
	HandleMessage(m Message)
	HandleCommand(c Command)
}

// ErrBrokerStopped answers calls on a stopped Broker.
var ErrBrokerStopped = errors.New("realtime: broker stopped")

// ErrUnconfirmed: CommandWait sent the command (and ran it here) but not
// every instance confirmed it; the error names them.
var ErrUnconfirmed = errors.New("realtime: command not confirmed by every instance")

// Message is one Socket.IO event for the sockets of a room.
type Message struct {
	// Room names the recipients: docRoom, noteRoom, userRoom, …
	Room string
	// Event is the Socket.IO event name.
	Event string
	// Payload is the event's JSON argument, already encoded.
	Payload []byte
	// Attachments are the binary attachments Payload's placeholders refer
	// to, in order; nil for a text event.
	Attachments [][]byte
	// Except is a socket id the message must not reach (its sender), or "".
	Except string
	// Origin says who sent it, so no receiver looks the sender up again.
	Origin Origin
}

// Origin is who caused a message or command.
type Origin struct {
	// Instance is the publishing instance's id.
	Instance string
	// SID and UserID are the sending socket and its account; both "" for
	// what the server itself makes (seeding, REST edits, expiry).
	SID    string
	UserID string
}

// CommandKind says what a Command asks every instance to do.
type CommandKind uint8

const (
	// CommandDisconnectUser closes every socket of UserID (sign-out, role
	// change, deletion).
	CommandDisconnectUser CommandKind = iota + 1
	// CommandAccessChanged makes every instance forget what it cached of
	// NoteID's access and evict the sockets that lost read access.
	CommandAccessChanged
	// CommandNoteDeleted evicts every socket from NoteID's rooms.
	CommandNoteDeleted
	// CommandJoinRoom puts every socket of each of UserIDs into Room (a new
	// channel's participants, new members).
	CommandJoinRoom
	// CommandLeaveRoom takes every socket of each of UserIDs out of Room;
	// no UserIDs: every socket (a deleted channel).
	CommandLeaveRoom
	// CommandCall asks the instance holding socket SID, if it is UserID's,
	// to send it `events` with Payload and an ack id (call.go); that
	// instance answers CallID with CommandCallReply (Payload: the ack's
	// value, JSON) or CommandCallGone (not that account's, or it left).
	CommandCall
	CommandCallReply
	CommandCallGone
	// CommandKeepRoom takes every socket out of Room but those of UserIDs
	// (a channel made private: only its readers' sockets stay).
	CommandKeepRoom
)

// Command is an instruction for every instance.
type Command struct {
	Kind   CommandKind
	UserID string
	NoteID string
	// Room and UserIDs are CommandJoinRoom's, CommandLeaveRoom's and
	// CommandKeepRoom's.
	Room    string
	UserIDs []string
	// SID, CallID and Payload are the calls' (CommandCall…).
	SID     string
	CallID  string
	Payload []byte
	Origin  Origin
}
