package storage

import (
	"context"
	"errors"
)

// Sentinel errors. Drivers translate their own errors into these (one
// interpretError per driver) and wrap them with the operation: callers test
// with errors.Is.
var (
	// ErrNotFound: no row with that id (or email, or document).
	ErrNotFound = errors.New("storage: not found")
	// ErrConflict: a unique value (an email, an id) is taken already.
	ErrConflict = errors.New("storage: conflict")
	// ErrNotFirst: CreateUser with RoleFirstOnly, and an account exists.
	ErrNotFirst = errors.New("storage: an account exists already")
	// ErrLimit: the write would pass a cap the caller set.
	ErrLimit = errors.New("storage: limit reached")
	// ErrSchemaTooNew: the database was migrated by a newer binary.
	ErrSchemaTooNew = errors.New("storage: database schema is newer than this binary")
)

// Store is everything Quire persists: one interface per concern, embedded,
// plus the lifecycle. Two implementations: SQLite (embedded default) and
// PostgreSQL; storagetest holds the conformance suite both pass, split the
// same way. All methods are safe for concurrent use.
type Store interface {
	Accounts
	Notes
	DocLog
	Channels
	Chats

	// Ping checks the database answers (for /healthz), without waiting
	// for a connection the store's other work holds.
	Ping(ctx context.Context) error
	Close() error
}
