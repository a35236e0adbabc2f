package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/quire/quire/chat"
	"github.com/quire/quire/storage"
)

// The stock Open WebUI 0.11 frontend keeps a task's chat on the server
// (its Chat.svelte sendMessageSocket): a new chat's first request has no
// chat_id, and the answer must name the chat the server made for it
// ({"chat_id"}); a saved chat's request carries no conversation (at most
// the system prompt), only the question as user_message (a message object
// whose parent is parent_id) and the id of the answer to write (id). The
// frontend saves neither message itself. So the server stores both, the
// question and an empty unfinished answer, before the task starts, reads
// the conversation from the stored history, and titles a new chat after
// its first question (announced with chat:title when the answer ends).
// Temporary chats (temporary:…, and legacy local:…, which the frontend
// treats alike) are never stored: their requests carry the conversation.

// msgBadStoredTaskIDs refuses ids a saved chat cannot hold.
const msgBadStoredTaskIDs = "chat_id and id must be ids (at most 128 bytes, no NUL) in a saved chat"

// maxAutoTitleRunes bounds a title made from a question.
const maxAutoTitleRunes = 60

// userMessage is a request's user_message.
type userMessage struct {
	id  string
	obj *rawObject
}

// parseUserMessage reads user_message: absent or null is nil; anything
// else must be a message object {id, role: "user", content} that can be
// stored in a chat.
func parseUserMessage(in map[string]json.RawMessage) (*userMessage, string) {
	raw, ok := in["user_message"]
	if !ok || string(raw) == "null" {
		return nil, ""
	}
	const bad = `user_message must be a message object {id, role: "user", content}`
	obj, err := parseObject(raw)
	if err != nil {
		return nil, bad
	}
	if !utf8.Valid(raw) {
		return nil, "user_message must be valid UTF-8"
	}
	if depth, clean := scanJSON(raw); depth > maxChatDepth || !clean {
		return nil, "user_message must not contain NUL characters or numbers beyond double precision, nor nest too deep"
	}
	id, _ := obj.str("id")
	role, _ := obj.str("role")
	content, _ := obj.get("content")
	if !validID(id) || role != "user" || len(content) == 0 || (content[0] != '"' && content[0] != '[') {
		return nil, bad
	}
	return &userMessage{id: id, obj: obj}, ""
}

// taskMode: the request is a task (protocol §5.3) when it names the socket
// and the answer's id, and either its chat or, for a new chat, the
// question.
func taskMode(in map[string]json.RawMessage) bool {
	return present(in, "session_id") && present(in, "id") && (present(in, "chat_id") || present(in, "user_message"))
}

