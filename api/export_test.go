package api

import "context"

// SaveAssistantMessage lets the external tests call the task code's save.
func SaveAssistantMessage(a *API, ctx context.Context, userID, chatID, messageID string, m AssistantMessage) error {
	return a.saveAssistantMessage(ctx, userID, chatID, messageID, &m)
}
