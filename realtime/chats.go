package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/quire/quire/storage"
)

// Saved chats' read positions (protocol §5.2): the frontend marks a chat
// read when it opens, leaves or hides it, and every tab of the account
// hears of it, so their sidebars agree.

const evChat = "events:chat"

// chatListEvent is the events payload that tells an account's tabs a
// chat's read position: {chat_id, data: {type: "chat:list", data: {chat_id,
// last_read_at}}}.
type chatListEvent struct {
	ChatID string `json:"chat_id"`
	Data   struct {
		Type string `json:"type"`
		Data struct {
			ChatID     string `json:"chat_id"`
			LastReadAt int64  `json:"last_read_at"`
		} `json:"data"`
	} `json:"data"`
}

// onChatEvent: {chat_id, data: {type: "last_read_at"}} stores when the
// account read its chat (Unix seconds, as the chat's updated_at) and sends
// chat:list to user:<id> on every instance. A temporary chat (local:…,
// temporary:…) has no read position: acknowledged, nothing stored or sent.
// Another account's chat is refused like an unknown one.
func (c *conn) onChatEvent(ctx context.Context, payload any) reply {
	f, isObj := asFields(payload)
	chatID, isStr := f.str("chat_id")
	data, dataObj := asFields(f["data"])
	typ, _ := data.str("type")
	if !isObj || !isStr || !dataObj || typ != "last_read_at" || !validID(chatID) {
		return fail(reasonInvalidPayload)
	}
	if !storage.SavedChatID(chatID) {
		return ok()
	}
	u := c.user.Load()
	at := time.Now().Unix()
	err := c.srv.cfg.Store.SetChatLastReadAt(ctx, chatID, u.ID, at)
	if errors.Is(err, storage.ErrNotFound) {
		return fail(reasonUnknownChat)
	} else if err != nil {
		c.logErr("set chat last_read_at failed", err, "chat", chatID)
		return fail(reasonUnavailable)
	}
	var ev chatListEvent
	ev.ChatID, ev.Data.Type, ev.Data.Data.ChatID, ev.Data.Data.LastReadAt = chatID, "chat:list", chatID, at
	b, err := json.Marshal(ev)
	if err != nil {
		return fail(reasonInternal)
	}
	c.srv.publish(Message{Room: userRoom(u.ID), Event: evEvents, Payload: b, Origin: c.srv.origin(c.sid)})
	return ok()
}
