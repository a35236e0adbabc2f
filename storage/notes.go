package storage

import (
	"context"
	"encoding/json"
	"slices"
)

// Permissions in an access grant.
const (
	PermRead  = "read"
	PermWrite = "write"
)

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

// ListNotesOptions selects and pages a note listing. By default notes come
// newest first (updated_at descending, id as tie-break).
type ListNotesOptions struct {
	// UserID: list the notes this account owns or has a user grant on.
	UserID string
	// All: list every note (admins); UserID then only serves View.
	All bool
	// View narrows the listing to the notes UserID owns (ViewOwned) or does
	// not own (ViewShared). Empty: both.
	View string
	// Access narrows the listing to the notes UserID may edit (AccessWrite:
	// owned or a user write grant; every note when All) or may only read
	// (AccessReadOnly: a read grant, not owned; none when All). Empty: both.
	Access string
	// Query keeps the notes whose title or data.content.md contains it,
	// case-insensitively (ASCII only on SQLite) and literally (% and _ are
	// not wildcards). Empty: no filter.
	Query string
	// OrderBy is OrderUpdated (zero value), OrderCreated or OrderTitle
	// (lower-cased, byte order); Ascending reverses the default descending
	// order. id breaks ties, ascending.
	OrderBy   string
	Ascending bool
	Skip      int
	Limit     int // 0 means no limit
	// MDPrefix > 0: each note's Data is only {"content": {"md": the first
	// MDPrefix characters of its data.content.md}} (what a listing shows),
	// cut in the database, so that a page of large notes is not read
	// whole. A note whose data is not JSON, or whose md is no string, lists
	// an empty md.
	MDPrefix int
}

// ListNotesOptions.View values.
const (
	ViewOwned  = "created"
	ViewShared = "shared"
)

// ListNotesOptions.Access values.
const (
	AccessWrite    = "write"
	AccessReadOnly = "read_only"
)

// ListNotesOptions.OrderBy values.
const (
	OrderUpdated = "updated_at"
	OrderCreated = "created_at"
	OrderTitle   = "title"
)

// Notes holds notes, their access grants and their rendered contents. A
// note's document log lives in DocLog under "note:<id>".
type Notes interface {
	// CreateNote inserts n with its grants. ErrConflict if the id exists.
	// Nil Data/Meta become "{}", an empty ID a UUID, zero timestamps now;
	// grants are deduplicated per principal (write beats read).
	CreateNote(ctx context.Context, n *Note) error
	// GetNote returns the note with its grants, or ErrNotFound.
	GetNote(ctx context.Context, id string) (*Note, error)
	ListNotes(ctx context.Context, opt ListNotesOptions) ([]Note, error)
	// CountNotes counts what ListNotes would list without Skip and Limit.
	CountNotes(ctx context.Context, opt ListNotesOptions) (int, error)
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
	// second result, and then nothing was written. A content equal byte
	// for byte to the stored one is not written (updated_at stays).
	SetNoteContents(ctx context.Context, contents []NoteContent) ([]error, error)
	// SetNoteAccess replaces the note's grants (deduplicated as in
	// CreateNote). ErrNotFound if the note is absent.
	SetNoteAccess(ctx context.Context, id string, grants []AccessGrant) error
	// DeleteNote removes the note, its grants and its document log
	// ("note:<id>"). ErrNotFound if absent.
	DeleteNote(ctx context.Context, id string) error
}
