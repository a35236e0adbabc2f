package storagetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quire/quire/storage"
)

// Run runs the conformance suite. open must return a store on an empty
// database of its own at each call, closed in t.Cleanup. Most subtests share
// one store (each uses fresh ids and emails); those that need an empty
// database (first-account role) call open again.
func Run(t *testing.T, open func(t *testing.T) storage.Store) {
	shared := open(t)
	b := &bundle{store: shared, open: open}

	t.Run("Ping", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, shared.Ping(context.Background()))
	})
	t.Run("Users", func(t *testing.T) { t.Parallel(); testUsers(t, b) })
	t.Run("SearchUsers", func(t *testing.T) { t.Parallel(); testSearchUsers(t, b) })
	t.Run("FirstAccount", func(t *testing.T) { t.Parallel(); testFirstAccount(t, b) })
	t.Run("Tokens", func(t *testing.T) { t.Parallel(); testTokens(t, b) })
	t.Run("Notes", func(t *testing.T) { t.Parallel(); testNotes(t, b) })
	t.Run("ListNotes", func(t *testing.T) { t.Parallel(); testListNotes(t, b) })
	t.Run("UpdateNote", func(t *testing.T) { t.Parallel(); testUpdateNote(t, b) })
	t.Run("SetNoteContents", func(t *testing.T) { t.Parallel(); testSetNoteContents(t, b) })
	t.Run("NoteAccess", func(t *testing.T) { t.Parallel(); testNoteAccess(t, b) })
	t.Run("DeleteNote", func(t *testing.T) { t.Parallel(); testDeleteNote(t, b) })
	t.Run("Documents", func(t *testing.T) { t.Parallel(); testDocuments(t, b) })
	t.Run("Compact", func(t *testing.T) { t.Parallel(); testCompact(t, b) })
}

type bundle struct {
	store storage.Store
	open  func(t *testing.T) storage.Store
}

func newID() string { return uuid.NewString() }

func newUser(t testing.TB, s storage.Store, role string) *storage.User {
	t.Helper()
	id := newID()
	u := &storage.User{
		ID:           id,
		Email:        "User-" + id + "@Example.com",
		Name:         "User " + id[:8],
		Role:         role,
		PasswordHash: "hash-" + id,
		SessionStamp: "stamp-" + id,
		CreatedAt:    1700000000,
		UpdatedAt:    1700000001,
		LastActiveAt: 1700000002,
	}
	require.NoError(t, s.CreateUser(context.Background(), u))
	return u
}

func newNote(t testing.TB, s storage.Store, owner string, updatedAt int64, grants ...storage.AccessGrant) *storage.Note {
	t.Helper()
	n := &storage.Note{
		ID:           newID(),
		UserID:       owner,
		Title:        "title",
		Data:         json.RawMessage(`{"content":{"md":"# hi"}}`),
		Meta:         json.RawMessage(`{"k":1}`),
		AccessGrants: grants,
		CreatedAt:    updatedAt,
		UpdatedAt:    updatedAt,
	}
	require.NoError(t, s.CreateNote(context.Background(), n))
	return n
}

func userGrant(id, perm string) storage.AccessGrant {
	return storage.AccessGrant{PrincipalType: "user", PrincipalID: id, Permission: perm}
}

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
		users, err := s.SearchUsers(ctx, q, limit)
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
				users[i] = &storage.User{ID: newID(), Email: newID() + "@example.com", CreatedAt: 1}
				errs[i] = s.CreateUser(ctx, users[i])
			})
		}
		close(start)
		wg.Wait()
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
}

func testTokens(t *testing.T, b *bundle) {
	ctx := context.Background()
	s := b.store
	live, other := newID(), newID()
	revoked, err := s.IsTokenRevoked(ctx, live)
	require.NoError(t, err)
	require.False(t, revoked)

	require.NoError(t, s.RevokeToken(ctx, live, 4000000000))
	require.NoError(t, s.RevokeToken(ctx, live, 4000000000), "revoking twice is fine")
	revoked, err = s.IsTokenRevoked(ctx, live)
	require.NoError(t, err)
	require.True(t, revoked)

	// An expired revocation may be purged, a live one must stay.
	require.NoError(t, s.RevokeToken(ctx, other, 1))
	require.NoError(t, s.RevokeToken(ctx, newID(), 4000000000))
	revoked, err = s.IsTokenRevoked(ctx, live)
	require.NoError(t, err)
	require.True(t, revoked)
}

