package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/quire/quire/storage"
)

// maxNoteQueryRunes bounds a notes search.
const maxNoteQueryRunes = 200

// searchNotes answers the frontend's notes list, GET /api/v1/notes/search
// ?query=&view_option=created|shared&permission=write|read_only
// &order_by=updated_at|created_at|title&direction=asc|desc&page=N: the
// notes the caller may read (admins: all) that match, PageSize a page, as
// {items, total}; past the end items is empty (the list stops loading on
// an empty page).
func (a *API) searchNotes(w http.ResponseWriter, r *http.Request, s *session) {
	qv := r.URL.Query()
	opt := storage.ListNotesOptions{UserID: s.user.ID, All: s.user.Role == storage.RoleAdmin, MDPrefix: listMDRunes}
	opt.Query = strings.TrimSpace(qv.Get("query"))
	if !cleanText(opt.Query) || utf8.RuneCountInString(opt.Query) > maxNoteQueryRunes {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("query must be text of at most %d characters", maxNoteQueryRunes))
		return
	}
	for _, p := range []struct {
		name string
		to   *string
		ok   []string
	}{
		{"view_option", &opt.View, []string{storage.ViewOwned, storage.ViewShared}},
		{"permission", &opt.Access, []string{storage.AccessWrite, storage.AccessReadOnly}},
		{"order_by", &opt.OrderBy, []string{storage.OrderUpdated, storage.OrderCreated, storage.OrderTitle}},
	} {
		v := qv.Get(p.name)
		if v == "" || v == "null" { // the frontend's "All"/default
			continue
		}
		if !slices.Contains(p.ok, v) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("%s must be one of %s", p.name, strings.Join(p.ok, ", ")))
			return
		}
		*p.to = v
	}
	switch qv.Get("direction") {
	case "", "desc":
	case "asc":
		opt.Ascending = true
	default:
		writeError(w, http.StatusBadRequest, "direction must be asc or desc")
		return
	}
	page, ok := pageParam(w, qv)
	if !ok {
		return
	}
	opt.Skip, opt.Limit = (page-1)*PageSize, PageSize
	total, err := a.cfg.Store.CountNotes(r.Context(), opt)
	if err != nil {
		a.internalError(w, r, "count notes", err)
		return
	}
	notes, err := a.cfg.Store.ListNotes(r.Context(), opt)
	if err != nil {
		a.internalError(w, r, "search notes", err)
		return
	}
	items, err := a.listItems(r.Context(), notes)
	if err != nil {
		a.internalError(w, r, "get note owner", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "total": total})
}

// pinnedNotes answers GET /api/v1/notes/pinned (the sidebar): Quire has no
// pins yet, so none.
func (a *API) pinnedNotes(w http.ResponseWriter, _ *http.Request, _ *session) {
	writeJSON(w, http.StatusOK, []noteModel{})
}
