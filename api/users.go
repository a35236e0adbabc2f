package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/quire/quire/auth"
	"github.com/quire/quire/storage"
)

// userModel is an account as admins see it (never the password hash).
type userModel struct {
	ID           string `json:"id"`
	Email        string `json:"email"`
	Name         string `json:"name"`
	Role         string `json:"role"`
	CreatedAt    int64  `json:"created_at"`
	UpdatedAt    int64  `json:"updated_at"`
	LastActiveAt int64  `json:"last_active_at"`
}

func newUserModel(u *storage.User) userModel {
	return userModel{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, LastActiveAt: u.LastActiveAt}
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request, s *session) {
	if s.user.Role != storage.RoleAdmin {
		writeError(w, http.StatusForbidden, msgAdminOnly)
		return
	}
	users, err := a.cfg.Store.ListUsers(r.Context())
	if err != nil {
		a.internalError(w, r, "list users", err)
		return
	}
	out := make([]userModel, len(users))
	for i := range users {
		out[i] = newUserModel(&users[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out, "total": len(out)})
}

// Search limits: Open WebUI's share dialog asks for a handful of matches,
// and a bounded query keeps the LIKE scan cheap.
const (
	searchUsersLimit    = 20
	maxSearchQueryRunes = 100
)

// searchUser is an account as any signed-in user sees it in a search:
// enough to pick someone to share with, nothing more.
type searchUser struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

// searchUsers answers Open WebUI's GET /api/v1/users/search?query= for any
// signed-in user (the share dialog resolves an email with it). Pending
// accounts are included: they can be shared with now and read once an
// admin approves them.
func (a *API) searchUsers(w http.ResponseWriter, r *http.Request, s *session) {
	q := strings.TrimSpace(r.URL.Query().Get("query"))
	switch {
	case q == "":
		writeError(w, http.StatusBadRequest, "query is required")
		return
	case !cleanText(q):
		writeError(w, http.StatusBadRequest, "query must be UTF-8 text without NUL characters")
		return
	case utf8.RuneCountInString(q) > maxSearchQueryRunes:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("query must be at most %d characters", maxSearchQueryRunes))
		return
	}
	users, err := a.cfg.Store.SearchUsers(r.Context(), q, searchUsersLimit)
	if err != nil {
		a.internalError(w, r, "search users", err)
		return
	}
	out := visibleMatches(s.user, q, users)
	writeJSON(w, http.StatusOK, map[string]any{"users": out, "total": len(out)})
}

type roleForm struct {
	Role string `json:"role"`
}

// updateRole sets an account's role (admins only) and revokes its tokens,
// so that the new role applies from the next sign-in on.
func (a *API) updateRole(w http.ResponseWriter, r *http.Request, s *session) {
	if s.user.Role != storage.RoleAdmin {
		writeError(w, http.StatusForbidden, msgAdminOnly)
		return
	}
	var f roleForm
	if status, err := decode(w, r, a.cfg.MaxAuthBodyBytes, &f); err != nil {
		writeError(w, status, err.Error())
		return
	}
	switch f.Role {
	case storage.RoleAdmin, storage.RoleUser, storage.RolePending:
	default:
		writeError(w, http.StatusBadRequest, `role must be "admin", "user" or "pending"`)
		return
	}
	id := r.PathValue("id")
	if id == s.user.ID {
		// An admin demoting themselves could leave no admin at all.
		writeError(w, http.StatusBadRequest, "you cannot change your own role")
		return
	}
	if !validID(id) {
		writeError(w, http.StatusNotFound, msgNotFound)
		return
	}
	err := a.cfg.Store.UpdateUserRole(r.Context(), id, f.Role, auth.NewSessionStamp())
	if errors.Is(err, storage.ErrNotFound) {
		writeError(w, http.StatusNotFound, msgNotFound)
		return
	} else if err != nil {
		a.internalError(w, r, "update role", err)
		return
	}
	a.revoked(r.Context(), id)
	u, err := a.cfg.Store.GetUser(r.Context(), id)
	if err != nil {
		a.internalError(w, r, "get user", err)
		return
	}
	writeJSON(w, http.StatusOK, newUserModel(u))
}

// visibleMatches applies the search rule: admins see every match with its
// email. Anyone else sees matches by name, without emails, unless the query
// is an account's full email (any case): then that one account, with its
// email. So nobody but an admin can list emails with a query like "@".
func visibleMatches(me *storage.User, q string, users []storage.User) []searchUser {
	out := []searchUser{}
	if me.Role == storage.RoleAdmin {
		for _, u := range users {
			out = append(out, searchUser{ID: u.ID, Name: u.Name, Email: u.Email})
		}
		return out
	}
	for _, u := range users {
		if strings.EqualFold(u.Email, q) {
			return []searchUser{{ID: u.ID, Name: u.Name, Email: u.Email}}
		}
	}
	lq := strings.ToLower(q)
	for _, u := range users {
		if strings.Contains(strings.ToLower(u.Name), lq) {
			out = append(out, searchUser{ID: u.ID, Name: u.Name})
		}
	}
	return out
}