func testNotes(t *testing.T, b *bundle) {
	ctx := context.Background()
	s := b.store

	t.Run("CreateAndGet", func(t *testing.T) {
		t.Parallel()
		// Data is kept byte for byte, key order and spacing included.
		n := &storage.Note{
			ID: newID(), UserID: newID(), Title: "Título ✓",
			Data:         json.RawMessage(`{"z": 1, "content": {"md": "x"}}`),
			Meta:         json.RawMessage(`{"b":[1,2]}`),
			AccessGrants: []storage.AccessGrant{userGrant("u1", storage.PermRead), userGrant("u2", storage.PermWrite)},
			CreatedAt:    1700000000123456789, UpdatedAt: 1700000000987654321,
		}
		require.NoError(t, s.CreateNote(ctx, n))
		got, err := s.GetNote(ctx, n.ID)
		require.NoError(t, err)
		require.Equal(t, n.ID, got.ID)
		require.Equal(t, n.UserID, got.UserID)
		require.Equal(t, n.Title, got.Title)
		require.Equal(t, string(n.Data), string(got.Data))
		require.Equal(t, string(n.Meta), string(got.Meta))
		require.Equal(t, n.CreatedAt, got.CreatedAt)
		require.Equal(t, n.UpdatedAt, got.UpdatedAt)
		require.ElementsMatch(t, n.AccessGrants, got.AccessGrants)
	})
	t.Run("EmptyJSONIsObject", func(t *testing.T) {
		t.Parallel()
		n := &storage.Note{ID: newID(), UserID: newID(), CreatedAt: 1, UpdatedAt: 1}
		require.NoError(t, s.CreateNote(ctx, n))
		require.JSONEq(t, "{}", string(n.Data), "written back")
		got, err := s.GetNote(ctx, n.ID)
		require.NoError(t, err)
		require.JSONEq(t, "{}", string(got.Data))
		require.JSONEq(t, "{}", string(got.Meta))
		require.NotNil(t, got.AccessGrants)
		require.Empty(t, got.AccessGrants)
	})
	t.Run("DuplicateID", func(t *testing.T) {
		t.Parallel()
		n := newNote(t, s, newID(), 1)
		dup := &storage.Note{ID: n.ID, UserID: newID(), CreatedAt: 1, UpdatedAt: 1}
		require.ErrorIs(t, s.CreateNote(ctx, dup), storage.ErrConflict)
	})
	t.Run("DuplicateGrantKeepsStrongest", func(t *testing.T) {
		t.Parallel()
		n := newNote(t, s, newID(), 1, userGrant("u", storage.PermRead), userGrant("u", storage.PermWrite))
		got, err := s.GetNote(ctx, n.ID)
		require.NoError(t, err)
		require.Equal(t, []storage.AccessGrant{userGrant("u", storage.PermWrite)}, got.AccessGrants)
	})
	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		_, err := s.GetNote(ctx, newID())
		require.ErrorIs(t, err, storage.ErrNotFound)
	})
}

func noteIDs(notes []storage.Note) []string {
	ids := make([]string, len(notes))
	for i, n := range notes {
		ids[i] = n.ID
	}
	return ids
}

