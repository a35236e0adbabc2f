package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/quire/quire/chat"
	"github.com/quire/quire/internal/runecut"
	"github.com/quire/quire/storage"
)

// Saved chats (protocol §9.8): the frontend's conversation objects, stored
// whole; an update merges into the stored object as Open WebUI's does, so
// that a writer holding an older copy loses nobody's messages.

// Chat limits.
const (
	// MaxChatBytesDefault is Config.MaxChatBytes when none is given.
	MaxChatBytesDefault = 8 << 20
	// chatBodySlack is what a chat request body may hold beyond the
	// object: its frame.
	chatBodySlack = 64 << 10
	// maxChatDepth bounds a conversation's nesting (messages, their output
	// items and tool calls nest about a dozen deep).
	maxChatDepth = 100
	// defaultChatTitle is Open WebUI's title of a chat that has none.
	defaultChatTitle = "New Chat"
)

// chatTooLarge: the chat object, sent or grown by an edit, is over the
// limit (413).
type chatTooLarge struct{ limit int64 }

func (e chatTooLarge) Error() string {
	return fmt.Sprintf("the chat would be larger than %d bytes", e.limit)
}

var (
	// errNotOwner: the chat is someone else's; answered like an absent one.
	errNotOwner = errors.New("not the chat's owner")
)

func (a *API) registerChats(mux *http.ServeMux) {
	const p = "/api/v1/chats/"
	mux.HandleFunc("POST "+p+"new", a.authed(a.createChat))
	mux.HandleFunc("GET "+p+"{$}", a.authed(a.listChats))
	mux.HandleFunc("GET "+p+"list", a.authed(a.listChats))
	mux.HandleFunc("GET "+p+"pinned", a.authed(a.listPinnedChats))
	mux.HandleFunc("GET "+p+"all/tags", a.authed(a.noTags))
	mux.HandleFunc("GET "+p+"{id}", a.authed(a.chatRoute(true, a.getChat)))
	mux.HandleFunc("POST "+p+"{id}", a.authed(a.updateChat))
	mux.HandleFunc("DELETE "+p+"{id}", a.authed(a.chatRoute(true, a.deleteChat)))
	mux.HandleFunc("GET "+p+"{id}/tags", a.authed(a.chatRoute(false, func(w http.ResponseWriter, _ *http.Request, _ *storage.Chat) {
		writeJSON(w, http.StatusOK, []any{})
	})))
	mux.HandleFunc("GET "+p+"{id}/pinned", a.authed(a.chatRoute(false, func(w http.ResponseWriter, _ *http.Request, c *storage.Chat) {
		writeJSON(w, http.StatusOK, c.Pinned)
	})))
	mux.HandleFunc("POST "+p+"{id}/pin", a.authed(a.toggleChat(func(c *storage.Chat) { c.Pinned = !c.Pinned })))
	mux.HandleFunc("POST "+p+"{id}/archive", a.authed(a.toggleChat(func(c *storage.Chat) { c.Archived = !c.Archived })))
	mux.HandleFunc("DELETE "+p+"{id}/messages/{mid}", a.authed(a.deleteChatMessage))
}

// chatModel is Open WebUI's ChatResponse.
type chatModel struct {
	ID         string          `json:"id"`
	UserID     string          `json:"user_id"`
	Title      string          `json:"title"`
	Chat       json.RawMessage `json:"chat"`
	UpdatedAt  int64           `json:"updated_at"`
	CreatedAt  int64           `json:"created_at"`
	ShareID    *string         `json:"share_id"`
	Archived   bool            `json:"archived"`
	Pinned     bool            `json:"pinned"`
	Meta       json.RawMessage `json:"meta"`
	FolderID   *string         `json:"folder_id"`
	LastReadAt *int64          `json:"last_read_at"`
}

func newChatModel(c *storage.Chat) chatModel {
	return chatModel{ID: c.ID, UserID: c.UserID, Title: c.Title, Chat: c.Chat, UpdatedAt: c.UpdatedAt,
		CreatedAt: c.CreatedAt, ShareID: strOrNil(c.ShareID), Archived: c.Archived, Pinned: c.Pinned,
		Meta: c.Meta, FolderID: strOrNil(c.FolderID), LastReadAt: int64OrNil(c.LastReadAt)}
}