// prepareTaskChat stores the request's question (um, parsed by
// parseUserMessage; nil when none was sent) and the empty answer in
// its saved chat, creating the chat when there is none (no chat_id, or an
// id no chat has yet), sets req.chatID, the answer's parent and the title
// to announce, and, when the request carries no conversation, replaces
// in["messages"] by the system prompt sent and the stored conversation
// down to the question. Another account's chat is 404; nothing is stored
// on any refusal. It answers the refusals itself and reports whether the
// task may start.
func (a *API) prepareTaskChat(w http.ResponseWriter, r *http.Request, s *session, req *taskRequest, um *userMessage, in map[string]json.RawMessage, model string, sent bool) bool {
	if um != nil && um.id == req.messageID {
		writeError(w, http.StatusBadRequest, "user_message.id must differ from id (the answer's)")
		return false
	}
	var continuing bool
	if id, ok := in["assistant_message_id"]; ok && string(id) != "null" {
		var s string
		if json.Unmarshal(id, &s) != nil || s != req.messageID {
			writeError(w, http.StatusBadRequest, "assistant_message_id must be the answer's id (id)")
			return false
		}
		continuing = true
	}
	if req.chatID != "" && !savedChat(req.chatID) {
		// A temporary chat: the request holds the conversation, and a
		// continued answer is its last message.
		if continuing {
			req.prefix = lastAnswerSent(in)
		}
		return a.claimChatTask(w, r, s, req, model, "")
	}
	// Stored ids are ids (validID): a chat or answer named otherwise could
	// be neither read nor deleted, nor its answer saved.
	if (req.chatID != "" && !validID(req.chatID)) || !validID(req.messageID) {
		writeError(w, http.StatusBadRequest, msgBadStoredTaskIDs)
		return false
	}
	if req.chatID == "" {
		// A new chat: its id is known before the task is claimed, so
		// that the task lists under it from the start.
		req.chatID = uuid.NewString()
	}
	// One writer per answer (a second task would race the first's save):
	// the claim is atomic across instances, and made before anything is
	// stored, so that a refused request changes nothing.
	if !a.claimChatTask(w, r, s, req, model, chat.AnswerKey(req.chatID, req.messageID)) {
		return false
	}
	stored := false
	defer func() {
		if !stored {
			a.cfg.Tasks.Release(req.claim)
			req.claim = nil
		}
	}()
	userParent := req.parentID // the question's parent, in 0.11's requests
	if um != nil && userParent == um.id {
		userParent = "" // not its own parent
	}
	if um != nil {
		req.parentID = um.id
	}
	now := a.cfg.Now().Unix()
	var conversation []json.RawMessage
	edit := func(c *storage.Chat) error {
		if c.UserID != s.user.ID {
			return errNotOwner
		}
		chat := objectOrNew(c.Chat)
		if err := checkTaskIDs(chat.object("history").object("messages"), um, userParent, req.messageID, req.parentID, continuing); err != nil {
			return err
		}
		title := putTaskMessages(chat, um, userParent, req.messageID, req.parentID, model, now)
		if title != "" {
			req.title, c.Title = title, title
		}
		msgs := chat.object("history").object("messages")
		if um != nil {
			conversation = conversationTo(msgs, um.id)
		}
		if continuing {
			// The frontend's "Continue Response": the model goes on
			// from the stored answer, which the new text extends.
			req.prefix = storedAnswer(msgs, req.messageID)
			if req.prefix != "" {
				conversation = conversationTo(msgs, req.messageID)
			}
		}
		body := chat.encode()
		if int64(len(body)) > a.cfg.MaxChatBytes {
			return chatTooLarge{a.cfg.MaxChatBytes}
		}
		c.Chat, c.UpdatedAt = body, max(now, c.UpdatedAt)
		return nil
	}
	err := a.editOrCreateChat(r.Context(), s.user.ID, req, now, edit)
	switch {
	case errors.Is(err, errNotOwner):
		writeError(w, http.StatusNotFound, "Chat not found")
		return false
	case errors.As(err, new(chatTooLarge)):
		writeError(w, http.StatusRequestEntityTooLarge, err.Error())
		return false
	case errors.As(err, new(taskRefusal)):
		writeError(w, http.StatusBadRequest, err.Error())
		return false
	case err != nil:
		a.internalError(w, r, "store a chat task's question", err)
		return false
	}
	if conversation != nil && !sent {
		in["messages"] = encodeList(append(systemMessages(in), conversation...))
	}
	stored = true
	return true
}

// claimChatTask claims the request's task (req.claim; key: chat.AnswerKey
// for a saved chat's answer, else ""), or answers why not: 409 when an
// answer is being written into req's already, 503 when the server stops.
func (a *API) claimChatTask(w http.ResponseWriter, r *http.Request, s *session, req *taskRequest, model, key string) bool {
	t, err := a.cfg.Tasks.Claim(r.Context(), chat.Task{UserID: s.user.ID, ChatID: req.chatID, MessageID: req.messageID, Model: model, Key: key})
	switch {
	case errors.Is(err, chat.ErrTaskRunning):
		writeError(w, http.StatusConflict, "an answer is being written into id already; stop it first")
		return false
	case errors.Is(err, chat.ErrStopped):
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return false
	case err != nil:
		a.internalError(w, r, "claim a chat task", err)
		return false
	}
	req.claim = t
	return true
}

// taskRefusal: the request's ids do not fit the stored history (400).
type taskRefusal string

func (e taskRefusal) Error() string { return string(e) }

