package storagetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quire/quire/storage"
)

// Notes: notes, listings, updates, grants, rendered contents, deletion.

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

	// MDPrefix: data is only the start of data.content.md, in characters.
	carol := newID()
	for i, data := range []string{
		`{"content":{"md":"` + strings.Repeat("é", 8) + `<b>\"q\"</b>"},"files":[1]}`,
		`{"content":{"html":"<p>no md</p>"}}`,
		`{}`,
	} {
		n := newNote(t, s, carol, int64(100-i))
		n.Data = json.RawMessage(data)
		_, err := s.UpdateNote(ctx, n.ID, func(cur *storage.Note) error { cur.Data = n.Data; return nil })
		require.NoError(t, err)
	}
	got, err = s.ListNotes(ctx, storage.ListNotesOptions{UserID: carol, MDPrefix: 10})
	require.NoError(t, err)
	require.Len(t, got, 3)
	for i, md := range []string{strings.Repeat("é", 8) + `<b`, "", ""} {
		var d map[string]any
		require.NoError(t, json.Unmarshal(got[i].Data, &d), "%s", got[i].Data)
		require.Equal(t, map[string]any{"content": map[string]any{"md": md}}, d)
		require.JSONEq(t, `{"k":1}`, string(got[i].Meta), "the rest is as ever")
	}
	got, err = s.ListNotes(ctx, storage.ListNotesOptions{UserID: carol, MDPrefix: 100})
	require.NoError(t, err)
	require.JSONEq(t, `{"content":{"md":"`+strings.Repeat("é", 8)+`<b>\"q\"</b>"}}`, string(got[0].Data))

	// An md that is no string is no Markdown: it lists empty on both
	// dialects (its JSON text showed, and differently: true as "1" on
	// SQLite), as unreadable data does. A character made of a JSON
	// surrogate pair is not cut in two.
	dave := newID()
	for i, data := range []string{
		`{"content":{"md":12345}}`,
		`{"content":{"md":{"a":"b"}}}`,
		`{"content":{"md":["x"]}}`,
		`{"content":{"md":true}}`,
		`{"content":{"md":"` + strings.Repeat("a", 9) + `\ud83d\ude00z"}}`,
		`{"content":"md"}`,
		`not JSON`,
	} {
		n := newNote(t, s, dave, int64(100-i))
		_, err := s.UpdateNote(ctx, n.ID, func(cur *storage.Note) error { cur.Data = json.RawMessage(data); return nil })
		require.NoError(t, err)
	}
	got, err = s.ListNotes(ctx, storage.ListNotesOptions{UserID: dave, MDPrefix: 10})
	require.NoError(t, err)
	var mds []any
	for i := range got {
		var d struct{ Content struct{ MD any } }
		require.NoError(t, json.Unmarshal(got[i].Data, &d), "%s", got[i].Data)
		mds = append(mds, d.Content.MD)
	}
	require.Equal(t, []any{"", "", "", "", strings.Repeat("a", 9) + "😀", "", ""}, mds)
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
	t.Run("UnchangedIsNotWritten", func(t *testing.T) {
		t.Parallel()
		// A rendering equal to the stored one (an edit undone before its
		// render) must not move updated_at.
		n := newNote(t, s, newID(), 1)
		same := storage.NoteContent{NoteID: n.ID, Content: json.RawMessage(`{"md":"same"}`), UpdatedAt: 70}
		errs, err := s.SetNoteContents(ctx, []storage.NoteContent{same})
		require.NoError(t, err)
		require.NoError(t, errs[0])
		same.UpdatedAt = 80
		errs, err = s.SetNoteContents(ctx, []storage.NoteContent{same})
		require.NoError(t, err)
		require.NoError(t, errs[0])
		got, err := s.GetNote(ctx, n.ID)
		require.NoError(t, err)
		require.Equal(t, int64(70), got.UpdatedAt)
		require.JSONEq(t, `{"content":{"md":"same"}}`, string(got.Data))
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
		stored := updateConcurrently(t, s, n.ID, writers, func(i int, n *storage.Note) error {
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
		stored := updateConcurrently(t, s, n.ID, writers, func(i int, n *storage.Note) error {
			n.AccessGrants = append(n.AccessGrants, userGrant(fmt.Sprintf("u%d", i), storage.PermRead))
			return nil
		})
		require.Len(t, stored.AccessGrants, writers)
	})
}

// updateConcurrently runs n UpdateNote calls on note id at once, the i-th
// with edit(i, note); each must succeed. It returns the note as stored
// afterwards.
func updateConcurrently(t *testing.T, s storage.Store, id string, n int, edit func(i int, n *storage.Note) error) *storage.Note {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.UpdateNote(ctx, id, func(n *storage.Note) error { return edit(i, n) })
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	stored, err := s.GetNote(ctx, id)
	require.NoError(t, err)
	return stored
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

// testSearchNotes: the filters, orders and count of ListNotes/CountNotes
// that Open WebUI's notes search uses, on an empty database of its own.
func testSearchNotes(t *testing.T, b *bundle) {
	ctx := context.Background()
	s := b.open(t)
	alice, bob, carol := "alice", "bob", "carol"
	add := func(owner, title, data string, created, updated int64, grants ...storage.AccessGrant) string {
		t.Helper()
		n := &storage.Note{ID: newID(), UserID: owner, Title: title, Data: json.RawMessage(data),
			AccessGrants: grants, CreatedAt: created, UpdatedAt: updated}
		require.NoError(t, s.CreateNote(ctx, n))
		return n.ID
	}
	md := func(s string) string { return `{"content":{"md":"` + s + `","html":"<p>zzz</p>"}}` }
	n1 := add(alice, "Shopping list", md("milk"), 10, 100)
	n2 := add(alice, "Plans", md("Buy MILK and 100% juice"), 20, 50)
	n3 := add(bob, "Trip", md("pack"), 30, 300, userGrant(alice, storage.PermRead))
	n4 := add(bob, "budget", `{}`, 40, 200, userGrant(alice, storage.PermWrite))
	n5 := add(bob, "secret milk", md(""), 50, 400)
	// Data that is not an object, or not JSON at all, never fails a search.
	n6 := add(carol, "odd", `["content"]`, 60, 60)
	n7 := add(carol, "odder", `not json {`, 70, 70)

	list := func(opt storage.ListNotesOptions) []string {
		t.Helper()
		got, err := s.ListNotes(ctx, opt)
		require.NoError(t, err, "%+v", opt)
		count, err := s.CountNotes(ctx, storage.ListNotesOptions{UserID: opt.UserID, All: opt.All, View: opt.View,
			Access: opt.Access, Query: opt.Query})
		require.NoError(t, err, "%+v", opt)
		if opt.Skip == 0 && opt.Limit == 0 {
			require.Equal(t, len(got), count, "CountNotes agrees with ListNotes: %+v", opt)
		}
		return noteIDs(got)
	}
	count := func(opt storage.ListNotesOptions) int {
		t.Helper()
		n, err := s.CountNotes(ctx, opt)
		require.NoError(t, err)
		return n
	}

	require.Equal(t, []string{n3, n4, n1, n2}, list(storage.ListNotesOptions{UserID: alice}))
	require.Equal(t, []string{n1, n2}, list(storage.ListNotesOptions{UserID: alice, View: storage.ViewOwned}))
	require.Equal(t, []string{n3, n4}, list(storage.ListNotesOptions{UserID: alice, View: storage.ViewShared}))
	require.Equal(t, []string{n4, n1, n2}, list(storage.ListNotesOptions{UserID: alice, Access: storage.AccessWrite}), "owned or a write grant")
	require.Equal(t, []string{n4}, list(storage.ListNotesOptions{UserID: alice, Access: storage.AccessWrite, View: storage.ViewShared}))
	require.Equal(t, []string{n3}, list(storage.ListNotesOptions{UserID: alice, Access: storage.AccessReadOnly}), "a read grant only")

	// Query: title or markdown, any case, literally; not the html.
	require.Equal(t, []string{n1, n2}, list(storage.ListNotesOptions{UserID: alice, Query: "MiLk"}))
	require.Equal(t, []string{n3}, list(storage.ListNotesOptions{UserID: alice, Query: "trip"}))
	require.Equal(t, []string{n2}, list(storage.ListNotesOptions{UserID: alice, Query: "0%"}))
	require.Empty(t, list(storage.ListNotesOptions{UserID: alice, Query: "_"}), "_ is not a wildcard")
	require.Empty(t, list(storage.ListNotesOptions{UserID: alice, Query: "zzz"}), "html is not searched")
	require.Empty(t, list(storage.ListNotesOptions{UserID: alice, Query: "content"}), "nor the JSON keys")

	// Orders; id breaks ties.
	require.Equal(t, []string{n1, n2, n3, n4}, list(storage.ListNotesOptions{UserID: alice, OrderBy: storage.OrderCreated, Ascending: true}))
	require.Equal(t, []string{n4, n3, n2, n1}, list(storage.ListNotesOptions{UserID: alice, OrderBy: storage.OrderCreated}))
	require.Equal(t, []string{n4, n2, n1, n3}, list(storage.ListNotesOptions{UserID: alice, OrderBy: storage.OrderTitle, Ascending: true}), "lower-cased titles")
	require.Equal(t, []string{n3, n1, n2, n4}, list(storage.ListNotesOptions{UserID: alice, OrderBy: storage.OrderTitle}))
	require.Equal(t, []string{n2, n1, n4, n3}, list(storage.ListNotesOptions{UserID: alice, Ascending: true}))

	// Pages, and the count of everything.
	require.Equal(t, []string{n4, n1}, list(storage.ListNotesOptions{UserID: alice, Skip: 1, Limit: 2}))
	require.Empty(t, list(storage.ListNotesOptions{UserID: alice, Skip: 4, Limit: 2}), "past the end: nothing")
	require.Equal(t, 4, count(storage.ListNotesOptions{UserID: alice, Skip: 4, Limit: 2}), "the count ignores the page")

	// All (admins): every note, filters still apply; odd data is no error.
	require.Equal(t, []string{n5, n3, n4, n1, n7, n6, n2}, list(storage.ListNotesOptions{All: true, UserID: carol}))
	require.Equal(t, []string{n5, n1, n2}, list(storage.ListNotesOptions{All: true, UserID: carol, Query: "milk"}))
	require.Equal(t, []string{n7, n6}, list(storage.ListNotesOptions{All: true, UserID: carol, Query: "odd"}))
	require.Equal(t, []string{n7, n6}, list(storage.ListNotesOptions{All: true, UserID: carol, View: storage.ViewOwned}))
	require.Equal(t, 7, count(storage.ListNotesOptions{All: true, UserID: carol, Access: storage.AccessWrite}), "admins may write everything")
	require.Zero(t, count(storage.ListNotesOptions{All: true, UserID: carol, Access: storage.AccessReadOnly}))
	require.Equal(t, 5, count(storage.ListNotesOptions{All: true, UserID: carol, View: storage.ViewShared}))

	// Someone with no notes and no grants: nothing.
	require.Empty(t, list(storage.ListNotesOptions{UserID: "dave", Query: "milk"}))
}
