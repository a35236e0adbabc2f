package api

import (
	"context"
	"net/http"
)

// Presence is what the API reads of presence (presence.Manager has it).
type Presence interface {
	Online(ctx context.Context) ([]string, error)
	Models(ctx context.Context) ([]string, error)
}

// activeUsers answers GET /api/v1/users/active for any signed-in user: the
// accounts with at least one live socket (§9.6).
func (a *API) activeUsers(w http.ResponseWriter, r *http.Request, _ *session) {
	a.presenceList(w, r, "user_ids", Presence.Online)
}

// usage answers GET /api/usage: the models some socket is using now (a
// `usage` event in the last 3 s, §9.6).
func (a *API) usage(w http.ResponseWriter, r *http.Request, _ *session) {
	a.presenceList(w, r, "model_ids", Presence.Models)
}

func (a *API) presenceList(w http.ResponseWriter, r *http.Request, key string, list func(Presence, context.Context) ([]string, error)) {
	ids := []string{}
	if a.cfg.Presence != nil {
		got, err := list(a.cfg.Presence, r.Context())
		if err != nil {
			a.internalError(w, r, "presence "+key, err)
			return
		}
		ids = append(ids, got...)
	}
	writeJSON(w, http.StatusOK, map[string][]string{key: ids})
}
