package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/quire/quire/internal/docid"
	"github.com/quire/quire/migrations"
)

// SQLiteFileName is the database file Open creates in the data directory.
const SQLiteFileName = "quire.db"

// Open opens the store databaseURL names and migrates it: an empty URL
// means SQLite at <dataDir>/quire.db, postgres:// or postgresql:// means
// PostgreSQL. Any other URL is an error.
func Open(ctx context.Context, databaseURL, dataDir string, logger *slog.Logger) (Store, error) {
	switch {
	case databaseURL == "":
		s, err := OpenSQLite(ctx, filepath.Join(dataDir, SQLiteFileName), logger)
		if err != nil {
			return nil, err // not a typed nil inside the interface
		}
		return s, nil
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		s, err := OpenPostgres(ctx, databaseURL, logger)
		if err != nil {
			return nil, err
		}
		return s, nil
	default:
		scheme, _, _ := strings.Cut(databaseURL, ":")
		return nil, fmt.Errorf("storage: unsupported database URL scheme %q: want postgres:// or postgresql://, or empty for SQLite", scheme)
	}
}

// PoolStats describes a driver's connection pool, for metrics.
type PoolStats struct {
	MaxOpen      int           // connection limit
	Open         int           // connections open now
	InUse        int           // connections serving a query now
	Idle         int           // connections open and idle
	WaitCount    int64         // total acquisitions that had to wait
	WaitDuration time.Duration // total time spent waiting for a connection
}

// StatsReporter is implemented by stores that have a connection pool (both
// drivers). Find it by type assertion: store.(storage.StatsReporter).
type StatsReporter interface {
	PoolStats() PoolStats
}

// interpretMigrateError maps migrations' sentinel onto ours.
func interpretMigrateError(err error) error {
	if errors.Is(err, migrations.ErrSchemaTooNew) {
		return fmt.Errorf("%w (%w)", ErrSchemaTooNew, err)
	}
	return err
}

// withContent: notecontent.go.

// setContents is SetNoteContents' work inside a driver's transaction: for
// each note, in id order, read its data (found is false when the note is
// gone), merge the content in, write it back. A note's own problem is its
// entry in errs; an error of read or write aborts the transaction.
func setContents(contents []NoteContent, read func(id string) (data string, found bool, err error),
	write func(c NoteContent, data string) error) (errs []error, err error) {
	errs = make([]error, len(contents))
	for _, i := range sortedContents(contents) {
		c := contents[i]
		data, found, err := read(c.NoteID)
		if err != nil {
			return nil, err
		}
		if !found {
			errs[i] = ErrNotFound
			continue
		}
		if hasContent(json.RawMessage(data), c.Content) {
			continue // unchanged: neither data nor updated_at moves
		}
		merged, err := withContent(json.RawMessage(data), c.Content)
		if err != nil {
			errs[i] = err
			continue
		}
		if err := write(c, string(merged)); err != nil {
			return nil, err
		}
	}
	return errs, nil
}

// sortedContents is contents in note id order: rows are locked in one order
// by every batch, so two instances' batches cannot deadlock.
func sortedContents(contents []NoteContent) []int {
	order := make([]int, len(contents))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(contents[a].NoteID, contents[b].NoteID) })
	return order
}

// jsonOrEmpty is the stored form of Data and Meta: never empty.
func jsonOrEmpty(m json.RawMessage) json.RawMessage {
	if len(m) == 0 {
		return json.RawMessage("{}")
	}
	return m
}

// normalizeNote fills what storage guarantees about a note before writing.
func normalizeNote(n *Note) {
	if n.ID == "" {
		n.ID = uuid.NewString()
	}
	n.Data = jsonOrEmpty(n.Data)
	n.Meta = jsonOrEmpty(n.Meta)
	if n.CreatedAt == 0 {
		n.CreatedAt = time.Now().UnixNano()
	}
	if n.UpdatedAt == 0 {
		n.UpdatedAt = n.CreatedAt
	}
}

// normalizeUser fills what storage guarantees about an account before
// inserting it (Role is decided by the driver).
func normalizeUser(u *User) {
	if u.ID == "" {
		u.ID = uuid.NewString()
	}
	u.Email = strings.ToLower(u.Email)
	if u.CreatedAt == 0 {
		u.CreatedAt = time.Now().Unix()
	}
	if u.UpdatedAt == 0 {
		u.UpdatedAt = u.CreatedAt
	}
	if u.LastActiveAt == 0 {
		u.LastActiveAt = u.CreatedAt
	}
}

// likeEscaper escapes LIKE's wildcards and its escape character (\, named
// in each query's ESCAPE clause) so that a pattern matches them literally.
var likeEscaper = strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`)

// containsPattern is a LIKE pattern (ESCAPE '\') matching any text that
// contains q.
func containsPattern(q string) string { return "%" + likeEscaper.Replace(q) + "%" }

// dedupeGrants keeps one grant per principal (the table's key), the
// strongest permission winning, in first-seen order.
func dedupeGrants(grants []AccessGrant) []AccessGrant {
	out := make([]AccessGrant, 0, len(grants))
	at := make(map[[2]string]int, len(grants))
	for _, g := range grants {
		k := [2]string{g.PrincipalType, g.PrincipalID}
		if i, ok := at[k]; ok {
			if g.Permission == PermWrite {
				out[i].Permission = PermWrite
			}
			continue
		}
		at[k] = len(out)
		out = append(out, g)
	}
	return out
}

// noteDocID is the document log of a note.
func noteDocID(noteID string) string { return docid.Note(noteID) }

// pageBounds clamps ListNotesOptions to non-negative values; limit -1 means none.
func pageBounds(opt ListNotesOptions) (skip, limit int) {
	skip, limit = max(opt.Skip, 0), opt.Limit
	if limit <= 0 {
		limit = -1
	}
	return skip, limit
}

// firstRole resolves an empty role or RoleFirstOnly (asked) for an account
// created when othersExist, or refuses it.
func firstRole(asked string, othersExist bool) (string, error) {
	switch {
	case !othersExist:
		return RoleAdmin, nil
	case asked == RoleFirstOnly:
		return "", ErrNotFirst
	}
	return RoleUser, nil
}

// fnError carries UpdateNote's callback error through the transaction
// helper unwrapped, so callers see exactly what fn returned.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

func derefNotes(ps []*Note) []Note {
	notes := make([]Note, len(ps))
	for i, n := range ps {
		notes[i] = *n
	}
	return notes
}

// nonNilBytes: a nil []byte would be stored as NULL.
func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
