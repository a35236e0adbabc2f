package storage

import (
	"context"
	"errors"
	"log/slog"
)

// PostgresStore is the PostgreSQL Store (in progress).
type PostgresStore struct{ Store }

// OpenPostgres opens the PostgreSQL store (in progress).
func OpenPostgres(ctx context.Context, url string, logger *slog.Logger) (*PostgresStore, error) {
	return nil, errors.New("storage: postgres driver not implemented yet")
}
