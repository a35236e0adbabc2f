package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/api"
	"github.com/quire/quire/auth"
	"github.com/quire/quire/storage"
)

// channelHookStore runs a hook right before the next UpdateChannel: a
// change the hook commits is one that raced the request, after the
// handler had loaded the channel.
type channelHookStore struct {
	storage.Store
	beforeUpdate atomic.Pointer[func(inner storage.Store)]
	listUsers    atomic.Int64 // ListUsers calls
}

func (h *channelHookStore) ListUsers(ctx context.Context) ([]storage.User, error) {
	h.listUsers.Add(1)
	return h.Store.ListUsers(ctx)
}

func (h *channelHookStore) UpdateChannel(ctx context.Context, c *storage.Channel) error {
	if hook := h.beforeUpdate.Swap(nil); hook != nil {
		(*hook)(h.Store)
	}
	return h.Store.UpdateChannel(ctx, c)
}

// TestChannelMadePrivateWhileRacingDropsNonMembers: a request that leaves
// a channel private takes non-members' sockets out of its room even when
// the channel it loaded was already private, because another request may
// have made it public in between (and join-channels put everyone's
// sockets in the room then). Before the fix only a request that had
// itself loaded a public channel did, so Eve kept hearing the private
// channel. Every socket but its readers' (members and admins) leaves,
// and only those accounts are read: listing every account on each edit
// of a private channel cost one row per account.
func TestChannelMadePrivateWhileRacingDropsNonMembers(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			store := &channelHookStore{Store: openStore(t, backend == "postgres")}
			a, err := auth.NewAuthenticator(auth.Config{Store: store, Secret: []byte("channel-race-test-secret"), Password: auth.LowCostParams})
			require.NoError(t, err)
			var mu sync.Mutex
			var kept [][]string
			rest, err := api.New(api.Config{Store: store, Auth: a, Channels: api.ChannelEvents{
				Keep: func(_ string, ids []string) {
					mu.Lock()
					defer mu.Unlock()
					kept = append(kept, slices.Sorted(slices.Values(ids)))
				},
			}})
			require.NoError(t, err)
			mux := http.NewServeMux()
			rest.Register(mux)
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			x := &txAPI{t: t, url: srv.URL}

			adminID, admin := x.signUp("admin")
			bobID, _ := x.signUp("bob")
			x.signUp("eve")
			var ch struct{ ID string }
			x.do("POST", "/api/v1/channels/create", admin, map[string]any{"name": "town", "is_private": true, "user_ids": []string{bobID}}, http.StatusOK, &ch)

			// Another manager makes it public between this request's load
			// and its write. The request writes the channel it loaded back
			// whole, so it makes it private again whether or not it sent
			// is_private (the frontend's edit dialog does).
			for i, body := range []map[string]any{{"name": "town", "is_private": true}, {"name": "square"}} {
				hook := func(inner storage.Store) {
					c, err := inner.GetChannel(context.Background(), ch.ID)
					require.NoError(t, err)
					c.IsPrivate = false
					require.NoError(t, inner.UpdateChannel(context.Background(), c))
				}
				store.beforeUpdate.Store(&hook)
				x.do("POST", "/api/v1/channels/"+ch.ID+"/update", admin, body, http.StatusOK, nil)

				got, err := store.GetChannel(context.Background(), ch.ID)
				require.NoError(t, err)
				require.True(t, got.IsPrivate)
				mu.Lock()
				require.Equal(t, [][]string{slices.Sorted(slices.Values([]string{adminID, bobID}))}, kept[i:],
					"%v: Bob (a member) and the admin stay; Eve's sockets leave the room", body)
				mu.Unlock()
				require.Zero(t, store.listUsers.Load(), "not every account is read")
			}
		})
	}
}
