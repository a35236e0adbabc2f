package storage

import (
	"context"
	"database/sql"
	"encoding/json"
)

// NoteAccessReader is the optional fast path of permission checks (every
// socket join and update): the note's owner and grants without its data,
// which holds the rendered content and can be megabytes.
type NoteAccessReader interface {
	// GetNoteAccess returns the note with ID, UserID and AccessGrants set
	// and nothing else (Data and Meta "{}"), or ErrNotFound.
	GetNoteAccess(ctx context.Context, id string) (*Note, error)
}

var (
	_ NoteAccessReader = (*SQLiteStore)(nil)
	_ NoteAccessReader = (*PostgresStore)(nil)
)

// The access query: one row per grant, or one row of NULLs for none.
const (
	noteAccessSelect = `SELECT n.user_id, a.principal_type, a.principal_id, a.permission
	FROM notes n LEFT JOIN note_access a ON a.note_id = n.id WHERE n.id = `
	noteAccessOrder       = ` ORDER BY a.principal_type, a.principal_id`
	sqliteNoteAccessQuery = noteAccessSelect + "?" + noteAccessOrder
	pgNoteAccessQuery     = noteAccessSelect + "$1" + noteAccessOrder
)

type accessRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

func scanNoteAccess(id string, rows accessRows) (*Note, error) {
	n := &Note{ID: id, Data: json.RawMessage("{}"), Meta: json.RawMessage("{}"), AccessGrants: []AccessGrant{}}
	found := false
	for rows.Next() {
		var typ, pid, perm sql.NullString
		if err := rows.Scan(&n.UserID, &typ, &pid, &perm); err != nil {
			return nil, err
		}
		found = true
		if typ.Valid {
			n.AccessGrants = append(n.AccessGrants, AccessGrant{PrincipalType: typ.String, PrincipalID: pid.String, Permission: perm.String})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if !found {
		return nil, ErrNotFound
	}
	return n, nil
}

func (s *SQLiteStore) GetNoteAccess(ctx context.Context, id string) (*Note, error) {
	rows, err := s.noteAccess.QueryContext(ctx, id)
	if err != nil {
		return nil, sqliteErr("get note access", err)
	}
	defer rows.Close()
	n, err := scanNoteAccess(id, rows)
	if err != nil {
		return nil, sqliteErr("get note access", err)
	}
	return n, nil
}

func (s *PostgresStore) GetNoteAccess(ctx context.Context, id string) (*Note, error) {
	rows, err := s.pool.Query(ctx, pgNoteAccessQuery, id)
	if err != nil {
		return nil, pgErr("get note access", err)
	}
	defer rows.Close()
	n, err := scanNoteAccess(id, rows)
	if err != nil {
		return nil, pgErr("get note access", err)
	}
	return n, nil
}