// chatTitleModel is Open WebUI's ChatTitleIdResponse, an entry of the
// sidebar's lists; a null last_read_at shows the chat as unread.
type chatTitleModel struct {
	ID         string `json:"id"`
	Title      string `json:"title"`
	UpdatedAt  int64  `json:"updated_at"`
	CreatedAt  int64  `json:"created_at"`
	LastReadAt *int64 `json:"last_read_at"`
}

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func int64OrNil(n int64) *int64 {
	if n == 0 {
		return nil
	}
	return &n
}

// chatForm is the body of POST /new and POST /{id}. Open WebUI's
// "variables" are not kept.
type chatForm struct {
	Chat     json.RawMessage `json:"chat"`
	FolderID *string         `json:"folder_id"`
}

// readChatForm decodes and checks the body; on a refusal it has answered.
func (a *API) readChatForm(w http.ResponseWriter, r *http.Request) (*chatForm, bool) {
	var f chatForm
	if !readJSON(w, r, a.cfg.MaxChatBytes+chatBodySlack, &f) {
		return nil, false
	}
	if status, err := checkChat(f.Chat, a.cfg.MaxChatBytes); err != nil {
		writeError(w, status, err.Error())
		return nil, false
	}
	if f.FolderID != nil {
		writeError(w, http.StatusNotFound, "Folder not found") // folders are not modelled yet
		return nil, false
	}
	return &f, true
}

// messageShape is what checkChat requires of a message: the fields the
// server reads, with their types.
type messageShape struct {
	ID          *string  `json:"id"`
	Role        *string  `json:"role"`
	ParentID    *string  `json:"parentId"`
	ChildrenIDs []string `json:"childrenIds"`
	Done        *bool    `json:"done"`
}

// checkChat accepts a conversation object the server can store, merge and
// hand back to any JSON client: at most limit bytes (413), no NUL, numbers within double precision, at most maxChatDepth deep, and
// history.messages (an object of message objects), history.currentId and
// messages (a list of message objects) of the types the frontend and the
// merge read. (The title: parseChat.) No key of those, or of a message,
// may differ from its name only in case (caseVariant). raw is part of a
// body readJSON read, so UTF-8 already: not scanned for it again.
func checkChat(raw json.RawMessage, limit int64) (int, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return http.StatusBadRequest, errors.New("chat is required and must be an object")
	}
	if int64(len(raw)) > limit {
		return http.StatusRequestEntityTooLarge, chatTooLarge{limit}
	}
	depth, clean := scanJSON(raw)
	if depth > maxChatDepth {
		return http.StatusBadRequest, fmt.Errorf("chat must nest at most %d levels deep", maxChatDepth)
	}
	if !clean {
		return http.StatusBadRequest, errors.New("chat must not contain NUL characters or numbers beyond double precision")
	}
	if mayHoldCaseVariant(raw) {
		if err := caseVariant(raw); err != nil {
			return http.StatusBadRequest, err
		}
	}
	var shape struct {
		History *struct {
			Messages  map[string]*messageShape `json:"messages"`
			CurrentID *string                  `json:"currentId"`
		} `json:"history"`
		Messages []*messageShape `json:"messages"`
	}
	if err := json.Unmarshal(raw, &shape); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) && typ.Field != "" {
			return http.StatusBadRequest, fmt.Errorf("chat.%s has the wrong type", typ.Field)
		}
		return http.StatusBadRequest, errors.New("chat has the wrong shape")
	}
	if shape.History != nil {
		for id, m := range shape.History.Messages {
			if m == nil || !validID(id) {
				return http.StatusBadRequest, errors.New("chat.history.messages must map message ids to message objects")
			}
		}
	}
	for _, m := range shape.Messages {
		if m == nil {
			return http.StatusBadRequest, errors.New("chat.messages must be a list of message objects")
		}
	}
	return 0, nil
}

// The members of a chat the server reads, at each level (checkChat,
// parseChat, the merge's linkOf and messageIDOf).
var (
	chatKeys    = []string{"title", "history", "messages"}
	historyKeys = []string{"messages", "currentId"}
	messageKeys = []string{"id", "role", "parentId", "childrenIds", "done"}
)

