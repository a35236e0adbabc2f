package api

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/quire/quire/storage"
)

// What the stock 0.11 frontend's sidebar and chat menus call besides the
// saved-chat routes of chats.go: the sidebar's search, the archived list,
// mark read / unread, clone and fork; tag changes are refused (400) as
// tags are not modelled. Every route is the caller's own chats only.

// maxChatSearchRunes bounds a search text.
const maxChatSearchRunes = 500

func (a *API) registerChatActions(mux *http.ServeMux) {
	const p = "/api/v1/chats/"
	mux.HandleFunc("GET "+p+"search", a.authed(a.searchChats))
	mux.HandleFunc("GET "+p+"archived", a.authed(a.listArchivedChats))
	mux.HandleFunc("GET "+p+"archived/count", a.authed(a.countArchivedChats))
	mux.HandleFunc("POST "+p+"read", a.authed(a.markAllChatsRead))
	mux.HandleFunc("POST "+p+"{id}/unread", a.authed(a.markChatUnread))
	mux.HandleFunc("POST "+p+"{id}/clone", a.authed(a.cloneChat))
	mux.HandleFunc("POST "+p+"{id}/fork", a.authed(a.forkChat))
	// Tags are not modelled: adding or removing one says so (the chat
	// menu shows the detail), rather than a 404 that reads as "no chat".
	noTags := a.chatRoute(false, func(w http.ResponseWriter, _ *http.Request, _ *storage.Chat) {
		writeError(w, http.StatusBadRequest, "Tags are not supported yet")
	})
	mux.HandleFunc("POST "+p+"{id}/tags", a.authed(noTags))
	mux.HandleFunc("DELETE "+p+"{id}/tags", a.authed(noTags))
}