// checkTaskIDs checks the ids a task request names against the stored
// history msgs (under the chat's lock, before anything is written), as the
// task's final save writes the answer and its parent unchecked: the
// question um (nil when none was sent) is new or a stored question, and
// its parent userParent is not below it; the answer answerID is new, an
// unfinished answer, or, continuing, a stored answer, and keeps its
// stored parent; the answer's parent answerParent ("" : none) is the
// question sent or a stored question, neither the answer nor below it.
func checkTaskIDs(msgs *rawObject, um *userMessage, userParent, answerID, answerParent string, continuing bool) error {
	stored := func(id string) (link, bool) {
		raw, ok := msgs.get(id)
		if !ok || id == "" {
			return link{}, false
		}
		return linkOf(raw), true
	}
	// below: id is ancestor or below it, following the stored parents.
	below := func(id, ancestor string) bool {
		for seen := map[string]bool{}; id != "" && !seen[id]; {
			if id == ancestor {
				return true
			}
			seen[id] = true
			l, ok := stored(id)
			if !ok || l.ParentID == nil {
				return false
			}
			id = *l.ParentID
		}
		return false
	}
	if um != nil {
		if l, ok := stored(um.id); ok && l.Role != "user" {
			return taskRefusal("user_message.id names a stored message that is not a question")
		}
		if userParent != "" && below(userParent, um.id) {
			return taskRefusal("parent_id is below the question: the question cannot follow its own answers")
		}
	}
	if l, ok := stored(answerID); ok {
		switch {
		case l.Role != "assistant":
			return taskRefusal("id names a stored message that is not an answer")
		case !continuing && l.Done != nil && *l.Done:
			return taskRefusal("id names a finished answer; only a continued answer (assistant_message_id) may be written again")
		case answerParent != "" && l.ParentID != nil && *l.ParentID != answerParent:
			return taskRefusal("id names a stored answer to another question")
		}
	}
	if answerParent == "" {
		return nil
	}
	if answerParent == answerID {
		return taskRefusal("the answer cannot be its own parent")
	}
	if um != nil && answerParent == um.id {
		// The question is stored below userParent, not where it was.
		if userParent == answerID || (userParent != "" && below(userParent, answerID)) {
			return taskRefusal("parent_id is below the answer: the answer cannot follow its own replies")
		}
		return nil
	}
	l, ok := stored(answerParent)
	switch {
	case !ok:
		return taskRefusal("parent_id names no message of this chat")
	case l.Role != "user":
		return taskRefusal("the answer's parent must be a question (a user message)")
	case below(answerParent, answerID):
		return taskRefusal("parent_id is below the answer: the answer cannot follow its own replies")
	}
	return nil
}

// editOrCreateChat runs edit on req's chat under the row lock; a chat that
// does not exist yet is made by running edit on an empty one and storing
// the result, with req.chatID as its id (a new id when there is none).
func (a *API) editOrCreateChat(ctx context.Context, userID string, req *taskRequest, now int64, edit func(*storage.Chat) error) error {
	for attempt := 0; ; attempt++ {
		if req.chatID != "" {
			_, err := a.cfg.Store.UpdateChat(ctx, req.chatID, edit)
			if !errors.Is(err, storage.ErrNotFound) || attempt > 0 {
				return err
			}
		}
		c := &storage.Chat{ID: req.chatID, UserID: userID, Title: defaultChatTitle, Chat: newTaskChat(now),
			LastReadAt: now, CreatedAt: now, UpdatedAt: now}
		if err := edit(c); err != nil {
			return err
		}
		err := a.cfg.Store.CreateChat(ctx, c)
		if errors.Is(err, storage.ErrConflict) && req.chatID != "" {
			continue // made meanwhile: edit it, as its owner only
		}
		if err == nil {
			req.chatID = c.ID
		}
		return err
	}
}

// newTaskChat is an empty chat object as the frontend makes one.
func newTaskChat(now int64) json.RawMessage {
	chat := newRawObject()
	chat.setValue("title", defaultChatTitle)
	chat.setValue("models", []string{})
	chat.setValue("params", map[string]any{})
	chat.set("history", json.RawMessage(`{"messages":{},"currentId":null}`))
	chat.setValue("messages", []any{})
	chat.setValue("tags", []any{})
	chat.setValue("timestamp", now*1000)
	return chat.encode()
}