func testListNotes(t *testing.T, b *bundle) {
	ctx := context.Background()
	s := b.store
	alice, bob := newID(), newID()
	// Fixed timestamps, two equal, so order and the id tie-break are checked.
	a1 := newNote(t, s, alice, 100)
	a2 := newNote(t, s, alice, 300)
	a3 := newNote(t, s, alice, 300)
	shared := newNote(t, s, bob, 200, userGrant(alice, storage.PermRead), userGrant(newID(), storage.PermWrite))
	bobOnly := newNote(t, s, bob, 250)
	groupOnly := newNote(t, s, bob, 260, storage.AccessGrant{PrincipalType: "group", PrincipalID: alice, Permission: storage.PermWrite})

	tied := []string{a2.ID, a3.ID}
	slices.Sort(tied)
	want := []string{tied[0], tied[1], shared.ID, a1.ID}

	got, err := s.ListNotes(ctx, storage.ListNotesOptions{UserID: alice})
	require.NoError(t, err)
	require.Equal(t, want, noteIDs(got), "owned or granted, newest first, id tie-break; a group grant is not a user grant")
	require.Len(t, got[2].AccessGrants, 2, "grants come with listed notes")
	require.Empty(t, got[0].AccessGrants)
	require.JSONEq(t, string(a2.Data), string(got[0].Data))

	got, err = s.ListNotes(ctx, storage.ListNotesOptions{UserID: alice, Skip: 1, Limit: 2})
	require.NoError(t, err)
	require.Equal(t, want[1:3], noteIDs(got))

	got, err = s.ListNotes(ctx, storage.ListNotesOptions{UserID: alice, Skip: 10})
	require.NoError(t, err)
	require.Empty(t, got)

	got, err = s.ListNotes(ctx, storage.ListNotesOptions{UserID: bob})
	require.NoError(t, err)
	require.Equal(t, []string{groupOnly.ID, bobOnly.ID, shared.ID}, noteIDs(got))

	// All lists every note (other subtests' too): ours appear in order.
	got, err = s.ListNotes(ctx, storage.ListNotesOptions{All: true, UserID: newID()})
	require.NoError(t, err)
	var ours []string
	mine := map[string]bool{a1.ID: true, a2.ID: true, a3.ID: true, shared.ID: true, bobOnly.ID: true, groupOnly.ID: true}
	for _, id := range noteIDs(got) {
		if mine[id] {
			ours = append(ours, id)
		}
	}
	require.Equal(t, []string{tied[0], tied[1], groupOnly.ID, bobOnly.ID, shared.ID, a1.ID}, ours)

	got, err = s.ListNotes(ctx, storage.ListNotesOptions{UserID: newID()})
	require.NoError(t, err)
	require.Empty(t, got)
}

func testSetNoteContents(t *testing.T, b *bundle) {
	ctx := context.Background()
	s := b.store

	t.Run("WritesContentKeepsTheRest", func(t *testing.T) {
		t.Parallel()
		a := newNote(t, s, newID(), 1, userGrant("g", storage.PermRead))
		b := newNote(t, s, newID(), 1)
		gone := newID()
		bad := &storage.Note{ID: newID(), UserID: "u", Title: "t", Data: json.RawMessage(`["not","an","object"]`)}
		require.NoError(t, s.CreateNote(ctx, bad))
		_, err := s.UpdateNote(ctx, a.ID, func(n *storage.Note) error {
			n.Data = json.RawMessage(`{"content":{"md":"old"},"files":[1],"x":{"y":true}}`)
			return nil
		})
		require.NoError(t, err)

		errs, err := s.SetNoteContents(ctx, []storage.NoteContent{
			{NoteID: a.ID, Content: json.RawMessage(`{"md":"new a"}`), UpdatedAt: 50},
			{NoteID: gone, Content: json.RawMessage(`{"md":"?"}`), UpdatedAt: 50},
			{NoteID: bad.ID, Content: json.RawMessage(`{"md":"?"}`), UpdatedAt: 50},
			{NoteID: b.ID, Content: json.RawMessage(`{"md":"new b"}`), UpdatedAt: 60},
		})
		require.NoError(t, err)
		require.Len(t, errs, 4)
		require.NoError(t, errs[0])
		require.ErrorIs(t, errs[1], storage.ErrNotFound)
		require.Error(t, errs[2], "data that is not an object is refused")
		require.NoError(t, errs[3])

		got, err := s.GetNote(ctx, a.ID)
		require.NoError(t, err)
		require.JSONEq(t, `{"content":{"md":"new a"},"files":[1],"x":{"y":true}}`, string(got.Data))
		require.Equal(t, int64(50), got.UpdatedAt)
		require.Equal(t, a.Title, got.Title)
		require.Equal(t, a.Meta, got.Meta)
		require.Equal(t, []storage.AccessGrant{userGrant("g", storage.PermRead)}, got.AccessGrants)
		got, err = s.GetNote(ctx, b.ID)
		require.NoError(t, err)
		require.JSONEq(t, `{"content":{"md":"new b"}}`, string(got.Data))
		require.Equal(t, int64(60), got.UpdatedAt)
		got, err = s.GetNote(ctx, bad.ID)
		require.NoError(t, err)
		require.Equal(t, `["not","an","object"]`, string(got.Data), "left as it was")
	})
	t.Run("Empty", func(t *testing.T) {
		t.Parallel()
		errs, err := s.SetNoteContents(ctx, nil)
		require.NoError(t, err)
		require.Empty(t, errs)
	})
	t.Run("ConcurrentBatchesLoseNothing", func(t *testing.T) {
		t.Parallel()
		// Overlapping batches in opposite orders: rows are locked in one
		// order, so no deadlock, and each note ends with one batch's value.
		notes := make([]*storage.Note, 6)
		for i := range notes {
			notes[i] = newNote(t, s, newID(), 1)
		}
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				batch := make([]storage.NoteContent, len(notes))
				for i, n := range notes {
					if w%2 == 1 {
						n = notes[len(notes)-1-i]
					}
					batch[i] = storage.NoteContent{NoteID: n.ID, Content: json.RawMessage(fmt.Sprintf(`{"md":"w%d"}`, w)), UpdatedAt: int64(10 + w)}
				}
				errs, err := s.SetNoteContents(ctx, batch)
				assert.NoError(t, err)
				for _, e := range errs {
					assert.NoError(t, e)
				}
			})
		}
		wg.Wait()
		for _, n := range notes {
			got, err := s.GetNote(ctx, n.ID)
			require.NoError(t, err)
			require.Regexp(t, `^\{"content":\{"md":"w[0-3]"\}\}$`, string(got.Data))
		}
	})
}

