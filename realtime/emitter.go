package realtime

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/quire/quire/internal/docid"
	"github.com/quire/quire/wire"
)

// The emitter (protocol §5.5): what other modules push to sockets. Every
// emit is published through the Broker, so it reaches the room's sockets
// on every instance; nothing is acknowledged (see Call for that).

// EventsName is the Socket.IO event of chat events (§2.2).
const EventsName = "events"

// ErrBadEmit refuses an emit that would corrupt the socket protocol: an
// empty or reserved event name, a payload that is not one JSON value, a
// malformed document id.
var ErrBadEmit = errors.New("realtime: bad event")

// reservedEvents are Socket.IO's own event names, which a client library
// would treat as its lifecycle rather than as a message.
var reservedEvents = map[string]bool{
	"connect": true, "connect_error": true, "disconnect": true, "disconnecting": true,
	"newListener": true, "removeListener": true,
}

// EmitToUser sends event with payload (one encoded JSON value) to every
// socket of the account: all its tabs, on every instance.
func (s *Server) EmitToUser(userID, event string, payload []byte) error {
	return s.emitTo(userRoom(userID), event, payload)
}

// EmitToChannel sends event with payload to the sockets in the channel's
// room (its readers who joined it).
func (s *Server) EmitToChannel(channelID, event string, payload []byte) error {
	return s.emitTo(channelRoom(channelID), event, payload)
}

// EmitToDocument sends event with payload to the sockets editing the
// document ("note:<id>", or Open WebUI's "note_<id>").
func (s *Server) EmitToDocument(docID, event string, payload []byte) error {
	id, _, ok := docid.Parse(docID)
	if !ok {
		return fmt.Errorf("%w: document id %q", ErrBadEmit, docID)
	}
	return s.emitTo(docRoom(id), event, payload)
}

// EmitChat sends the account's sockets the `events` envelope of one of its
// chats, {chat_id, message_id, data: {type, data}} (Open WebUI's
// get_event_emitter; messageID may be "").
func (s *Server) EmitChat(userID, chatID, messageID string, data wire.EventData) error {
	b, err := json.Marshal(wire.ChatEvent{ChatID: chatID, MessageID: messageID, Data: data})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadEmit, err)
	}
	return s.emitTo(userRoom(userID), EventsName, b)
}

func (s *Server) emitTo(room, event string, payload []byte) error {
	if event == "" || len(event) > maxNameLen || reservedEvents[event] {
		return fmt.Errorf("%w: event name %q", ErrBadEmit, event)
	}
	if !json.Valid(payload) {
		return fmt.Errorf("%w: the payload is not one JSON value", ErrBadEmit)
	}
	return s.broker.Publish(s.baseCtx, Message{Room: room, Event: event, Payload: payload, Origin: s.origin("")})
}
