package wire

// ChatEvent is the `events` envelope of a chat (protocol §2.2): what a
// chat's task, tools or a backend service tell the owner's sockets about
// one of its messages.
type ChatEvent struct {
	ChatID    string    `json:"chat_id"`
	MessageID string    `json:"message_id,omitempty"`
	Data      EventData `json:"data"`
}