// caseVariant refuses a chat holding a key that differs only in case from
// a member the server reads there: encoding/json matches struct fields in
// any case, the last key winning, while the frontend and the stored chat
// go by the exact key, so {"messages":[null],"Messages":[]} passed the
// type check that decodes into a struct, and the merge read a message's
// {"ParentId": …} as the parentId the frontend does not see. Without such
// keys, decoding into a struct reads exactly the members stored. The
// shapes themselves are checkChat's.
func caseVariant(raw json.RawMessage) error {
	chat, err := keysOf(raw, "chat", chatKeys)
	if err != nil || chat == nil {
		return err
	}
	if chat["history"] != nil {
		history, err := keysOf(chat["history"], "chat.history", historyKeys)
		if err != nil || history == nil {
			return err
		}
		var msgs map[string]json.RawMessage
		if json.Unmarshal(history["messages"], &msgs) == nil {
			for id, m := range msgs {
				if _, err := keysOf(m, "chat.history.messages."+id, messageKeys); err != nil {
					return err
				}
			}
		}
	}
	var list []json.RawMessage
	if json.Unmarshal(chat["messages"], &list) == nil {
		for i, m := range list {
			if _, err := keysOf(m, fmt.Sprintf("chat.messages[%d]", i), messageKeys); err != nil {
				return err
			}
		}
	}
	return nil
}

// readNames is every name in chatKeys, historyKeys and messageKeys.
var readNames = func() [][]byte {
	var out [][]byte
	for _, n := range slices.Concat(chatKeys, historyKeys, messageKeys) {
		out = append(out, []byte(n))
	}
	return out
}()

// mayHoldCaseVariant reports whether a string of the JSON text b (a key,
// or any other) is one of readNames in another case. Decoding every
// object caseVariant looks into costs three times the rest of checkChat
// on a chat of megabytes; one pass over the strings is cheap, and
// almost no chat holds such a string.
func mayHoldCaseVariant(b []byte) bool {
	const longest = 6 * len("childrenIds") // each character escaped
	for i := 0; i < len(b); i++ {
		if b[i] != '"' {
			continue
		}
		start, escaped := i, false
		for i++; i < len(b) && b[i] != '"'; i++ {
			if b[i] == '\\' {
				escaped = true
				i++
			}
		}
		if i >= len(b) {
			// Not closed (only in text that is no JSON; a request's chat
			// always is): a "\" last stepped past the end, and b[:i] panicked.
			break
		}
		if i-start-1 > longest {
			continue
		}
		s := b[start+1 : i]
		if escaped {
			var u string
			if json.Unmarshal(b[start:i+1], &u) != nil {
				continue
			}
			s = []byte(u)
		}
		for _, n := range readNames {
			if !bytes.Equal(s, n) && bytes.EqualFold(s, n) {
				return true
			}
		}
	}
	return false
}

// keysOf decodes raw's members when it is an object (else nil: its type
// is checkChat's to refuse) and refuses a key that is one of names in
// another case; path names the object.
func keysOf(raw json.RawMessage, path string, names []string) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &m) != nil {
		return nil, nil
	}
	for k := range m {
		for _, n := range names {
			if k != n && strings.EqualFold(k, n) {
				return nil, fmt.Errorf("%s must not hold %q: a key differing from %q only in case is ambiguous", path, k, n)
			}
		}
	}
	return m, nil
}

// scanJSON makes one pass over valid JSON text (the decoder checked its
// syntax) and returns its deepest nesting and whether it is clean as
// cleanValue means it: no string (keys too) holding NUL, which valid JSON
// can only spell \u0000, and no number beyond double precision. It stands
// in for decoding every token, which costs ten times as much on a chat of
// megabytes.
func scanJSON(b []byte) (depth int, clean bool) {
	d := 0
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
					if i+4 < len(b) && b[i] == 'u' && string(b[i+1:i+5]) == "0000" {
						return depth, false
					}
				}
			}
		case c == '[' || c == '{':
			d++
			depth = max(depth, d)
		case c == ']' || c == '}':
			d--
		case c == '-' || (c >= '0' && c <= '9'):
			j := i
			for j < len(b) && strings.IndexByte("0123456789+-.eE", b[j]) >= 0 {
				j++
			}
			if !cleanNumber(json.Number(b[i:j])) {
				return depth, false
			}
			i = j - 1
		}
	}
	return depth, true
}

