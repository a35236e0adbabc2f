package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/quire/quire/storage"
)

// Importing chats: the stock 0.11 frontend's settings import and its
// sidebar's file drop post {chats: [ChatImportForm]} and read back the
// list of chats made; older frontends posted one ChatImportForm and read
// back that one chat. Each chat is checked as POST /new checks one, and
// all are checked before any is stored, then stored in one transaction:
// a request is imported whole or not at all.

// Import limits.
const (
	// MaxImportChats bounds the chats of one import request (400 past it):
	// the frontend sends a whole export file at once.
	MaxImportChats = 1000
	// importBodyChats is how many chats of the largest size one import
	// body may hold (the body's limit is that many MaxChatBytes): an
	// export of many small chats fits, and the server holds a few copies
	// of a body while it checks it.
	importBodyChats = 4
	// maxImportClockSkew is how far past now an imported timestamp may
	// be: the exporting server's clock may run ahead of this one.
	maxImportClockSkew = 24 * 60 * 60
)

// chatImportForm is Open WebUI's ChatImportForm.
type chatImportForm struct {
	Chat json.RawMessage `json:"chat"`
	Meta json.RawMessage `json:"meta"`
	// Pinned is kept; FolderID only type-checked: folders are not
	// modelled, and an export names the folders of the server it came
	// from, so the chat is imported unfiled rather than refused.
	Pinned    *bool           `json:"pinned"`
	FolderID  *string         `json:"folder_id"`
	CreatedAt json.RawMessage `json:"created_at"`
	UpdatedAt json.RawMessage `json:"updated_at"`
}

// chatsImportForm is Open WebUI's ChatsImportForm, or (no chats key) one
// chatImportForm, as older frontends sent.
type chatsImportForm struct {
	Chats *[]json.RawMessage `json:"chats"`
	chatImportForm
}

func (a *API) registerChatImport(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/chats/import", a.authed(a.importChats))
}

// importChats stores the body's chats as new chats of the caller (fresh
// ids) and answers them as created: a list for a list, one for one.
func (a *API) importChats(w http.ResponseWriter, r *http.Request, s *session) {
	var f chatsImportForm
	if !readJSON(w, r, importBodyChats*a.cfg.MaxChatBytes+chatBodySlack, &f) {
		return
	}
	now := a.cfg.Now().Unix()
	if f.Chats == nil {
		if f.Chat == nil {
			writeError(w, http.StatusBadRequest, "chats is required and must be a list of chats to import")
			return
		}
		c, status, err := a.importedChat(&f.chatImportForm, s.user.ID, now)
		if err != nil {
			writeError(w, status, err.Error())
			return
		}
		if a.storeImported(w, r, []*storage.Chat{c}) {
			writeJSON(w, http.StatusOK, newChatModel(c))
		}
		return
	}
	if f.Chat != nil {
		writeError(w, http.StatusBadRequest, "send either chats (a list) or one chat, not both")
		return
	}
	raws := *f.Chats
	if len(raws) > MaxImportChats {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("at most %d chats can be imported at once", MaxImportChats))
		return
	}
	chats := make([]*storage.Chat, len(raws))
	for i, raw := range raws {
		c, status, err := a.importedElement(raw, s.user.ID, now)
		if err != nil {
			writeError(w, status, fmt.Sprintf("chats[%d]: %s", i, err))
			return
		}
		chats[i], raws[i] = c, nil // the stored copy is all that is kept
	}
	if !a.storeImported(w, r, chats) {
		return
	}
	out := make([]chatModel, len(chats))
	for i, c := range chats {
		out[i] = newChatModel(c)
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) storeImported(w http.ResponseWriter, r *http.Request, chats []*storage.Chat) bool {
	if err := a.cfg.Store.CreateChats(r.Context(), chats); err != nil {
		a.internalError(w, r, "import chats", err)
		return false
	}
	return true
}

// importedElement decodes one element of chats as readJSON decodes a form
// (the body is valid UTF-8 JSON already) and checks it (importedChat).
func (a *API) importedElement(raw json.RawMessage, userID string, now int64) (*storage.Chat, int, error) {
	var f chatImportForm
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return nil, http.StatusBadRequest, errors.New("each chat to import must be an object")
	}
	if err := formCaseVariant(raw, &f); err != nil {
		return nil, http.StatusBadRequest, err
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		status, err := decodeStatus(err)
		return nil, status, err
	}
	return a.importedChat(&f, userID, now)
}

// importedChat is the chat f describes, owned by userID, checked as POST
// /new checks one: checkChat (413 past MaxChatBytes), parseChat's title;
// meta an object, clean as a chat is; timestamps Unix seconds, now when
// absent, null or 0.
func (a *API) importedChat(f *chatImportForm, userID string, now int64) (*storage.Chat, int, error) {
	if status, err := checkChat(f.Chat, a.cfg.MaxChatBytes); err != nil {
		return nil, status, err
	}
	obj, err := parseChat(f.Chat)
	if err != nil {
		return nil, http.StatusBadRequest, err
	}
	meta := bytes.TrimSpace(f.Meta)
	if string(meta) == "null" {
		meta = nil
	}
	if meta != nil {
		if meta[0] != '{' {
			return nil, http.StatusBadRequest, errors.New("meta must be an object")
		}
		if len(meta) > chatBodySlack {
			return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("meta must be at most %d bytes", chatBodySlack)
		}
		if depth, clean := scanJSON(meta); depth > maxChatDepth || !clean {
			return nil, http.StatusBadRequest, fmt.Errorf("meta must nest at most %d levels deep, without NUL characters or numbers beyond double precision", maxChatDepth)
		}
	}
	created, err := importTime("created_at", f.CreatedAt, now)
	if err != nil {
		return nil, http.StatusBadRequest, err
	}
	updated, err := importTime("updated_at", f.UpdatedAt, now)
	if err != nil {
		return nil, http.StatusBadRequest, err
	}
	updated = max(updated, created)
	return &storage.Chat{UserID: userID, Title: chatTitleOf(obj), Chat: obj.encode(), Meta: json.RawMessage(meta),
		Pinned: f.Pinned != nil && *f.Pinned, LastReadAt: max(now, updated), CreatedAt: created, UpdatedAt: updated}, 0, nil
}

// importTime reads an imported timestamp: null, absent or 0 is now;
// otherwise whole Unix seconds from 1 up to a day past now (a time in
// milliseconds is refused, not stored thousands of years ahead).
func importTime(name string, raw json.RawMessage, now int64) (int64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return now, nil
	}
	var t int64
	if err := json.Unmarshal(raw, &t); err != nil || t < 0 || t > now+maxImportClockSkew {
		return 0, fmt.Errorf("%s must be whole Unix seconds, not after now, or null", name)
	}
	if t == 0 {
		return now, nil
	}
	return t, nil
}
