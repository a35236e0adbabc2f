package api

import "context"

// replaced by the chats branch

// AssistantMessage is an assistant message a chat task stores.
type AssistantMessage struct {
	Content  string
	Done     bool
	Error    string
	Model    string
	ParentID string
}

// saveAssistantMessage stores m as message messageID of the account's chat.
func (a *API) saveAssistantMessage(ctx context.Context, userID, chatID, messageID string, m AssistantMessage) error {
	return nil
}