// parseChat parses a chat checkChat accepted and checks its title, by
// the exact key that is stored and listed: a struct's keys match in any
// case, the last one winning, so a check decoding into one passed
// {"title": <any length>, "Title": "x"}.
func parseChat(raw json.RawMessage) (*rawObject, error) {
	obj, err := parseObject(raw)
	if err != nil {
		return nil, errors.New("chat is required and must be an object")
	}
	if t, ok := obj.get("title"); ok && string(t) != "null" {
		title, isStr := obj.str("title")
		if !isStr {
			return nil, errors.New("chat.title must be a string")
		}
		if err := checkTitle(title); err != nil {
			return nil, err
		}
	}
	return obj, nil
}

// chatTitleOf is the object's title, or Open WebUI's default.
func chatTitleOf(chat *rawObject) string {
	if t, ok := chat.str("title"); ok {
		return t
	}
	return defaultChatTitle
}

func (a *API) createChat(w http.ResponseWriter, r *http.Request, s *session) {
	f, ok := a.readChatForm(w, r)
	if !ok {
		return
	}
	obj, err := parseChat(f.Chat)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	now := a.cfg.Now().Unix()
	c := &storage.Chat{UserID: s.user.ID, Title: chatTitleOf(obj), Chat: obj.encode(),
		LastReadAt: now, CreatedAt: now, UpdatedAt: now}
	if err := a.cfg.Store.CreateChat(r.Context(), c); err != nil {
		a.internalError(w, r, "create chat", err)
		return
	}
	writeJSON(w, http.StatusOK, newChatModel(c))
}

// listChats: the caller's chats that are not archived, newest first;
// pinned ones only with ?include_pinned=true (the sidebar lists those
// apart). ?page=N (from 1) takes pages of PageSize, as Open WebUI.
func (a *API) listChats(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	opt := storage.ListChatsOptions{UserID: s.user.ID, Pinned: new(false)}
	for _, name := range []string{"include_pinned", "include_folders"} {
		if v := q.Get(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				writeError(w, http.StatusBadRequest, name+" must be true or false")
				return
			}
			if name == "include_pinned" && b {
				opt.Pinned = nil
			}
		}
	}
	if q.Has("page") {
		page, ok := pageParam(w, q)
		if !ok {
			return
		}
		opt.Skip, opt.Limit = (page-1)*PageSize, PageSize
	}
	a.writeChatTitles(w, r, opt)
}

// listPinnedChats: the caller's pinned chats that are not archived.
func (a *API) listPinnedChats(w http.ResponseWriter, r *http.Request, s *session) {
	a.writeChatTitles(w, r, storage.ListChatsOptions{UserID: s.user.ID, Pinned: new(true)})
}

func (a *API) writeChatTitles(w http.ResponseWriter, r *http.Request, opt storage.ListChatsOptions) {
	list, err := a.cfg.Store.ListChats(r.Context(), opt)
	if err != nil {
		a.internalError(w, r, "list chats", err)
		return
	}
	out := make([]chatTitleModel, len(list))
	for i, c := range list {
		out[i] = chatTitleModel{ID: c.ID, Title: c.Title, UpdatedAt: c.UpdatedAt, CreatedAt: c.CreatedAt, LastReadAt: int64OrNil(c.LastReadAt)}
	}
	writeJSON(w, http.StatusOK, out)
}

// noTags: tags are not modelled yet; the frontend asks on load.
func (a *API) noTags(w http.ResponseWriter, _ *http.Request, _ *session) {
	writeJSON(w, http.StatusOK, []any{})
}

// chatRoute loads {id}: 404 unless the caller owns it, or, with admin, is
// an admin (Open WebUI lets admins read and delete any chat, and change
// none).
func (a *API) chatRoute(admin bool, h func(http.ResponseWriter, *http.Request, *storage.Chat)) func(http.ResponseWriter, *http.Request, *session) {
	return func(w http.ResponseWriter, r *http.Request, s *session) {
		id, ok := pathID(w, r, "id")
		if !ok {
			return
		}
		c, err := a.cfg.Store.GetChat(r.Context(), id)
		if errors.Is(err, storage.ErrNotFound) || (err == nil && c.UserID != s.user.ID && !(admin && s.user.Role == storage.RoleAdmin)) {
			writeError(w, http.StatusNotFound, msgNotFound)
			return
		} else if err != nil {
			a.internalError(w, r, "get chat", err)
			return
		}
		h(w, r, c)
	}
}

func (a *API) getChat(w http.ResponseWriter, _ *http.Request, c *storage.Chat) {
	writeJSON(w, http.StatusOK, newChatModel(c))
}

