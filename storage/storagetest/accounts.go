package storagetest

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/storage"
)

// Accounts: users, first-account role, token revocations.

func testUsers(t *testing.T, b *bundle) {
	ctx := context.Background()
	s := b.store

	t.Run("CreateAndGet", func(t *testing.T) {
		t.Parallel()
		u := newUser(t, s, storage.RoleUser)
		require.Equal(t, strings.ToLower(u.Email), u.Email, "email lower-cased and written back")

		got, err := s.GetUser(ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, u, got)

		got, err = s.GetUserByEmail(ctx, strings.ToUpper(u.Email))
		require.NoError(t, err)
		require.Equal(t, u, got)
	})
	t.Run("ExplicitRoleKept", func(t *testing.T) {
		t.Parallel()
		u := newUser(t, s, storage.RolePending)
		got, err := s.GetUser(ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, storage.RolePending, got.Role)
	})
	t.Run("DuplicateEmail", func(t *testing.T) {
		t.Parallel()
		u := newUser(t, s, storage.RoleUser)
		dup := &storage.User{ID: newID(), Email: strings.ToUpper(u.Email), Role: storage.RoleUser, CreatedAt: 1}
		require.ErrorIs(t, s.CreateUser(ctx, dup), storage.ErrConflict)
	})
	t.Run("DuplicateID", func(t *testing.T) {
		t.Parallel()
		u := newUser(t, s, storage.RoleUser)
		dup := &storage.User{ID: u.ID, Email: newID() + "@example.com", Role: storage.RoleUser, CreatedAt: 1}
		require.ErrorIs(t, s.CreateUser(ctx, dup), storage.ErrConflict)
	})
	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		_, err := s.GetUser(ctx, newID())
		require.ErrorIs(t, err, storage.ErrNotFound)
		_, err = s.GetUserByEmail(ctx, newID()+"@example.com")
		require.ErrorIs(t, err, storage.ErrNotFound)
		require.ErrorIs(t, s.UpdateUserRole(ctx, newID(), storage.RoleAdmin, "x"), storage.ErrNotFound)
		require.ErrorIs(t, s.SetSessionStamp(ctx, newID(), "x"), storage.ErrNotFound)
		require.ErrorIs(t, s.TouchUser(ctx, newID(), 5), storage.ErrNotFound)
	})
	t.Run("UpdateRoleStampTouch", func(t *testing.T) {
		t.Parallel()
		u := newUser(t, s, storage.RoleUser)
		require.NoError(t, s.UpdateUserRole(ctx, u.ID, storage.RoleAdmin, "stamp-2"))
		got, err := s.GetUser(ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, storage.RoleAdmin, got.Role)
		require.Equal(t, "stamp-2", got.SessionStamp)

		require.NoError(t, s.SetSessionStamp(ctx, u.ID, "stamp-3"))
		require.NoError(t, s.TouchUser(ctx, u.ID, 1800000000))
		got, err = s.GetUser(ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, "stamp-3", got.SessionStamp)
		require.Equal(t, int64(1800000000), got.LastActiveAt)
		require.Equal(t, storage.RoleAdmin, got.Role)
	})
	t.Run("List", func(t *testing.T) {
		t.Parallel()
		a, c := newUser(t, s, storage.RoleUser), newUser(t, s, storage.RolePending)
		users, err := s.ListUsers(ctx)
		require.NoError(t, err)
		require.Contains(t, users, *a)
		require.Contains(t, users, *c)
	})
}

