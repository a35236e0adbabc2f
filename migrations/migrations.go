// Package migrations holds Quire's schema as numbered SQL files per dialect
// (postgres/, sqlite/), embedded in the binary and applied with goose. No DDL
// lives anywhere else: a schema change is a new numbered file in both
// directories, never an edit of an applied one.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Dialect names a schema directory.
type Dialect string

// The supported dialects.
const (
	DialectPostgres Dialect = "postgres"
	DialectSQLite   Dialect = "sqlite"
)

// ErrSchemaTooNew: the database records a migration this binary does not
// have, so a newer Quire migrated it. Nothing is applied.
var ErrSchemaTooNew = errors.New("migrations: database schema is newer than this binary")

// Files holds the migrations, one directory per dialect.
//
//go:embed postgres/*.sql sqlite/*.sql
var Files embed.FS

// Migrate applies every pending migration of dialect to db. Running it again
// is a no-op. On PostgreSQL a session advisory lock serialises instances that
// start at once.
func Migrate(ctx context.Context, db *sql.DB, dialect Dialect, logger *slog.Logger) error {
	p, err := newProvider(db, dialect)
	if err != nil {
		return err
	}
	// Refuse before applying anything: a newer schema may not match our files.
	current, latest, err := Versions(ctx, db, dialect)
	if err != nil {
		return err
	}
	if current > latest {
		return fmt.Errorf("%w: database at version %d, this binary knows up to %d", ErrSchemaTooNew, current, latest)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrations: apply %s: %w", dialect, err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	for _, r := range results {
		logger.InfoContext(ctx, "applied migration", "dialect", string(dialect), "version", r.Source.Version, "duration", r.Duration)
	}
	return nil
}

// Versions reports the database's schema version (0 when never migrated)
// and the newest version this binary carries.
func Versions(ctx context.Context, db *sql.DB, dialect Dialect) (current, latest int64, err error) {
	p, err := newProvider(db, dialect)
	if err != nil {
		return 0, 0, err
	}
	sources := p.ListSources()
	latest = sources[len(sources)-1].Version
	current, err = p.GetDBVersion(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("migrations: read version: %w", err)
	}
	return current, latest, nil
}

func newProvider(db *sql.DB, dialect Dialect) (*goose.Provider, error) {
	var gd goose.Dialect
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	switch dialect {
	case DialectPostgres:
		gd = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, fmt.Errorf("migrations: locker: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	case DialectSQLite:
		gd = goose.DialectSQLite3
	default:
		return nil, fmt.Errorf("migrations: unknown dialect %q", dialect)
	}
	dir, err := fs.Sub(Files, string(dialect))
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(gd, db, dir, opts...)
	if err != nil {
		return nil, fmt.Errorf("migrations: %s provider: %w", dialect, err)
	}
	return p, nil
}