// searchChats: the caller's chats that are not archived whose title
// contains ?text (any case; empty: all), newest first, PageSize a ?page.
// Titles only: searching every conversation would read them all.
func (a *API) searchChats(w http.ResponseWriter, r *http.Request, s *session) {
	text := r.URL.Query().Get("text")
	if utf8.RuneCountInString(text) > maxChatSearchRunes || !cleanText(text) {
		writeError(w, http.StatusBadRequest, "text must be at most 500 characters of text")
		return
	}
	page, ok := pageParam(w, r.URL.Query())
	if !ok {
		return
	}
	list, err := a.cfg.Store.ListChats(r.Context(), storage.ListChatsOptions{UserID: s.user.ID})
	if err != nil {
		a.internalError(w, r, "search chats", err)
		return
	}
	needle := strings.ToLower(strings.TrimSpace(text))
	out := []chatTitleModel{}
	skip := (page - 1) * PageSize
	for _, c := range list {
		if needle != "" && !strings.Contains(strings.ToLower(c.Title), needle) {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		out = append(out, titleModel(c))
		if len(out) == PageSize {
			break
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func titleModel(c storage.ChatTitle) chatTitleModel {
	return chatTitleModel{ID: c.ID, Title: c.Title, UpdatedAt: c.UpdatedAt, CreatedAt: c.CreatedAt, LastReadAt: int64OrNil(c.LastReadAt)}
}

// listArchivedChats: the caller's archived chats, newest first, PageSize
// a ?page.
func (a *API) listArchivedChats(w http.ResponseWriter, r *http.Request, s *session) {
	page, ok := pageParam(w, r.URL.Query())
	if !ok {
		return
	}
	a.writeChatTitles(w, r, storage.ListChatsOptions{UserID: s.user.ID, Archived: true, Skip: (page - 1) * PageSize, Limit: PageSize})
}

func (a *API) countArchivedChats(w http.ResponseWriter, r *http.Request, s *session) {
	list, err := a.cfg.Store.ListChats(r.Context(), storage.ListChatsOptions{UserID: s.user.ID, Archived: true})
	if err != nil {
		a.internalError(w, r, "count archived chats", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"count": len(list)})
}

// markAllChatsRead sets every chat of the caller read now.
func (a *API) markAllChatsRead(w http.ResponseWriter, r *http.Request, s *session) {
	list, err := a.cfg.Store.ListChats(r.Context(), storage.ListChatsOptions{UserID: s.user.ID})
	if err != nil {
		a.internalError(w, r, "list chats", err)
		return
	}
	now := a.cfg.Now().Unix()
	for _, c := range list {
		err := a.cfg.Store.SetChatLastReadAt(r.Context(), c.ID, s.user.ID, now)
		if err != nil && !errors.Is(err, storage.ErrNotFound) { // deleted meanwhile
			a.internalError(w, r, "mark chats read", err)
			return
		}
	}
	writeJSON(w, http.StatusOK, true)
}

// markChatUnread clears the caller's read time of chat {id} (unread in
// the sidebar).
func (a *API) markChatUnread(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := pathID(w, r, "id")
	if !ok {
		return
	}
	err := a.cfg.Store.SetChatLastReadAt(r.Context(), id, s.user.ID, 0)
	if errors.Is(err, storage.ErrNotFound) {
		writeError(w, http.StatusNotFound, msgNotFound)
		return
	} else if err != nil {
		a.internalError(w, r, "mark chat unread", err)
		return
	}
	writeJSON(w, http.StatusOK, true)
}

// cloneForm is the body of clone and fork; both fields may be absent.
type cloneForm struct {
	Title     *string `json:"title"`
	MessageID *string `json:"message_id"`
}

// readCloneForm reads an optional body; on a refusal it has answered.
func readCloneForm(w http.ResponseWriter, r *http.Request) (cloneForm, bool) {
	var f cloneForm
	if r.ContentLength == 0 {
		return f, true
	}
	if !readJSON(w, r, chatBodySlack, &f) {
		return f, false
	}
	if f.Title != nil {
		if err := checkTitle(*f.Title); err != nil || strings.TrimSpace(*f.Title) == "" {
			writeError(w, http.StatusBadRequest, "title must be a non-empty text of at most 1000 characters")
			return f, false
		}
	}
	if f.MessageID != nil && !validID(*f.MessageID) {
		writeError(w, http.StatusBadRequest, "message_id must be an id (1-128 printable characters)")
		return f, false
	}
	return f, true
}

// cloneChat copies the caller's chat {id} into a new chat of theirs,
// titled as asked or "Clone of …", as Open WebUI's clone; it answers the
// new chat.
func (a *API) cloneChat(w http.ResponseWriter, r *http.Request, s *session) {
	a.copyChat(w, r, s, false)
}

// forkChat copies the caller's chat {id} down to message_id (default: the
// current message), without the other branches, into a new chat.
func (a *API) forkChat(w http.ResponseWriter, r *http.Request, s *session) {
	a.copyChat(w, r, s, true)
}

func (a *API) copyChat(w http.ResponseWriter, r *http.Request, s *session, fork bool) {
	f, ok := readCloneForm(w, r)
	if !ok {
		return
	}
	a.chatRoute(false, func(w http.ResponseWriter, r *http.Request, c *storage.Chat) {
		chat := objectOrNew(c.Chat)
		current, _ := chat.object("history").str("currentId")
		title := "Clone of " + c.Title
		if fork {
			title = "Fork of " + c.Title
			at := current
			if f.MessageID != nil {
				at = *f.MessageID
			}
			if !forkHistory(chat, at) {
				writeError(w, http.StatusNotFound, "Message not found")
				return
			}
		}
		if f.Title != nil {
			title = *f.Title
		}
		if utf8.RuneCountInString(title) > MaxTitleRunes {
			title = string([]rune(title)[:MaxTitleRunes])
		}
		chat.setValue("title", title)
		chat.setValue("originalChatId", c.ID)
		chat.setValue("branchPointMessageId", current)
		now := a.cfg.Now().Unix()
		n := &storage.Chat{UserID: s.user.ID, Title: title, Chat: chat.encode(), Meta: c.Meta,
			LastReadAt: now, CreatedAt: now, UpdatedAt: now}
		if int64(len(n.Chat)) > a.cfg.MaxChatBytes {
			writeError(w, http.StatusRequestEntityTooLarge, chatTooLarge{a.cfg.MaxChatBytes}.Error())
			return
		}
		if err := a.cfg.Store.CreateChat(r.Context(), n); err != nil {
			a.internalError(w, r, "copy chat", err)
			return
		}
		writeJSON(w, http.StatusOK, newChatModel(n))
	})(w, r, s)
}

// forkHistory keeps in chat only the messages from the first one down to
// id, each listing only its kept child, id current; false when id is no
// message.
func forkHistory(chat *rawObject, id string) bool {
	hist := chat.object("history")
	msgs := hist.object("messages")
	if _, ok := msgs.get(id); !ok {
		return false
	}
	var keys []string // id up to the first message, following parentId
	seen := map[string]bool{}
	for k := id; !seen[k]; {
		if _, ok := msgs.get(k); !ok {
			break
		}
		seen[k] = true
		keys = append(keys, k)
		p := linkOf(msgs.vals[k]).ParentID
		if p == nil {
			break
		}
		k = *p
	}
	slices.Reverse(keys)
	kept := newRawObject()
	for i, k := range keys {
		m := objectOrNew(msgs.vals[k])
		children := []string{}
		if i+1 < len(keys) {
			children = append(children, keys[i+1])
		}
		m.setValue("childrenIds", children)
		if i == 0 {
			m.setValue("parentId", nil)
		}
		kept.set(k, m.encode())
	}
	hist.setObject("messages", kept)
	hist.setValue("currentId", id)
	chat.setObject("history", hist)
	chat.set("messages", encodeList(messagePath(kept, id)))
	return true
}