// putTaskMessages writes the question um (when sent, as a child of
// userParent) and, unless it exists, the empty unfinished answer
// answerID (a child of answerParent) into chat; the answer becomes the
// current message and chat.messages the path to it. A chat without models
// gets model. It returns the title made from the question when um is a
// chat's first question and the chat has no title of its own yet, else "".
func putTaskMessages(chat *rawObject, um *userMessage, userParent, answerID, answerParent, model string, now int64) string {
	hist := chat.object("history")
	msgs := hist.object("messages")
	if um != nil {
		q := um.obj
		var parent any // null
		if _, ok := msgs.get(userParent); ok && userParent != "" {
			parent = userParent
		}
		q.setValue("parentId", parent)
		children := linkOf(q.encode()).ChildrenIDs
		if !containsString(children, answerID) {
			children = append(children, answerID)
		}
		q.setValue("childrenIds", children)
		if _, ok := q.get("timestamp"); !ok {
			q.setValue("timestamp", now)
		}
		msgs.set(um.id, q.encode())
	}
	if _, ok := msgs.get(answerID); !ok {
		ans := newRawObject()
		ans.setValue("id", answerID)
		var parent any
		if _, ok := msgs.get(answerParent); ok && answerParent != "" {
			parent = answerParent
		}
		ans.setValue("parentId", parent)
		ans.setValue("childrenIds", []string{})
		ans.setValue("role", "assistant")
		ans.setValue("content", "")
		ans.setValue("done", false)
		ans.setValue("model", model)
		ans.setValue("modelName", model)
		ans.setValue("modelIdx", 0)
		ans.setValue("timestamp", now)
		msgs.set(answerID, ans.encode())
	}
	linkChildren(msgs)
	hist.setObject("messages", msgs)
	hist.setValue("currentId", answerID)
	chat.setObject("history", hist)
	chat.set("messages", encodeList(messagePath(msgs, answerID)))
	if models, ok := chat.get("models"); !ok || string(models) == "[]" || string(models) == "null" {
		chat.setValue("models", []string{model})
	}
	if um == nil || linkOf(msgs.vals[um.id]).ParentID != nil || chatTitleOf(chat) != defaultChatTitle {
		return ""
	}
	content, _ := um.obj.str("content")
	title := titleFromQuestion(content)
	if title != "" {
		chat.setValue("title", title)
	}
	return title
}

// titleFromQuestion is a chat title made from its first question: the
// first line with text, spaces folded, at most maxAutoTitleRunes runes.
func titleFromQuestion(q string) string {
	for _, line := range strings.Split(q, "\n") {
		line = strings.Join(strings.FieldsFunc(line, unicode.IsSpace), " ")
		if line == "" {
			continue
		}
		if utf8.RuneCountInString(line) > maxAutoTitleRunes {
			runes := []rune(line)
			line = strings.TrimSpace(string(runes[:maxAutoTitleRunes-1])) + "…"
		}
		return line
	}
	return ""
}

// conversationTo is the conversation sent upstream for a question: the
// stored messages from the first one down to id, as {role, content}, as
// the frontend builds it for a temporary chat (user messages always,
// others only with text).
func conversationTo(msgs *rawObject, id string) []json.RawMessage {
	var out []json.RawMessage
	for _, raw := range messagePath(msgs, id) {
		m, err := parseObject(raw)
		if err != nil {
			continue
		}
		role, _ := m.str("role")
		content, ok := m.get("content")
		if role == "" || !ok {
			continue
		}
		if s, isStr := m.str("content"); role != "user" && (!isStr || strings.TrimSpace(s) == "") {
			continue
		}
		turn := newRawObject()
		turn.setValue("role", role)
		turn.set("content", content)
		out = append(out, turn.encode())
	}
	return out
}

// sentConversation reports whether the request's messages hold more than
// system prompts (a temporary chat, or an API client, sends them all).
func sentConversation(in map[string]json.RawMessage) bool {
	var msgs []struct {
		Role string `json:"role"`
	}
	_ = json.Unmarshal(in["messages"], &msgs) // addUserMessage checks the type
	for _, m := range msgs {
		if m.Role != "system" {
			return true
		}
	}
	return false
}

// systemMessages are the request's system prompts, as sent.
func systemMessages(in map[string]json.RawMessage) []json.RawMessage {
	var all []json.RawMessage
	_ = json.Unmarshal(in["messages"], &all)
	var out []json.RawMessage
	for _, m := range all {
		var role struct {
			Role string `json:"role"`
		}
		if json.Unmarshal(m, &role) == nil && role.Role == "system" {
			out = append(out, m)
		}
	}
	return out
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// storedAnswer is the text of message id when it is an assistant's, else "".
func storedAnswer(msgs *rawObject, id string) string {
	raw, ok := msgs.get(id)
	if !ok || linkOf(raw).Role != "assistant" {
		return ""
	}
	content, _ := objectOrNew(raw).str("content")
	return content
}

// lastAnswerSent is the text of the request's last message when it is an
// assistant's, else "".
func lastAnswerSent(in map[string]json.RawMessage) string {
	var msgs []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	_ = json.Unmarshal(in["messages"], &msgs) // addUserMessage checks the type
	var text string
	if n := len(msgs); n > 0 && msgs[n-1].Role == "assistant" && json.Unmarshal(msgs[n-1].Content, &text) == nil {
		return text
	}
	return ""
}