func (a *API) deleteChat(w http.ResponseWriter, r *http.Request, c *storage.Chat) {
	err := a.cfg.Store.DeleteChat(r.Context(), c.ID)
	if errors.Is(err, storage.ErrNotFound) {
		writeError(w, http.StatusNotFound, msgNotFound) // deleted meanwhile
		return
	} else if err != nil {
		a.internalError(w, r, "delete chat", err)
		return
	}
	a.endChatTasks(r, c.ID, nil)
	writeJSON(w, http.StatusOK, true)
}

// editChat runs fn on the caller's chat {id} under the row lock and
// answers the stored chat, after then (unless nil) has run on it; another
// account's chat is 404, and so is fn's storage.ErrNotFound; fn's
// chatTooLarge is 413.
func (a *API) editChat(w http.ResponseWriter, r *http.Request, s *session, fn func(*storage.Chat) error, then func(*storage.Chat)) {
	id, ok := pathID(w, r, "id")
	if !ok {
		return
	}
	c, err := a.cfg.Store.UpdateChat(r.Context(), id, func(c *storage.Chat) error {
		if c.UserID != s.user.ID {
			return errNotOwner
		}
		return fn(c)
	})
	switch {
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, errNotOwner):
		writeError(w, http.StatusNotFound, msgNotFound)
	case errors.As(err, new(chatTooLarge)):
		writeError(w, http.StatusRequestEntityTooLarge, err.Error())
	case err != nil:
		a.internalError(w, r, "update chat", err)
	default:
		if then != nil {
			then(c)
		}
		writeJSON(w, http.StatusOK, newChatModel(c))
	}
}

// updateChat merges the body's chat into the stored one (mergeChat).
func (a *API) updateChat(w http.ResponseWriter, r *http.Request, s *session) {
	f, ok := a.readChatForm(w, r)
	if !ok {
		return
	}
	in, err := parseChat(f.Chat)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	now := a.cfg.Now().Unix()
	a.editChat(w, r, s, func(c *storage.Chat) error {
		merged := mergeChat(objectOrNew(c.Chat), in)
		body := merged.encode()
		if int64(len(body)) > a.cfg.MaxChatBytes {
			return chatTooLarge{a.cfg.MaxChatBytes}
		}
		c.Chat, c.Title, c.UpdatedAt = body, chatTitleOf(merged), max(now, c.UpdatedAt)
		return nil
	}, nil)
}

// toggleChat flips a flag of the caller's chat (pin, archive); like Open
// WebUI it answers the chat. The flag is no news: updated_at stays.
func (a *API) toggleChat(flip func(*storage.Chat)) func(http.ResponseWriter, *http.Request, *session) {
	return func(w http.ResponseWriter, r *http.Request, s *session) {
		a.editChat(w, r, s, func(c *storage.Chat) error { flip(c); return nil }, nil)
	}
}

// deleteChatMessage removes message {mid} and its replies from the
// caller's chat, as the frontend does before it calls this: the replies'
// own replies move up to the message's parent, and the current message
// becomes the newest leaf below that parent. An absent message is 404.
// A task writing into a removed message ends (endChatTasks).
func (a *API) deleteChatMessage(w http.ResponseWriter, r *http.Request, s *session) {
	mid, ok := pathID(w, r, "mid")
	if !ok {
		return
	}
	now := a.cfg.Now().Unix()
	var kept *rawObject // the messages left
	a.editChat(w, r, s, func(c *storage.Chat) error {
		chat := objectOrNew(c.Chat)
		if !removeMessage(chat, mid) {
			return storage.ErrNotFound
		}
		kept = chat.object("history").object("messages")
		c.Chat, c.UpdatedAt = chat.encode(), max(now, c.UpdatedAt)
		return nil
	}, func(c *storage.Chat) {
		a.endChatTasks(r, c.ID, func(messageID string) bool {
			_, ok := kept.get(messageID)
			return !ok
		})
	})
}

// endChatTasks ends the running tasks of chat chatID whose message gone
// reports removed (every task of the chat when gone is nil), as a stop
// does, and waits until they have (or r is cancelled): their final save
// finds the message, or the chat, gone and writes nothing.
func (a *API) endChatTasks(r *http.Request, chatID string, gone func(messageID string) bool) {
	ts, err := a.cfg.Tasks.List(r.Context(), func(t *chat.Task) bool {
		return t.ChatID == chatID && (gone == nil || gone(t.MessageID))
	})
	if err == nil {
		err = a.cfg.Tasks.Stop(r.Context(), chat.ErrTaskStopped, chat.IDs(ts)...)
	}
	if err != nil {
		a.log.WarnContext(r.Context(), "chat tasks of a deletion not ended", "chat", chatID, "err", err)
	}
}

