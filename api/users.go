package api

import (
	"context"
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

// Search limits: a page of GET /api/v1/users/search is searchUsersLimit
// accounts (Open WebUI's share dialog shows a handful at a time), and a
// bounded query keeps the LIKE scan cheap.
const (
	searchUsersLimit    = 20
	maxSearchQueryRunes = 100
)

// searchUser is an account as any signed-in user sees it in a search:
// enough to pick someone to share with, nothing more (the email only as
// visibleMatches allows).
type searchUser struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	Email           string `json:"email"`
	Role            string `json:"role"`
	ProfileImageURL string `json:"profile_image_url"`
}

func newSearchUser(u *storage.User, withEmail bool) searchUser {
	su := searchUser{ID: u.ID, Name: u.Name, Role: u.Role, ProfileImageURL: profileImageURL(u.ID)}
	if withEmail {
		su.Email = u.Email
	}
	return su
}

// searchUsers answers Open WebUI's GET /api/v1/users/search?query=&page=
// &order_by=name&direction=asc for any signed-in user: the share dialog
// lists accounts with it (first without a query) and resolves an email.
// Pending accounts are included: they can be shared with now and read
// once an admin approves them. Who sees which emails: visibleMatches.
func (a *API) searchUsers(w http.ResponseWriter, r *http.Request, s *session) {
	qv := r.URL.Query()
	q := strings.TrimSpace(qv.Get("query"))
	switch {
	case !cleanText(q):
		writeError(w, http.StatusBadRequest, "query must be UTF-8 text without NUL characters")
		return
	case utf8.RuneCountInString(q) > maxSearchQueryRunes:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("query must be at most %d characters", maxSearchQueryRunes))
		return
	}
	if ob := qv.Get("order_by"); ob != "" && ob != "name" {
		writeError(w, http.StatusBadRequest, `order_by must be "name"`)
		return
	}
	if d := qv.Get("direction"); d != "" && d != "asc" {
		writeError(w, http.StatusBadRequest, `direction must be "asc"`)
		return
	}
	page, ok := pageParam(w, qv)
	if !ok {
		return
	}
	out, total, err := a.visibleMatches(r.Context(), s.user, q, (page-1)*searchUsersLimit)
	if err != nil {
		a.internalError(w, r, "search users", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out, "total": total})
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
	if !readJSON(w, r, a.cfg.MaxAuthBodyBytes, &f) {
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

// visibleMatches applies the search rule to one page (from skip): admins
// see every match by email or name, with its email. Anyone else sees
// matches by name, without emails, unless the query is an account's full
// email (any case): then that one account, with its email. So nobody but
// an admin can list emails with a query like "@".
func (a *API) visibleMatches(ctx context.Context, me *storage.User, q string, skip int) ([]searchUser, int, error) {
	out := []searchUser{}
	admin := me.Role == storage.RoleAdmin
	if !admin && strings.Contains(q, "@") {
		u, err := a.cfg.Store.GetUserByEmail(ctx, strings.ToLower(q))
		if err == nil {
			if skip == 0 {
				out = append(out, newSearchUser(u, true))
			}
			return out, 1, nil
		} else if !errors.Is(err, storage.ErrNotFound) {
			return nil, 0, err
		}
	}
	users, total, err := a.cfg.Store.SearchUsers(ctx, storage.SearchUsersOptions{
		Query: q, NameOnly: !admin, Skip: skip, Limit: searchUsersLimit,
	})
	if err != nil {
		return nil, 0, err
	}
	for i := range users {
		out = append(out, newSearchUser(&users[i], admin))
	}
	return out, total, nil
}
