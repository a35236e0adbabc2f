package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"unicode/utf8"

	"github.com/quire/quire/storage"
	"github.com/quire/quire/wire"
)

// POST /api/v1/events/emit (protocol §9.8): a backend service pushes an
// event to an account's sockets, a chat's owner or a channel's room. Only
// admins and service tokens (`quire token`, auth.Claims.Service) may; the
// target must exist, and nothing is sent otherwise.

const (
	// MaxEmitBodyBytes caps an emit request.
	MaxEmitBodyBytes = 1 << 20
	// maxEventTypeBytes caps data.type.
	maxEventTypeBytes = 128
)

type emitRequest struct {
	UserID    *string         `json:"user_id"`
	ChannelID *string         `json:"channel_id"`
	ChatID    *string         `json:"chat_id"`
	MessageID *string         `json:"message_id"`
	Event     *string         `json:"event"`
	Data      json.RawMessage `json:"data"`
}

// userEvent is what an account's sockets get: the `events` envelope,
// without a chat.
type userEvent struct {
	MessageID string    `json:"message_id,omitempty"`
	Data      eventData `json:"data"`
}

// eventData is {type, data} with data passed through as sent.
type eventData struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data,omitempty"`
}

func (a *API) emitEvent(w http.ResponseWriter, r *http.Request, s *session) {
	if s.user.Role != storage.RoleAdmin && (s.claims == nil || !s.claims.Service) {
		writeError(w, http.StatusForbidden, "Only an admin or a service token (quire token) may push events")
		return
	}
	var in emitRequest
	if !readJSON(w, r, MaxEmitBodyBytes, &in) {
		return
	}
	targets := 0
	for _, p := range []*string{in.UserID, in.ChannelID, in.ChatID} {
		if p != nil {
			targets++
			if !validID(*p) {
				writeError(w, http.StatusBadRequest, "user_id, channel_id and chat_id must be ids (1-128 printable characters)")
				return
			}
		}
	}
	if targets != 1 {
		writeError(w, http.StatusBadRequest, "give exactly one of user_id, channel_id and chat_id")
		return
	}
	event := "events"
	if in.Event != nil {
		event = *in.Event
	}
	if event != "events" && (event != "events:channel" || in.ChannelID == nil) {
		writeError(w, http.StatusBadRequest, `event must be "events" (or "events:channel" with channel_id)`)
		return
	}
	messageID := ""
	if in.MessageID != nil {
		if messageID = *in.MessageID; !validID(messageID) {
			writeError(w, http.StatusBadRequest, "message_id must be an id (1-128 printable characters)")
			return
		}
	}
	var data eventData
	if json.Unmarshal(in.Data, &data) != nil || !isObject(in.Data) || data.Type == "" ||
		len(data.Type) > maxEventTypeBytes || !utf8.ValidString(data.Type) {
		writeError(w, http.StatusBadRequest, "data must be an object {type, data} with type a non-empty string of at most 128 bytes")
		return
	}
	if string(data.Data) == "null" {
		data.Data = nil
	}
	if a.cfg.Events == nil {
		writeError(w, http.StatusServiceUnavailable, "no socket server")
		return
	}

	var payload []byte
	var send func() error
	switch {
	case in.UserID != nil:
		if _, err := a.cfg.Store.GetUser(r.Context(), *in.UserID); err != nil {
			a.emitTargetError(w, r, "User not found", err)
			return
		}
		payload, _ = json.Marshal(userEvent{MessageID: messageID, Data: data})
		send = func() error { return a.cfg.Events.EmitToUser(*in.UserID, event, payload) }
	case in.ChatID != nil:
		owner, err := a.chatOwner(r.Context(), *in.ChatID)
		if err != nil {
			a.emitTargetError(w, r, "Chat not found", err)
			return
		}
		payload, _ = json.Marshal(wire.ChatEvent{ChatID: *in.ChatID, MessageID: messageID, Data: wire.EventData{Type: data.Type, Data: rawOrNil(data.Data)}})
		send = func() error { return a.cfg.Events.EmitToUser(owner, event, payload) }
	default:
		if _, err := a.cfg.Store.GetChannel(r.Context(), *in.ChannelID); err != nil {
			a.emitTargetError(w, r, "Channel not found", err)
			return
		}
		var mid *string // null when absent, as the channel routes send it
		if messageID != "" {
			mid = &messageID
		}
		payload, _ = json.Marshal(wire.ChannelEvent{ChannelID: *in.ChannelID, MessageID: mid,
			Data: wire.EventData{Type: data.Type, Data: rawOrNil(data.Data)}})
		send = func() error { return a.cfg.Events.EmitToChannel(*in.ChannelID, event, payload) }
	}
	if err := send(); err != nil {
		a.internalError(w, r, "emit event", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"status": true})
}

func (a *API) emitTargetError(w http.ResponseWriter, r *http.Request, notFound string, err error) {
	if errors.Is(err, storage.ErrNotFound) {
		writeError(w, http.StatusNotFound, notFound)
		return
	}
	a.internalError(w, r, "emit: look up the target", err)
}

// rawOrNil keeps an absent data absent (EventData.Data is omitempty only
// for a nil interface).
func rawOrNil(d json.RawMessage) any {
	if d == nil {
		return nil
	}
	return d
}

// isObject reports whether raw is a JSON object.
func isObject(raw json.RawMessage) bool {
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c == '{'
	}
	return false
}

// chatOwner returns the account that owns the chat, or storage.ErrNotFound
// (temporary chats, local:… and temporary:…, are never stored).
func (a *API) chatOwner(ctx context.Context, chatID string) (string, error) {
	if !storage.SavedChatID(chatID) {
		return "", storage.ErrNotFound
	}
	c, err := a.cfg.Store.GetChat(ctx, chatID)
	if err != nil {
		return "", err
	}
	return c.UserID, nil
}
