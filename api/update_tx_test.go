package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/api"
	"github.com/quire/quire/auth"
	"github.com/quire/quire/storage"
)

// hookStore runs a hook when updateNote's transaction is about to start,
// i.e. after the handler's early access check: a change the hook commits
// is one that raced the request. SetNoteAccess always fails, so an update
// that still wrote grants in a second transaction answers 500.
type hookStore struct {
	storage.Store
	beforeUpdate atomic.Pointer[func(inner storage.Store)]
}

func (h *hookStore) UpdateNote(ctx context.Context, id string, fn func(*storage.Note) error) (*storage.Note, error) {
	if hook := h.beforeUpdate.Swap(nil); hook != nil {
		(*hook)(h.Store)
	}
	return h.Store.UpdateNote(ctx, id, fn)
}

func (h *hookStore) SetNoteAccess(context.Context, string, []storage.AccessGrant) error {
	return errors.New("injected: grants must be written by UpdateNote")
}

// raceOnce commits change right before the next UpdateNote transaction.
func (h *hookStore) raceOnce(t *testing.T, change func(context.Context, storage.Store) error) {
	fn := func(inner storage.Store) { require.NoError(t, change(context.Background(), inner)) }
	h.beforeUpdate.Store(&fn)
}

type txAPI struct {
	t      *testing.T
	store  *hookStore
	url    string
	mu     sync.Mutex
	events []*storage.Note // NoteEvents calls
}

func newTxAPI(t *testing.T, postgres bool) *txAPI {
	x := &txAPI{t: t, store: &hookStore{Store: openStore(t, postgres)}}
	a, err := auth.NewAuthenticator(auth.Config{Store: x.store, Secret: []byte("update-tx-test-secret"), Password: auth.LowCostParams})
	require.NoError(t, err)
	rest, err := api.New(api.Config{Store: x.store, Auth: a, NoteEvents: func(n *storage.Note) {
		x.mu.Lock()
		defer x.mu.Unlock()
		x.events = append(x.events, n)
	}})
	require.NoError(t, err)
	mux := http.NewServeMux()
	rest.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	x.url = srv.URL
	return x
}

func (x *txAPI) do(method, path, token string, body any, want int, out any) string {
	x.t.Helper()
	raw, err := json.Marshal(body)
	require.NoError(x.t, err)
	req, err := http.NewRequest(method, x.url+path, bytes.NewReader(raw))
	require.NoError(x.t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(x.t, err)
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	require.NoError(x.t, err)
	require.Equal(x.t, want, resp.StatusCode, "%s %s: %s", method, path, got)
	if out != nil {
		require.NoError(x.t, json.Unmarshal(got, out))
	}
	var d struct {
		Detail string `json:"detail"`
	}
	_ = json.Unmarshal(got, &d)
	return d.Detail
}

func (x *txAPI) signUp(name string) (id, token string) {
	var u struct{ ID, Token string }
	x.do("POST", "/api/v1/auths/signup", "", map[string]string{
		"name": name, "email": name + "@example.com", "password": "correct horse battery",
	}, http.StatusOK, &u)
	return u.ID, u.Token
}

func (x *txAPI) title(noteID string) string {
	n, err := x.store.GetNote(context.Background(), noteID)
	require.NoError(x.t, err)
	return n.Title
}

// updateNote checks access on the note as locked in its transaction, and
// writes grants in that same transaction.
func TestUpdateNoteChecksTheLockedRow(t *testing.T) {
	t.Parallel()
	for _, b := range []struct {
		name     string
		postgres bool
	}{{"sqlite", false}, {"postgres", true}} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			x := newTxAPI(t, b.postgres)
			x.signUp("admin") // the first account is admin; the rest are users
			ownerID, owner := x.signUp("owner")
			writerID, writer := x.signUp("writer")
			readerID, _ := x.signUp("reader")
			var n note
			x.do("POST", "/api/v1/notes/create", owner, map[string]any{"title": "start"}, http.StatusOK, &n)
			path := "/api/v1/notes/" + n.ID + "/update"
			userGrant := func(id, perm string) storage.AccessGrant {
				return storage.AccessGrant{PrincipalType: "user", PrincipalID: id, Permission: perm}
			}
			setGrants := func(grants ...storage.AccessGrant) func(context.Context, storage.Store) error {
				return func(ctx context.Context, s storage.Store) error {
					_, err := s.UpdateNote(ctx, n.ID, func(n *storage.Note) error { n.AccessGrants = grants; return nil })
					return err
				}
			}

			// Grants and fields change in one transaction (SetNoteAccess
			// would fail), and the note event carries the new grants.
			x.do("POST", path, owner, map[string]any{"title": "shared", "access_grants": []storage.AccessGrant{
				userGrant(writerID, storage.PermWrite),
			}}, http.StatusOK, nil)
			stored, err := x.store.GetNote(context.Background(), n.ID)
			require.NoError(t, err)
			require.Equal(t, "shared", stored.Title)
			require.Equal(t, []storage.AccessGrant{userGrant(writerID, storage.PermWrite)}, stored.AccessGrants)
			x.mu.Lock()
			require.Equal(t, stored.AccessGrants, x.events[len(x.events)-1].AccessGrants)
			x.mu.Unlock()

			// Write access taken away after the early check: refused, nothing written.
			x.store.raceOnce(t, setGrants(userGrant(writerID, storage.PermRead)))
			require.Equal(t, "You do not have permission to do this",
				x.do("POST", path, writer, map[string]any{"title": "by writer"}, http.StatusForbidden, nil))
			require.Equal(t, "shared", x.title(n.ID))

			// All access taken away after the early check: the note is gone for them.
			require.NoError(t, setGrants(userGrant(writerID, storage.PermWrite))(context.Background(), x.store))
			x.store.raceOnce(t, setGrants())
			require.Equal(t, "Not found",
				x.do("POST", path, writer, map[string]any{"title": "by writer"}, http.StatusNotFound, nil))
			require.Equal(t, "shared", x.title(n.ID))

			// A writer's echo of grants the owner changed since: a grant
			// change after all, refused on the locked row.
			require.NoError(t, setGrants(userGrant(writerID, storage.PermWrite))(context.Background(), x.store))
			x.store.raceOnce(t, setGrants(userGrant(writerID, storage.PermWrite), userGrant(readerID, storage.PermRead)))
			require.Equal(t, "Only the owner or an admin may change who can access a note",
				x.do("POST", path, writer, map[string]any{"title": "echo", "access_grants": []storage.AccessGrant{
					userGrant(writerID, storage.PermWrite),
				}}, http.StatusForbidden, nil))
			stored, err = x.store.GetNote(context.Background(), n.ID)
			require.NoError(t, err)
			require.Equal(t, "shared", stored.Title)
			require.Len(t, stored.AccessGrants, 2, "the owner's change stands")

			// The echo of the grants as they stand is no change.
			x.do("POST", path, writer, map[string]any{"title": "echo", "access_grants": stored.AccessGrants}, http.StatusOK, nil)
			require.Equal(t, "echo", x.title(n.ID))
			require.Equal(t, ownerID, stored.UserID)
		})
	}
}
