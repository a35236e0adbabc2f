package storage

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
)

// Sentinel errors. Drivers translate their own errors into these (one
// interpretError per driver) and wrap them with the operation: callers test
// with errors.Is.
var (
	// ErrNotFound: no row with that id (or email, or document).
	ErrNotFound = errors.New("storage: not found")
	// ErrConflict: a unique value (an email, an id) is taken already.
	ErrConflict = errors.New("storage: conflict")
	// ErrSchemaTooNew: the database was migrated by a newer binary.
	ErrSchemaTooNew = errors.New("storage: database schema is newer than this binary")
)

// Roles of an account.
const (
	RoleAdmin   = "admin"
	RoleUser    = "user"
	RolePending = "pending"
)

// Permissions in an access grant.
const (
	PermRead  = "read"
	PermWrite = "write"
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

// AccessGrant gives one principal read or write access to a resource.
type AccessGrant struct {
	PrincipalType string `json:"principal_type"` // "user" (groups are not modelled yet)
	PrincipalID   string `json:"principal_id"`
	Permission    string `json:"permission"` // PermRead or PermWrite
}

// grantsChanged reports whether next, deduplicated, is a different set of
// grants than stored (already deduplicated, as read), and returns it.
func grantsChanged(stored, next []AccessGrant) ([]AccessGrant, bool) {
	next = dedupeGrants(next)
	if len(next) != len(stored) {
		return next, true
	}
	for _, g := range next {
		if !slices.Contains(stored, g) {
			return next, true
		}
	}
	return next, false
}

// NoteContent is a rendering of a note's live document for SetNoteContents.
type NoteContent struct {
	NoteID    string
	Content   json.RawMessage // the JSON value of data.content
	UpdatedAt int64
}

// Note is a note with its access grants. Timestamps are Unix nanoseconds.
type Note struct {
	ID           string
	UserID       string // owner
	Title        string
	Data         json.RawMessage // JSON object: {"content": {"md","html","json"}, "files": …}; never nil once stored ("{}" at least)
	Meta         json.RawMessage // JSON object; never nil once stored
	AccessGrants []AccessGrant
	CreatedAt    int64
	UpdatedAt    int64
}

// ListNotesOptions pages a note listing. Notes come newest first
// (updated_at descending, id as tie-break).
type ListNotesOptions struct {
	// UserID: list the notes this account owns or has a grant on.
	UserID string
	// All: list every note (admins); UserID is then ignored.
	All   bool
	Skip  int
	Limit int // 0 means no limit
}

// DocUpdate is one Yjs v1 update to append to a document's log.
type DocUpdate struct {
	DocID string // e.g. "note:<id>"
	Data  []byte
}

// DocRecord is one stored row of a document's log: an update as a client
// sent it, or a merged snapshot written by compaction.
type DocRecord struct {
	ID       int64
	Data     []byte
	Snapshot bool
}

// DocState is everything stored for one document, oldest row first.
type DocState struct {
	Records []DocRecord
}

// Empty reports whether the document has no stored CRDT state.
func (s DocState) Empty() bool { return len(s.Records) == 0 }

// IDs returns the ids of the rows read, for Compact.
func (s DocState) IDs() []int64 {
	ids := make([]int64, len(s.Records))
	for i, r := range s.Records {
		ids[i] = r.ID
	}
	return ids
}

// Store is everything Quire persists. Two implementations: SQLite (embedded
// default) and PostgreSQL; storagetest holds the conformance suite both pass.
// All methods are safe for concurrent use.
type Store interface {
	// Ping checks the database answers (for /healthz).
	Ping(ctx context.Context) error
	Close() error

	// CreateUser inserts u. If u.Role is empty the account becomes RoleAdmin
	// when it is the first account, else RoleUser; decided in the same
	// transaction as the insert, so two racing first signups make one admin.
	// The chosen role is written back to u. ErrConflict if the email is taken.
	// The email is lower-cased; an empty ID gets a UUID and zero timestamps
	// get the current time (all written back).
	CreateUser(ctx context.Context, u *User) error
	GetUser(ctx context.Context, id string) (*User, error)
	GetUserByEmail(ctx context.Context, email string) (*User, error)
	ListUsers(ctx context.Context) ([]User, error)
	// SearchUsers returns the accounts (pending ones included) whose email
	// or name contains query, case-insensitively (lower() of the database:
	// ASCII only on SQLite), ordered by lower-cased name (byte order) then
	// id, at most limit of them (limit <= 0: no limit). The query matches
	// literally: % and _ are not wildcards. An empty query matches everyone.
	SearchUsers(ctx context.Context, query string, limit int) ([]User, error)
	// UpdateUserRole sets the role and rotates the session stamp to newStamp.
	UpdateUserRole(ctx context.Context, id, role, newStamp string) error
	// SetSessionStamp rotates the account's session stamp (revoke all tokens).
	SetSessionStamp(ctx context.Context, id, stamp string) error
	// TouchUser sets last_active_at (Unix seconds).
	TouchUser(ctx context.Context, id string, at int64) error

	// RevokeToken records that the token with this jti is revoked until
	// expiresAt (Unix seconds); rows past expiry may be purged.
	RevokeToken(ctx context.Context, jti string, expiresAt int64) error
	IsTokenRevoked(ctx context.Context, jti string) (bool, error)

	// CreateNote inserts n with its grants. ErrConflict if the id exists.
	// Nil Data/Meta become "{}", an empty ID a UUID, zero timestamps now;
	// grants are deduplicated per principal (write beats read).
	CreateNote(ctx context.Context, n *Note) error
	// GetNote returns the note with its grants, or ErrNotFound.
	GetNote(ctx context.Context, id string) (*Note, error)
	ListNotes(ctx context.Context, opt ListNotesOptions) ([]Note, error)
	// UpdateNote reads the note, calls fn on it and writes back Title, Data,
	// Meta and UpdatedAt, all in one transaction (so concurrent updaters
	// never lose each other's fields). If fn left AccessGrants a different
	// set than the stored one, the grants are replaced (deduplicated as in
	// CreateNote) in the same transaction. fn sees the note as locked, so
	// access checks made in fn hold at commit. fn returning an error aborts
	// with that error and changes nothing. Returns the stored note. fn must
	// be quick and must not call the Store: it runs with the note's row
	// locked (on SQLite, while the single writer is held).
	UpdateNote(ctx context.Context, id string, fn func(*Note) error) (*Note, error)
	// SetNoteContents writes each note's data.content (keeping the other
	// data keys, as Open WebUI's shallow merge) and updated_at, all in one
	// transaction: the server's rendering of many documents costs one
	// commit. The result has one entry per input: nil, ErrNotFound for a
	// note that is gone, or the error that stored data was not a JSON
	// object (that note is left as it was). A failed transaction is the
	// second result, and then nothing was written.
	SetNoteContents(ctx context.Context, contents []NoteContent) ([]error, error)
	// SetNoteAccess replaces the note's grants (deduplicated as in
	// CreateNote). ErrNotFound if the note is absent.
	SetNoteAccess(ctx context.Context, id string, grants []AccessGrant) error
	// DeleteNote removes the note, its grants and its document log
	// ("note:<id>"). ErrNotFound if absent.
	DeleteNote(ctx context.Context, id string) error

	// AppendUpdates appends every update in one transaction (group commit)
	// and returns after it is durable. Updates of one document keep their
	// order. Returns the new row ids, in input order.
	AppendUpdates(ctx context.Context, updates []DocUpdate) ([]int64, error)
	// LoadDocument returns every stored row of the document: snapshot rows
	// first, then updates in append order; an empty DocState (not an error)
	// when nothing is stored.
	LoadDocument(ctx context.Context, docID string) (DocState, error)
	// Compact inserts merged as a snapshot row and deletes exactly the rows
	// whose ids are given, in one transaction, and returns the snapshot
	// row's id (the caller's next compaction may delete it: its content is
	// the caller's). A racing compaction can only leave extra snapshot rows,
	// which are mergeable duplicates: nothing is lost.
	Compact(ctx context.Context, docID string, merged []byte, readIDs []int64) (int64, error)
	// DeleteDocument removes a document's whole log.
	DeleteDocument(ctx context.Context, docID string) error
}