// AssistantMessage is the answer a chat task stores (saveAssistantMessage).
type AssistantMessage struct {
	Content  string
	Done     bool
	Error    string // "" : none; else stored as {"content": Error}
	Model    string // "" : left as stored
	ParentID string // "" : left as stored
	// Stored: the message must be in the chat already (a task's answer,
	// stored before the task began); when it is not (deleted meanwhile),
	// nothing is written and the save is errAnswerGone.
	Stored bool
	// Fit: an answer that would grow the chat past MaxChatBytes is cut to
	// fit, and Error says so (msgAnswerCut), rather than refused: a task's
	// final save, whose refusal would leave the answer empty and
	// unfinished.
	Fit bool
}

// msgAnswerCut is the error of an answer cut to fit its chat (Fit).
const msgAnswerCut = "the answer was cut: the chat has reached its size limit"

// errAnswerGone: the answer a task writes into was deleted meanwhile.
var errAnswerGone = errors.New("the answer's message was deleted")

// saveAssistantMessage writes m as message messageID of the account's chat
// (history.messages[messageID]; chat.messages, when present, follows as
// the path to the current message: putAssistantMessage), in one locked
// update, so a save racing a REST update loses neither. A chat id that names no saved
// chat (local:…, temporary:…) is a no-op; an unknown chat, or one the
// account does not own, is storage.ErrNotFound. An answer that would grow
// the chat past MaxChatBytes is refused (chatTooLarge) or, with m.Fit,
// cut; *m is then what was stored.
func (a *API) saveAssistantMessage(ctx context.Context, userID, chatID, messageID string, m *AssistantMessage) error {
	if !validID(chatID) {
		return fmt.Errorf("api: save assistant message: chat %q: %w", chatID, storage.ErrNotFound)
	}
	if !storage.SavedChatID(chatID) {
		return nil
	}
	if !validID(messageID) {
		return fmt.Errorf("api: save assistant message: invalid message id %q", messageID)
	}
	// NUL would make the chat unsavable by the frontend (checkChat).
	m.Content, m.Error, m.Model, m.ParentID = noNUL(m.Content), noNUL(m.Error), noNUL(m.Model), noNUL(m.ParentID)
	now := a.cfg.Now().Unix()
	var stored AssistantMessage
	_, err := a.cfg.Store.UpdateChat(ctx, chatID, func(c *storage.Chat) error {
		if c.UserID != userID {
			return errNotOwner
		}
		for fit := *m; ; {
			chat := objectOrNew(c.Chat)
			if _, ok := chat.object("history").object("messages").get(messageID); fit.Stored && !ok {
				return errAnswerGone
			}
			putAssistantMessage(chat, messageID, fit, now)
			body := chat.encode()
			over := int64(len(body)) - a.cfg.MaxChatBytes
			if over <= 0 {
				c.Chat, c.UpdatedAt = body, max(now, c.UpdatedAt)
				stored = fit
				return nil
			}
			if !fit.Fit || fit.Content == "" {
				return chatTooLarge{a.cfg.MaxChatBytes}
			}
			fit = cutAnswer(fit, over)
		}
	})
	if errors.Is(err, errNotOwner) {
		err = storage.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("api: save assistant message to chat %s: %w", chatID, err)
	}
	*m = stored
	return nil
}

// cutAnswer shortens m's content by half of over bytes (at least one), at
// a rune's start, and adds msgAnswerCut to its error: the chat holds the
// answer at most twice (history and messages), and each byte cut shortens
// each copy by at least one, so the cuts never overshoot by more than the
// last one, and end.
func cutAnswer(m AssistantMessage, over int64) AssistantMessage {
	if !strings.Contains(m.Error, msgAnswerCut) {
		m.Error = strings.TrimPrefix(m.Error+"; "+msgAnswerCut, "; ")
	}
	keep := int64(len(m.Content)) - max(over/2, 1)
	m.Content = runecut.Cut(m.Content, int(max(keep, 0)))
	return m
}

func noNUL(s string) string { return strings.ReplaceAll(s, "\x00", "") }