func testUpdateNote(t *testing.T, b *bundle) {
	ctx := context.Background()
	s := b.store

	t.Run("WritesFields", func(t *testing.T) {
		t.Parallel()
		n := newNote(t, s, newID(), 1, userGrant("g", storage.PermRead))
		got, err := s.UpdateNote(ctx, n.ID, func(n *storage.Note) error {
			require.Equal(t, []storage.AccessGrant{userGrant("g", storage.PermRead)}, n.AccessGrants)
			n.Title, n.Data, n.Meta, n.UpdatedAt = "new", json.RawMessage(`{"a":2}`), nil, 99
			n.UserID, n.CreatedAt = "ignored", 12345 // not written back
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, "new", got.Title)
		require.JSONEq(t, "{}", string(got.Meta), "nil meta stored as {}")
		stored, err := s.GetNote(ctx, n.ID)
		require.NoError(t, err)
		require.Equal(t, "new", stored.Title)
		require.Equal(t, `{"a":2}`, string(stored.Data))
		require.JSONEq(t, "{}", string(stored.Meta))
		require.Equal(t, int64(99), stored.UpdatedAt)
		require.Equal(t, n.UserID, stored.UserID)
		require.Equal(t, n.CreatedAt, stored.CreatedAt)
	})
	t.Run("FnErrorAborts", func(t *testing.T) {
		t.Parallel()
		n := newNote(t, s, newID(), 1)
		boom := errors.New("boom")
		_, err := s.UpdateNote(ctx, n.ID, func(n *storage.Note) error {
			n.Title = "changed"
			return boom
		})
		require.ErrorIs(t, err, boom)
		stored, err := s.GetNote(ctx, n.ID)
		require.NoError(t, err)
		require.Equal(t, "title", stored.Title)
	})
	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		called := false
		_, err := s.UpdateNote(ctx, newID(), func(*storage.Note) error { called = true; return nil })
		require.ErrorIs(t, err, storage.ErrNotFound)
		require.False(t, called)
	})
	t.Run("ReadsDoNotWaitForIt", func(t *testing.T) {
		t.Parallel()
		n := newNote(t, s, newID(), 1)
		d := "note:" + n.ID
		_, err := s.AppendUpdates(ctx, []storage.DocUpdate{{DocID: d, Data: []byte{1}}})
		require.NoError(t, err)
		readsDone := make(chan error, 1)
		_, err = s.UpdateNote(ctx, n.ID, func(*storage.Note) error {
			// While the note is locked (on SQLite: the writer held), reads
			// from another goroutine still complete.
			go func() {
				_, err := s.GetNote(ctx, n.ID)
				if err == nil {
					_, err = s.LoadDocument(ctx, d)
				}
				if err == nil {
					_, err = s.ListNotes(ctx, storage.ListNotesOptions{UserID: n.UserID})
				}
				readsDone <- err
			}()
			select {
			case err := <-readsDone:
				return err
			case <-time.After(30 * time.Second):
				return errors.New("reads waited for the write transaction")
			}
		})
		require.NoError(t, err)
	})
	t.Run("ConcurrentUpdatersLoseNothing", func(t *testing.T) {
		t.Parallel()
		n := newNote(t, s, newID(), 1)
		const writers = 8
		var wg sync.WaitGroup
		errs := make([]error, writers)
		for i := range writers {
			wg.Go(func() {
				_, errs[i] = s.UpdateNote(ctx, n.ID, func(n *storage.Note) error {
					// Shallow-merge one key, as the notes API does.
					var meta map[string]any
					if err := json.Unmarshal(n.Meta, &meta); err != nil {
						return err
					}
					meta[fmt.Sprintf("w%d", i)] = i
					var err error
					n.Meta, err = json.Marshal(meta)
					return err
				})
			})
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		stored, err := s.GetNote(ctx, n.ID)
		require.NoError(t, err)
		var meta map[string]any
		require.NoError(t, json.Unmarshal(stored.Meta, &meta))
		require.Len(t, meta, writers+1, "every writer's key and the original one: %s", stored.Meta)
	})
	t.Run("ChangesGrants", func(t *testing.T) {
		t.Parallel()
		n := newNote(t, s, newID(), 1, userGrant("keep", storage.PermRead), userGrant("drop", storage.PermWrite))
		want := []storage.AccessGrant{userGrant("keep", storage.PermWrite), userGrant("new", storage.PermWrite)}
		got, err := s.UpdateNote(ctx, n.ID, func(n *storage.Note) error {
			n.Title = "shared"
			for i, g := range n.AccessGrants { // edited in place
				if g.PrincipalID == "keep" {
					n.AccessGrants[i].Permission = storage.PermWrite
				} else {
					n.AccessGrants[i] = userGrant("new", storage.PermRead)
				}
			}
			n.AccessGrants = append(n.AccessGrants, userGrant("new", storage.PermWrite)) // write beats read
			return nil
		})
		require.NoError(t, err)
		require.ElementsMatch(t, want, got.AccessGrants, "returned deduplicated")
		stored, err := s.GetNote(ctx, n.ID)
		require.NoError(t, err)
		require.Equal(t, "shared", stored.Title)
		require.ElementsMatch(t, want, stored.AccessGrants)

		got, err = s.UpdateNote(ctx, n.ID, func(n *storage.Note) error { n.AccessGrants = nil; return nil })
		require.NoError(t, err)
		require.Equal(t, []storage.AccessGrant{}, got.AccessGrants)
		stored, err = s.GetNote(ctx, n.ID)
		require.NoError(t, err)
		require.Empty(t, stored.AccessGrants, "nil clears the grants")
	})
	t.Run("GrantsKeptUnlessChanged", func(t *testing.T) {
		t.Parallel()
		grants := []storage.AccessGrant{userGrant("a", storage.PermRead), userGrant("b", storage.PermWrite)}
		n := newNote(t, s, newID(), 1, grants...)
		_, err := s.UpdateNote(ctx, n.ID, func(n *storage.Note) error { n.Title = "t2"; return nil })
		require.NoError(t, err)
		_, err = s.UpdateNote(ctx, n.ID, func(n *storage.Note) error {
			slices.Reverse(n.AccessGrants) // the same set
			return nil
		})
		require.NoError(t, err)
		boom := errors.New("boom")
		_, err = s.UpdateNote(ctx, n.ID, func(n *storage.Note) error { n.AccessGrants = nil; return boom })
		require.ErrorIs(t, err, boom)
		stored, err := s.GetNote(ctx, n.ID)
		require.NoError(t, err)
		require.ElementsMatch(t, grants, stored.AccessGrants)
	})
	t.Run("ConcurrentGrantersLoseNothing", func(t *testing.T) {
		t.Parallel()
		// fn reads the grants of the locked row: read-modify-write of
		// grants by racing updaters keeps every one.
		n := newNote(t, s, newID(), 1)
		const writers = 8
		var wg sync.WaitGroup
		errs := make([]error, writers)
		for i := range writers {
			wg.Go(func() {
				_, errs[i] = s.UpdateNote(ctx, n.ID, func(n *storage.Note) error {
					n.AccessGrants = append(n.AccessGrants, userGrant(fmt.Sprintf("u%d", i), storage.PermRead))
					return nil
				})
			})
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		stored, err := s.GetNote(ctx, n.ID)
		require.NoError(t, err)
		require.Len(t, stored.AccessGrants, writers)
	})
}

func testNoteAccess(t *testing.T, b *bundle) {
	ctx := context.Background()
	s := b.store
	n := newNote(t, s, newID(), 1, userGrant("a", storage.PermRead))
	grants := []storage.AccessGrant{userGrant("b", storage.PermWrite), userGrant("c", storage.PermRead)}
	require.NoError(t, s.SetNoteAccess(ctx, n.ID, grants))
	got, err := s.GetNote(ctx, n.ID)
	require.NoError(t, err)
	require.ElementsMatch(t, grants, got.AccessGrants, "replaced, not added")

	require.NoError(t, s.SetNoteAccess(ctx, n.ID, nil))
	got, err = s.GetNote(ctx, n.ID)
	require.NoError(t, err)
	require.Empty(t, got.AccessGrants)

	require.ErrorIs(t, s.SetNoteAccess(ctx, newID(), grants), storage.ErrNotFound)
}

func testDeleteNote(t *testing.T, b *bundle) {
	ctx := context.Background()
	s := b.store
	grantee := newID()
	n := newNote(t, s, newID(), 1, userGrant(grantee, storage.PermRead))
	keep := newNote(t, s, newID(), 1, userGrant(grantee, storage.PermRead))
	_, err := s.AppendUpdates(ctx, []storage.DocUpdate{
		{DocID: "note:" + n.ID, Data: []byte("a")},
		{DocID: "note:" + keep.ID, Data: []byte("b")},
	})
	require.NoError(t, err)

	require.NoError(t, s.DeleteNote(ctx, n.ID))
	_, err = s.GetNote(ctx, n.ID)
	require.ErrorIs(t, err, storage.ErrNotFound)
	listed, err := s.ListNotes(ctx, storage.ListNotesOptions{UserID: grantee})
	require.NoError(t, err)
	require.Equal(t, []string{keep.ID}, noteIDs(listed), "grants of the deleted note are gone")
	doc, err := s.LoadDocument(ctx, "note:"+n.ID)
	require.NoError(t, err)
	require.True(t, doc.Empty(), "the note's document log is gone")
	doc, err = s.LoadDocument(ctx, "note:"+keep.ID)
	require.NoError(t, err)
	require.Len(t, doc.Records, 1, "other documents are untouched")

	require.ErrorIs(t, s.DeleteNote(ctx, n.ID), storage.ErrNotFound)
}

func testDocuments(t *testing.T, b *bundle) {
	ctx := context.Background()
	s := b.store

	t.Run("AppendAndLoad", func(t *testing.T) {
		t.Parallel()
		d1, d2 := "note:"+newID(), "note:"+newID()
		ids, err := s.AppendUpdates(ctx, []storage.DocUpdate{
			{DocID: d1, Data: []byte{1}}, {DocID: d2, Data: []byte{2}}, {DocID: d1, Data: []byte{3}}, {DocID: d1, Data: nil},
		})
		require.NoError(t, err)
		require.Len(t, ids, 4)
		require.True(t, slices.IsSorted(ids) && ids[0] < ids[1] && ids[2] < ids[3], "ids in input order: %v", ids)

		doc, err := s.LoadDocument(ctx, d1)
		require.NoError(t, err)
		require.Equal(t, []storage.DocRecord{{ID: ids[0], Data: []byte{1}}, {ID: ids[2], Data: []byte{3}}, {ID: ids[3], Data: []byte{}}}, doc.Records)
		require.Equal(t, []int64{ids[0], ids[2], ids[3]}, doc.IDs())

		more, err := s.AppendUpdates(ctx, []storage.DocUpdate{{DocID: d2, Data: []byte{4}}})
		require.NoError(t, err)
		require.Greater(t, more[0], ids[3], "later appends get larger ids")
		doc, err = s.LoadDocument(ctx, d2)
		require.NoError(t, err)
		require.Equal(t, []storage.DocRecord{{ID: ids[1], Data: []byte{2}}, {ID: more[0], Data: []byte{4}}}, doc.Records)
	})
	t.Run("Empty", func(t *testing.T) {
		t.Parallel()
		ids, err := s.AppendUpdates(ctx, nil)
		require.NoError(t, err)
		require.Empty(t, ids)
		doc, err := s.LoadDocument(ctx, "note:"+newID())
		require.NoError(t, err)
		require.True(t, doc.Empty())
	})
	t.Run("DeleteDocument", func(t *testing.T) {
		t.Parallel()
		d, other := "note:"+newID(), "note:"+newID()
		_, err := s.AppendUpdates(ctx, []storage.DocUpdate{{DocID: d, Data: []byte{1}}, {DocID: other, Data: []byte{2}}})
		require.NoError(t, err)
		require.NoError(t, s.DeleteDocument(ctx, d))
		require.NoError(t, s.DeleteDocument(ctx, d), "deleting nothing is fine")
		doc, err := s.LoadDocument(ctx, d)
		require.NoError(t, err)
		require.True(t, doc.Empty())
		doc, err = s.LoadDocument(ctx, other)
		require.NoError(t, err)
		require.Len(t, doc.Records, 1)
	})
	t.Run("ConcurrentAppendsKeepOrder", func(t *testing.T) {
		t.Parallel()
		const writers, perWriter = 4, 25
		docs := make([]string, writers)
		var wg sync.WaitGroup
		errs := make([]error, writers)
		for w := range writers {
			docs[w] = "note:" + newID()
			wg.Go(func() {
				for i := range perWriter {
					if _, err := s.AppendUpdates(ctx, []storage.DocUpdate{{DocID: docs[w], Data: []byte{byte(i)}}}); err != nil {
						errs[w] = err
						return
					}
					if _, err := s.LoadDocument(ctx, docs[w]); err != nil {
						errs[w] = err
						return
					}
				}
			})
		}
		wg.Wait()
		for w := range writers {
			require.NoError(t, errs[w])
			doc, err := s.LoadDocument(ctx, docs[w])
			require.NoError(t, err)
			require.Len(t, doc.Records, perWriter)
			for i, r := range doc.Records {
				require.Equal(t, []byte{byte(i)}, r.Data)
			}
		}
	})
}

// The compaction tests use distinct payloads "<n>" and a merge that
// concatenates: nothing is lost while every payload is still inside some row.
func payload(i int) []byte { return fmt.Appendf(nil, "<%d>", i) }

func merge(doc storage.DocState) []byte {
	var b []byte
	for _, r := range doc.Records {
		b = append(b, r.Data...)
	}
	return b
}

func appendN(t testing.TB, s storage.Store, docID string, from, to int) {
	t.Helper()
	var ups []storage.DocUpdate
	for i := from; i < to; i++ {
		ups = append(ups, storage.DocUpdate{DocID: docID, Data: payload(i)})
	}
	_, err := s.AppendUpdates(context.Background(), ups)
	require.NoError(t, err)
}

func requireAllPresent(t testing.TB, s storage.Store, docID string, n int) storage.DocState {
	t.Helper()
	doc, err := s.LoadDocument(context.Background(), docID)
	require.NoError(t, err)
	all := merge(doc)
	for i := range n {
		require.True(t, bytes.Contains(all, payload(i)), "update %d lost; rows: %q", i, all)
	}
	return doc
}

func compact(t testing.TB, s storage.Store, docID string, merged []byte, ids []int64) int64 {
	t.Helper()
	id, err := s.Compact(context.Background(), docID, merged, ids)
	require.NoError(t, err)
	return id
}

func testCompact(t *testing.T, b *bundle) {
	ctx := context.Background()
	s := b.store

	t.Run("SnapshotFirst", func(t *testing.T) {
		t.Parallel()
		d := "note:" + newID()
		appendN(t, s, d, 0, 3)
		read, err := s.LoadDocument(ctx, d)
		require.NoError(t, err)
		appendN(t, s, d, 3, 4) // arrives between the read and the compaction
		compact(t, s, d, merge(read), read.IDs())

		doc := requireAllPresent(t, s, d, 4)
		require.Len(t, doc.Records, 2)
		require.True(t, doc.Records[0].Snapshot)
		require.Equal(t, []byte("<0><1><2>"), doc.Records[0].Data)
		require.False(t, doc.Records[1].Snapshot)
		require.Equal(t, payload(3), doc.Records[1].Data)

		// Compacting again folds the snapshot in too.
		read, err = s.LoadDocument(ctx, d)
		require.NoError(t, err)
		compact(t, s, d, merge(read), read.IDs())
		doc = requireAllPresent(t, s, d, 4)
		require.Len(t, doc.Records, 1)
		require.True(t, doc.Records[0].Snapshot)
	})
	t.Run("ReturnsSnapshotID", func(t *testing.T) {
		t.Parallel()
		d, other := "note:"+newID(), "note:"+newID()
		appendN(t, s, other, 0, 1)
		appendN(t, s, d, 0, 4)
		read, err := s.LoadDocument(ctx, d)
		require.NoError(t, err)
		rows := read.Records
		otherBefore, err := s.LoadDocument(ctx, other)
		require.NoError(t, err)

		first := compact(t, s, d, []byte("<0><1>"), []int64{rows[0].ID, rows[1].ID})
		doc, err := s.LoadDocument(ctx, d)
		require.NoError(t, err)
		require.Equal(t, []storage.DocRecord{{ID: first, Data: []byte("<0><1>"), Snapshot: true}, rows[2], rows[3]},
			doc.Records, "the returned id is the snapshot row's; the rows not given are untouched")

		// The returned id is what a caller passes to fold its own snapshot
		// into the next one.
		second := compact(t, s, d, []byte("<0><1><2>"), []int64{first, rows[2].ID})
		require.Greater(t, second, first)
		doc, err = s.LoadDocument(ctx, d)
		require.NoError(t, err)
		require.Equal(t, []storage.DocRecord{{ID: second, Data: []byte("<0><1><2>"), Snapshot: true}, rows[3]}, doc.Records)
		otherAfter, err := s.LoadDocument(ctx, other)
		require.NoError(t, err)
		require.Equal(t, otherBefore, otherAfter, "another document's rows are untouched")
	})
	t.Run("OnlyItsDocument", func(t *testing.T) {
		t.Parallel()
		d, other := "note:"+newID(), "note:"+newID()
		ids, err := s.AppendUpdates(ctx, []storage.DocUpdate{{DocID: d, Data: []byte{1}}, {DocID: other, Data: []byte{2}}})
		require.NoError(t, err)
		// Ids of another document are never deleted.
		compact(t, s, d, []byte{1}, ids)
		doc, err := s.LoadDocument(ctx, other)
		require.NoError(t, err)
		require.Len(t, doc.Records, 1)
	})
	t.Run("RacingFromSameRead", func(t *testing.T) {
		t.Parallel()
		d := "note:" + newID()
		appendN(t, s, d, 0, 10)
		read, err := s.LoadDocument(ctx, d)
		require.NoError(t, err)
		var wg sync.WaitGroup
		errs, ids := make([]error, 2), make([]int64, 2)
		for i := range errs {
			wg.Go(func() { ids[i], errs[i] = s.Compact(ctx, d, merge(read), read.IDs()) })
		}
		wg.Wait()
		require.NoError(t, errs[0])
		require.NoError(t, errs[1])
		doc := requireAllPresent(t, s, d, 10)
		require.Len(t, doc.Records, 2, "two duplicate snapshots, every update row gone")
		require.True(t, doc.Records[0].Snapshot && doc.Records[1].Snapshot)
		require.ElementsMatch(t, ids, doc.IDs(), "each compaction returned its own snapshot's id")
	})
	t.Run("RacingFromOverlappingReads", func(t *testing.T) {
		t.Parallel()
		d := "note:" + newID()
		appendN(t, s, d, 0, 5)
		first, err := s.LoadDocument(ctx, d)
		require.NoError(t, err)
		appendN(t, s, d, 5, 10)
		second, err := s.LoadDocument(ctx, d)
		require.NoError(t, err)
		compact(t, s, d, merge(second), second.IDs())
		appendN(t, s, d, 10, 12)
		compact(t, s, d, merge(first), first.IDs())
		third, err := s.LoadDocument(ctx, d)
		require.NoError(t, err)
		appendN(t, s, d, 12, 13)
		compact(t, s, d, merge(third), third.IDs())
		requireAllPresent(t, s, d, 13)
	})
	t.Run("ConcurrentWithAppends", func(t *testing.T) {
		t.Parallel()
		d := "note:" + newID()
		const total = 60
		var wg sync.WaitGroup
		var appendErr error
		wg.Go(func() {
			for i := range total {
				if _, err := s.AppendUpdates(ctx, []storage.DocUpdate{{DocID: d, Data: payload(i)}}); err != nil {
					appendErr = err
					return
				}
			}
		})
		compactErrs := make([]error, 2)
		for c := range compactErrs {
			wg.Go(func() {
				for range 10 {
					read, err := s.LoadDocument(ctx, d)
					if err == nil && !read.Empty() {
						_, err = s.Compact(ctx, d, merge(read), read.IDs())
					}
					if err != nil {
						compactErrs[c] = err
						return
					}
				}
			})
		}
		wg.Wait()
		require.NoError(t, appendErr)
		require.NoError(t, compactErrs[0])
		require.NoError(t, compactErrs[1])
		requireAllPresent(t, s, d, total)
	})
}
