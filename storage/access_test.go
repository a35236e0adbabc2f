package storage_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/storage"
	"github.com/quire/quire/storage/storagetest"
)

// GetNoteAccess answers what GetNote answers about owner and grants.
func TestGetNoteAccess(t *testing.T) {
	stores := map[string]func(t *testing.T) storage.Store{
		"sqlite":   func(t *testing.T) storage.Store { return openSQLite(t, filepath.Join(t.TempDir(), "q.db")) },
		"postgres": func(t *testing.T) storage.Store { return openPostgres(t, storagetest.NewPostgres(t)) },
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			r := s.(storage.NoteAccessReader)
			owner := &storage.User{Email: "o@x", Name: "o", PasswordHash: "x"}
			require.NoError(t, s.CreateUser(ctx, owner))
			for _, grants := range [][]storage.AccessGrant{nil, {
				{PrincipalType: "user", PrincipalID: "b", Permission: storage.PermWrite},
				{PrincipalType: "user", PrincipalID: "a", Permission: storage.PermRead},
			}} {
				n := &storage.Note{UserID: owner.ID, Title: "t", Data: json.RawMessage(`{"content":{"md":"big"}}`), AccessGrants: grants}
				require.NoError(t, s.CreateNote(ctx, n))
				full, err := s.GetNote(ctx, n.ID)
				require.NoError(t, err)
				got, err := r.GetNoteAccess(ctx, n.ID)
				require.NoError(t, err)
				require.Equal(t, full.ID, got.ID)
				require.Equal(t, full.UserID, got.UserID)
				require.Equal(t, full.AccessGrants, got.AccessGrants)
				require.JSONEq(t, "{}", string(got.Data))
			}
			_, err := r.GetNoteAccess(ctx, "missing")
			require.ErrorIs(t, err, storage.ErrNotFound)
		})
	}
}
