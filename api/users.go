package api

import (
	"errors"
	"net/http"

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
