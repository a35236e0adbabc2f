package storage

import (
	"context"
	"encoding/json"
)

// Roles of an account.
const (
	RoleAdmin   = "admin"
	RoleUser    = "user"
	RolePending = "pending"
	// RoleFirstOnly, given to CreateUser, makes the account the admin if it
	// is the first one, and refuses it (ErrNotFirst) otherwise: sign-up
	// when only the first account may sign up.
	RoleFirstOnly = "first-only"
)

// User is an account. Timestamps are Unix seconds, as Open WebUI's user table.
type User struct {
	ID           string
	Email        string // stored lower-cased; unique
	Name         string
	Role         string // RoleAdmin, RoleUser or RolePending
	PasswordHash string
	// SessionStamp is copied into every token issued for this account;
	// rotating it (sign-out, role change) revokes every token issued before.
	SessionStamp string
	CreatedAt    int64
	UpdatedAt    int64
	LastActiveAt int64
}

// SearchUsersOptions selects and pages a SearchUsers.
type SearchUsersOptions struct {
	// Query matches the accounts whose email or name contains it,
	// case-insensitively (lower() of the database: ASCII only on SQLite)
	// and literally (% and _ are not wildcards). Empty: everyone.
	Query string
	// NameOnly matches the name only.
	NameOnly bool
	Skip     int
	Limit    int // <= 0: no limit
}

// Accounts holds user accounts and token revocations (sessions). Accounts
// are never deleted (there is no DeleteUser), so nothing cascades from them.
type Accounts interface {
	// CreateUser inserts u. If u.Role is empty the account becomes RoleAdmin
	// when it is the first account, else RoleUser; decided in the same
	// transaction as the insert, so two racing first signups make one admin.
	// RoleFirstOnly is the same, but a non-first account is refused with
	// ErrNotFirst. The chosen role is written back to u. ErrConflict if the
	// email is taken.
	// The email is lower-cased; an empty ID gets a UUID and zero timestamps
	// get the current time (all written back).
	CreateUser(ctx context.Context, u *User) error
	GetUser(ctx context.Context, id string) (*User, error)
	// GetSessionUser is GetUser that also tells, in the same read, whether
	// the token with this jti is revoked: a token check costs one query.
	GetSessionUser(ctx context.Context, id, jti string) (*User, bool, error)
	GetUserByEmail(ctx context.Context, email string) (*User, error)
	ListUsers(ctx context.Context) ([]User, error)
	// ListChannelAccounts returns the accounts that are members of the
	// channel or hold role, each once, ordered as ListUsers: those who may
	// read a private channel, among others the REST layer rules out, read
	// without listing every account.
	ListChannelAccounts(ctx context.Context, channelID, role string) ([]User, error)
	// SearchUsers returns the accounts (pending ones included) that match
	// opt, ordered by lower-cased name (byte order) then id, one page of
	// them, and the number of all matches.
	SearchUsers(ctx context.Context, opt SearchUsersOptions) ([]User, int, error)
	// UpdateUserRole sets the role and rotates the session stamp to newStamp.
	UpdateUserRole(ctx context.Context, id, role, newStamp string) error
	// SetSessionStamp rotates the account's session stamp (revoke all tokens).
	SetSessionStamp(ctx context.Context, id, stamp string) error
	// TouchUser sets last_active_at (Unix seconds).
	TouchUser(ctx context.Context, id string, at int64) error
	// GetUserSettings returns the account's settings as stored (a JSON
	// object, byte for byte), or nil when none were ever stored.
	// ErrNotFound if there is no such account.
	GetUserSettings(ctx context.Context, id string) (json.RawMessage, error)
	// SetUserSettings replaces the account's settings (a JSON object; the
	// caller validates it). ErrNotFound if there is no such account.
	SetUserSettings(ctx context.Context, id string, settings json.RawMessage) error

	// RevokeToken records that the token with this jti is revoked until
	// expiresAt (Unix seconds); rows past expiry may be purged.
	RevokeToken(ctx context.Context, jti string, expiresAt int64) error
}
