package migrations_test

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/quire/quire/migrations"
)

func openSQLite(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "m.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func TestMigrateSQLite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openSQLite(t)

	current, latest, err := migrations.Versions(ctx, db, migrations.DialectSQLite)
	require.NoError(t, err)
	require.Zero(t, current, "fresh database")
	require.Positive(t, latest)

	require.NoError(t, migrations.Migrate(ctx, db, migrations.DialectSQLite, nil))
	require.NoError(t, migrations.Migrate(ctx, db, migrations.DialectSQLite, nil))
	current, _, err = migrations.Versions(ctx, db, migrations.DialectSQLite)
	require.NoError(t, err)
	require.Equal(t, latest, current)

	for _, table := range []string{"users", "revoked_tokens", "notes", "note_access", "doc_updates", "channel", "message", "chat", "user_settings"} {
		var n int
		require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n), table)
	}
}

func TestUnknownDialect(t *testing.T) {
	t.Parallel()
	err := migrations.Migrate(context.Background(), openSQLite(t), "mysql", nil)
	require.ErrorContains(t, err, `unknown dialect "mysql"`)
}

// Both dialects carry the same numbered files, so a version means the same
// schema everywhere.
func TestDialectsInStep(t *testing.T) {
	t.Parallel()
	pg, err := fs.Glob(migrations.Files, "postgres/*.sql")
	require.NoError(t, err)
	lite, err := fs.Glob(migrations.Files, "sqlite/*.sql")
	require.NoError(t, err)
	require.NotEmpty(t, pg)
	require.Len(t, lite, len(pg))
	for i := range pg {
		require.Equal(t, filepath.Base(pg[i]), filepath.Base(lite[i]))
	}
}
