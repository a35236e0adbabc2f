package storage_test

import (
	"context"
	"database/sql"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/quire/quire/migrations"
	"github.com/quire/quire/storage"
	"github.com/quire/quire/storage/storagetest"
)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) { w.t.Helper(); w.t.Log(string(p)); return len(p), nil }

func openSQLite(t *testing.T, path string) *storage.SQLiteStore {
	t.Helper()
	s, err := storage.OpenSQLite(context.Background(), path, testLogger(t))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func openPostgres(t *testing.T, url string) *storage.PostgresStore {
	t.Helper()
	s, err := storage.OpenPostgres(context.Background(), url, testLogger(t))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSQLite(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return openSQLite(t, filepath.Join(t.TempDir(), "sub", "quire.db"))
	})
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return openPostgres(t, storagetest.NewPostgres(t))
	})
}

// backend is one database of a driver that tests can reopen.
type backend struct {
	name    string
	dialect migrations.Dialect
	open    func(ctx context.Context) (storage.Store, error) // a new store on the same database
	rawDB   func(t *testing.T) *sql.DB                       // the same database without the store
}

func (b backend) mustOpen(t *testing.T) storage.Store {
	t.Helper()
	s, err := b.open(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// backends: SQLite always, PostgreSQL when configured.
func backends(t *testing.T) []backend {
	path := filepath.Join(t.TempDir(), "quire.db")
	bs := []backend{{
		name:    "sqlite",
		dialect: migrations.DialectSQLite,
		open: func(ctx context.Context) (storage.Store, error) {
			return storage.Open(ctx, "", filepath.Dir(path), testLogger(t))
		},
		rawDB: func(t *testing.T) *sql.DB { return rawDB(t, "sqlite", path) },
	}}
	if os.Getenv(storagetest.EnvDatabaseURL) != "" {
		url := storagetest.NewPostgres(t)
		bs = append(bs, backend{
			name:    "postgres",
			dialect: migrations.DialectPostgres,
			open: func(ctx context.Context) (storage.Store, error) {
				return storage.Open(ctx, url, "", testLogger(t))
			},
			rawDB: func(t *testing.T) *sql.DB { return rawDB(t, "pgx", url) },
		})
	}
	return bs
}

func rawDB(t *testing.T, driver, dsn string) *sql.DB {
	db, err := sql.Open(driver, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func TestRestartKeepsData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s := b.mustOpen(t)
			u := &storage.User{ID: "u1", Email: "a@example.com", Role: storage.RoleUser, CreatedAt: 1}
			require.NoError(t, s.CreateUser(ctx, u))
			n := &storage.Note{ID: "n1", UserID: "u1", Title: "t", AccessGrants: []storage.AccessGrant{{PrincipalType: "user", PrincipalID: "u2", Permission: storage.PermRead}}}
			require.NoError(t, s.CreateNote(ctx, n))
			ids, err := s.AppendUpdates(ctx, []storage.DocUpdate{{DocID: "note:n1", Data: []byte{1, 2}}})
			require.NoError(t, err)
			require.NoError(t, s.Close())

			s = b.mustOpen(t)
			got, err := s.GetUser(ctx, "u1")
			require.NoError(t, err)
			require.Equal(t, u, got)
			note, err := s.GetNote(ctx, "n1")
			require.NoError(t, err)
			require.Equal(t, n.AccessGrants, note.AccessGrants)
			doc, err := s.LoadDocument(ctx, "note:n1")
			require.NoError(t, err)
			require.Equal(t, []storage.DocRecord{{ID: ids[0], Data: []byte{1, 2}}}, doc.Records)
		})
	}
}

func TestMigrations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			require.NoError(t, b.mustOpen(t).Close()) // migrates
			db := b.rawDB(t)
			current, latest, err := migrations.Versions(ctx, db, b.dialect)
			require.NoError(t, err)
			require.Equal(t, latest, current)
			require.Positive(t, latest)

			var rows int
			require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM goose_db_version").Scan(&rows))
			require.NoError(t, migrations.Migrate(ctx, db, b.dialect, testLogger(t)), "running twice is a no-op")
			var after int
			require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM goose_db_version").Scan(&after))
			require.Equal(t, rows, after)

			// A newer binary migrated this database: refuse, clearly.
			_, err = db.ExecContext(ctx, "INSERT INTO goose_db_version (version_id, is_applied) VALUES (9999, true)")
			require.NoError(t, err)
			err = migrations.Migrate(ctx, db, b.dialect, nil)
			require.ErrorIs(t, err, migrations.ErrSchemaTooNew)
			s, openErr := b.open(ctx)
			require.Nil(t, s)
			require.ErrorIs(t, openErr, storage.ErrSchemaTooNew)
			require.ErrorContains(t, openErr, "9999")
		})
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("EmptyURLIsSQLiteInDataDir", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		s, err := storage.Open(ctx, "", dir, testLogger(t))
		require.NoError(t, err)
		defer s.Close()
		require.IsType(t, &storage.SQLiteStore{}, s)
		require.FileExists(t, filepath.Join(dir, storage.SQLiteFileName))
		_, ok := s.(storage.StatsReporter)
		require.True(t, ok)
	})
	t.Run("BadScheme", func(t *testing.T) {
		for _, url := range []string{"mysql://x/y", "sqlite:///tmp/x.db", "localhost:5432"} {
			s, err := storage.Open(ctx, url, t.TempDir(), nil)
			require.ErrorContains(t, err, "unsupported database URL scheme", url)
			require.Nil(t, s, "no typed nil store")
		}
	})
	t.Run("Postgres", func(t *testing.T) {
		url := storagetest.NewPostgres(t)
		s, err := storage.Open(ctx, url, "", testLogger(t))
		require.NoError(t, err)
		defer s.Close()
		require.IsType(t, &storage.PostgresStore{}, s)
		require.NoError(t, s.Ping(ctx))
		stats := s.(storage.StatsReporter).PoolStats()
		require.Positive(t, stats.MaxOpen)
	})
	t.Run("PostgresqlScheme", func(t *testing.T) {
		url := storagetest.NewPostgres(t)
		s, err := storage.Open(ctx, "postgresql://"+strings.TrimPrefix(url, "postgres://"), "", nil)
		require.NoError(t, err)
		defer s.Close()
		require.IsType(t, &storage.PostgresStore{}, s)
	})
	t.Run("PostgresUnreachable", func(t *testing.T) {
		s, err := storage.Open(ctx, "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2", "", nil)
		require.Error(t, err)
		require.Nil(t, s)
	})
}