func testSearchUsers(t *testing.T, b *bundle) {
	ctx := context.Background()
	s := b.open(t) // an empty database: the results are exactly these accounts
	add := func(id, email, name, role string) {
		t.Helper()
		require.NoError(t, s.CreateUser(ctx, &storage.User{ID: id, Email: email, Name: name, Role: role, CreatedAt: 1}))
	}
	add("u1", "ada@example.com", "Ada Lovelace", storage.RoleAdmin)
	add("u2", "bob@example.org", "bob", storage.RoleUser)
	add("u3", "pct@example.com", "100% sure", storage.RolePending)
	add("u4", "under_score@example.com", "Carol", storage.RoleUser)
	add("u5", "back@example.com", `back\slash`, storage.RoleUser)
	add("u0", "zed@example.net", "Bob", storage.RoleUser)

	search := func(q string, limit int) []string {
		t.Helper()
		users, _, err := s.SearchUsers(ctx, storage.SearchUsersOptions{Query: q, Limit: limit})
		require.NoError(t, err, "query %q", q)
		ids := []string{}
		for _, u := range users {
			ids = append(ids, u.ID)
		}
		return ids
	}

	t.Run("EmailOrName", func(t *testing.T) {
		require.Equal(t, []string{"u1"}, search("ADA@EXAMPLE.COM", 0), "email, any case")
		require.Equal(t, []string{"u1"}, search("lovelace", 0), "name substring, any case")
		require.Equal(t, []string{"u2"}, search(".ORG", 0))
		// "bob" and "Bob" tie on lower(name): id breaks the tie.
		require.Equal(t, []string{"u0", "u2"}, search("BOB", 0))
		require.Equal(t, []string{"u3"}, search("pct@", 0), "pending accounts are found too")
		require.Empty(t, search("nobody", 0))
	})
	t.Run("WildcardsAreLiteral", func(t *testing.T) {
		require.Equal(t, []string{"u3"}, search("%", 0))
		require.Equal(t, []string{"u3"}, search("0% s", 0))
		require.Equal(t, []string{"u4"}, search("_", 0))
		require.Equal(t, []string{"u4"}, search("r_s", 0))
		require.Empty(t, search("a_a", 0), "_ is not any character")
		require.Equal(t, []string{"u5"}, search(`\`, 0))
		require.Equal(t, []string{"u5"}, search(`k\s`, 0))
		require.Empty(t, search(`\%`, 0), "the escape character is literal too")
	})
	t.Run("OrderAndLimit", func(t *testing.T) {
		all := []string{"u3", "u1", "u5", "u0", "u2", "u4"} // "100% sure" < "ada…" < "back…" < "bob" (u0, u2) < "carol"
		require.Equal(t, all, search("", 0), "empty query: everyone")
		require.Equal(t, all[:2], search("", 2))
		require.Equal(t, all[:3], search("@example.", 3))
	})
	t.Run("SkipAndTotal", func(t *testing.T) {
		all := []string{"u3", "u1", "u5", "u0", "u2", "u4"}
		page := func(q string, skip, limit int) ([]string, int) {
			t.Helper()
			users, total, err := s.SearchUsers(ctx, storage.SearchUsersOptions{Query: q, Skip: skip, Limit: limit})
			require.NoError(t, err)
			ids := []string{}
			for _, u := range users {
				ids = append(ids, u.ID)
			}
			return ids, total
		}
		ids, total := page("", 2, 3)
		require.Equal(t, all[2:5], ids)
		require.Equal(t, 6, total, "the total counts every match, not the page")
		ids, total = page("", 5, 3)
		require.Equal(t, all[5:], ids)
		require.Equal(t, 6, total)
		ids, total = page("", 6, 3)
		require.Empty(t, ids, "past the end: no accounts")
		require.Equal(t, 6, total)
		ids, total = page("bob", 1, 0)
		require.Equal(t, []string{"u2"}, ids)
		require.Equal(t, 2, total)
		ids, total = page("nobody", 0, 10)
		require.Empty(t, ids)
		require.Zero(t, total)
	})
	t.Run("NameOnly", func(t *testing.T) {
		names := func(q string) ([]string, int) {
			t.Helper()
			users, total, err := s.SearchUsers(ctx, storage.SearchUsersOptions{Query: q, NameOnly: true})
			require.NoError(t, err)
			ids := []string{}
			for _, u := range users {
				ids = append(ids, u.ID)
			}
			return ids, total
		}
		ids, total := names("example")
		require.Empty(t, ids, "emails are not searched")
		require.Zero(t, total)
		ids, total = names("B")
		require.Equal(t, []string{"u5", "u0", "u2"}, ids)
		require.Equal(t, 3, total)
	})
}

func testUserSettings(t *testing.T, b *bundle) {
	ctx := context.Background()
	s := b.store
	u := newUser(t, s, storage.RoleUser)

	got, err := s.GetUserSettings(ctx, u.ID)
	require.NoError(t, err)
	require.Nil(t, got, "none stored yet")

	first := json.RawMessage(`{"ui":{"version":"1.2.3","notes":{"x":[1,2]}},"z":null}`)
	require.NoError(t, s.SetUserSettings(ctx, u.ID, first))
	got, err = s.GetUserSettings(ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, string(first), string(got), "kept byte for byte")

	second := json.RawMessage(`{"ui":{}}`)
	require.NoError(t, s.SetUserSettings(ctx, u.ID, second))
	got, err = s.GetUserSettings(ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, string(second), string(got), "replaced, not merged")

	other := newUser(t, s, storage.RoleUser)
	got, err = s.GetUserSettings(ctx, other.ID)
	require.NoError(t, err)
	require.Nil(t, got, "settings are per account")

	_, err = s.GetUserSettings(ctx, newID())
	require.ErrorIs(t, err, storage.ErrNotFound)
	require.ErrorIs(t, s.SetUserSettings(ctx, newID(), second), storage.ErrNotFound)
}

// createRacing makes n accounts with role at once on s and returns them
// with CreateUser's errors.
func createRacing(t *testing.T, s storage.Store, n int, role string) ([]*storage.User, []error) {
	t.Helper()
	ctx := context.Background()
	// Warm a pooled driver's connections, so the signups really overlap.
	var warm sync.WaitGroup
	for range n {
		warm.Go(func() { _ = s.Ping(ctx) })
	}
	warm.Wait()
	users := make([]*storage.User, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			users[i] = &storage.User{ID: newID(), Email: newID() + "@example.com", Role: role, CreatedAt: 1}
			errs[i] = s.CreateUser(ctx, users[i])
		})
	}
	close(start)
	wg.Wait()
	return users, errs
}

func testFirstAccount(t *testing.T, b *bundle) {
	ctx := context.Background()
	t.Run("Sequential", func(t *testing.T) {
		t.Parallel()
		s := b.open(t)
		first, second := newUser(t, s, ""), newUser(t, s, "")
		require.Equal(t, storage.RoleAdmin, first.Role)
		require.Equal(t, storage.RoleUser, second.Role)
		got, err := s.GetUser(ctx, first.ID)
		require.NoError(t, err)
		require.Equal(t, storage.RoleAdmin, got.Role, "the chosen role is stored")
	})
	t.Run("Racing", func(t *testing.T) {
		t.Parallel()
		s := b.open(t)
		const n = 8
		users, errs := createRacing(t, s, n, "")
		admins := 0
		for i := range n {
			require.NoError(t, errs[i])
			if users[i].Role == storage.RoleAdmin {
				admins++
			}
		}
		require.Equal(t, 1, admins, "exactly one of the racing first signups is admin")
		stored, err := s.ListUsers(ctx)
		require.NoError(t, err)
		admins = 0
		for _, u := range stored {
			if u.Role == storage.RoleAdmin {
				admins++
			}
		}
		require.Equal(t, 1, admins)
	})
	t.Run("FirstOnlyRacing", func(t *testing.T) {
		t.Parallel()
		s := b.open(t)
		const n = 8
		users, errs := createRacing(t, s, n, storage.RoleFirstOnly)
		made := 0
		for i, err := range errs {
			if err == nil {
				made++
				require.Equal(t, storage.RoleAdmin, users[i].Role)
			} else {
				require.ErrorIs(t, err, storage.ErrNotFirst)
			}
		}
		require.Equal(t, 1, made, "only the first of the racing first-only accounts is made")
		stored, err := s.ListUsers(ctx)
		require.NoError(t, err)
		require.Len(t, stored, 1)
		require.Equal(t, storage.RoleAdmin, stored[0].Role)
	})
}

func testTokens(t *testing.T, b *bundle) {
	ctx := context.Background()
	s := b.store
	u := &storage.User{ID: newID(), Email: newID() + "@example.com", Name: "S", Role: storage.RoleUser, SessionStamp: "st"}
	require.NoError(t, s.CreateUser(ctx, u))
	// revoked reads the account and the token's revocation together.
	revoked := func(jti string) bool {
		t.Helper()
		got, rev, err := s.GetSessionUser(ctx, u.ID, jti)
		require.NoError(t, err)
		require.Equal(t, u.ID, got.ID)
		require.Equal(t, "st", got.SessionStamp)
		require.Equal(t, storage.RoleUser, got.Role)
		return rev
	}
	live, other := newID(), newID()
	require.False(t, revoked(live))

	require.NoError(t, s.RevokeToken(ctx, live, 4000000000))
	require.NoError(t, s.RevokeToken(ctx, live, 4000000000), "revoking twice is fine")
	require.True(t, revoked(live))

	// An expired revocation may be purged, a live one must stay.
	require.NoError(t, s.RevokeToken(ctx, other, 1))
	require.NoError(t, s.RevokeToken(ctx, newID(), 4000000000))
	require.True(t, revoked(live))
	require.False(t, revoked(newID()))

	_, _, err := s.GetSessionUser(ctx, newID(), live)
	require.ErrorIs(t, err, storage.ErrNotFound)
}
