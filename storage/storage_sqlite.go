package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/quire/quire/migrations"
)

var _ Store = (*SQLiteStore)(nil)
var _ StatsReporter = (*SQLiteStore)(nil)

// SQLiteStore is the embedded Store. SQLite allows one writer at a time, so
// every write goes through one connection (w, MaxOpenConns 1, BEGIN
// IMMEDIATE) and queues in database/sql instead of failing with SQLITE_BUSY;
// reads use a separate pool (r) and, in WAL mode, never wait for writes.
//
// UpdateNote's fn runs while the writer is held: it must be quick and must
// not call the store.
type SQLiteStore struct {
	w, r   *sql.DB
	logger *slog.Logger
	// appender runs AppendUpdates on the writer connection with its
	// statements prepared once (sqlite_append.go): preparing the insert in
	// every transaction was ~9% of the CPU of a busy document (fan-out
	// profile), database/sql's per-transaction goroutines most of the rest
	// of the commit's fixed cost.
	appender sqliteAppender
	// journal holds appended updates until they are in doc_updates
	// (sqlite_journal.go).
	journal *journal
	// contentSelect and contentUpdate are SetNoteContents' statements,
	// prepared once on the writer: renders run them for every note.
	contentSelect, contentUpdate *sql.Stmt
	// sessionUser and noteAccess are GetSessionUser's and GetNoteAccess's
	// queries, prepared once on the readers: every socket connect and API
	// request runs the first, every document join the second, and parsing
	// them each time was 12-14% of the server's CPU while 20,000 sockets
	// connected and joined 5,000 notes (docs/design.md, "Scale").
	sessionUser, noteAccess *sql.Stmt
	*sqlChannels
	*sqlChats
}

const appendSQL = "INSERT INTO doc_updates (id, doc_id, data, created_at) VALUES (?, ?, ?, ?)"

// OpenSQLite opens (creating it and its directory if needed) the SQLite
// database at path and migrates it. Commits are fsynced (WAL,
// synchronous=FULL): an acknowledged write survives kill -9 and power loss.
func OpenSQLite(ctx context.Context, path string, logger *slog.Logger) (*SQLiteStore, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "storage")
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("storage: create data directory: %w", err)
	}
	common := "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"
	w, err := sql.Open("sqlite", path+"?_txlock=immediate&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&"+common)
	if err != nil {
		return nil, fmt.Errorf("storage: open sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0) // keep the writer (and its prepared statements) open
	s := &SQLiteStore{w: w, logger: logger}
	// Open the writer first: it switches the file to WAL before readers come.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("storage: open sqlite %s: %w", path, err)
	}
	if err := migrations.Migrate(ctx, w, migrations.DialectSQLite, logger); err != nil {
		w.Close()
		return nil, fmt.Errorf("storage: migrate sqlite: %w", interpretMigrateError(err))
	}
	if s.contentSelect, err = w.PrepareContext(ctx, "SELECT data FROM notes WHERE id = ?"); err == nil {
		s.contentUpdate, err = w.PrepareContext(ctx, "UPDATE notes SET data = ?, updated_at = ? WHERE id = ?")
	}
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("storage: prepare sqlite statements: %w", err)
	}
	s.r, err = sql.Open("sqlite", path+"?_pragma=query_only(1)&"+common)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("storage: open sqlite readers: %w", err)
	}
	readers := max(4, 2*runtime.GOMAXPROCS(0))
	s.r.SetMaxOpenConns(readers)
	s.r.SetMaxIdleConns(readers)
	if s.sessionUser, err = s.r.PrepareContext(ctx, "SELECT "+userColumns+", "+revokedColumn+" FROM users WHERE id = ?"); err == nil {
		if s.noteAccess, err = s.r.PrepareContext(ctx, sqliteNoteAccessQuery); err != nil {
			s.sessionUser.Close()
		}
	}
	if err != nil {
		s.contentSelect.Close()
		s.contentUpdate.Close()
		s.r.Close()
		w.Close()
		return nil, fmt.Errorf("storage: prepare sqlite statements: %w", err)
	}
	db := newSQLiteDB(s.w, s.r)
	s.sqlChannels, s.sqlChats = &sqlChannels{db}, &sqlChats{db}
	if err := s.openJournal(ctx, path); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// interpretSQLiteError maps driver errors onto the package's sentinels.
func interpretSQLiteError(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w (%w)", ErrConflict, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY: // a reference to a row that is not there
			return fmt.Errorf("%w (%w)", ErrNotFound, err)
		}
	}
	return err
}

func sqliteErr(op string, err error) error {
	return fmt.Errorf("storage: %s: %w", op, interpretSQLiteError(err))
}

// writeTx runs fn in a transaction on the writer and commits it.
func (s *SQLiteStore) writeTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return inTx(ctx, s.w, fn)
}

// inTx runs fn in a transaction on db: committed if fn succeeds, rolled
// back otherwise.
func inTx(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// readTx runs fn in a read transaction (one consistent snapshot).
func (s *SQLiteStore) readTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(tx)
}

func (s *SQLiteStore) Ping(ctx context.Context) error {
	if err := s.r.PingContext(ctx); err != nil {
		return sqliteErr("ping", err)
	}
	return nil
}

func (s *SQLiteStore) Close() error {
	// The journal's last records go first: they need the writer.
	closeJournal := s.closeJournal()
	// The statements go next: they hold the writer connection open.
	var closeStmts error
	if conn, err := s.w.Conn(context.Background()); err == nil {
		closeStmts = conn.Raw(func(any) error { return s.appender.close() })
		conn.Close()
	}
	return errors.Join(closeJournal, closeStmts, s.contentSelect.Close(), s.contentUpdate.Close(), s.sessionUser.Close(), s.noteAccess.Close(), s.r.Close(), s.w.Close())
}

// PoolStats sums the writer and the reader pools.
func (s *SQLiteStore) PoolStats() PoolStats {
	w, r := s.w.Stats(), s.r.Stats()
	return PoolStats{
		MaxOpen:      w.MaxOpenConnections + r.MaxOpenConnections,
		Open:         w.OpenConnections + r.OpenConnections,
		InUse:        w.InUse + r.InUse,
		Idle:         w.Idle + r.Idle,
		WaitCount:    w.WaitCount + r.WaitCount,
		WaitDuration: w.WaitDuration + r.WaitDuration,
	}
}

// Users.

const userColumns = "id, email, name, role, password_hash, session_stamp, created_at, updated_at, last_active_at"

// revokedColumn tells whether the token with the first bound jti is revoked.
const revokedColumn = "EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = ?)"

// scanUser scans userColumns, then the row's extra columns into extra.
func scanUser(row interface{ Scan(...any) error }, extra ...any) (*User, error) {
	var u User
	err := row.Scan(append([]any{&u.ID, &u.Email, &u.Name, &u.Role, &u.PasswordHash, &u.SessionStamp, &u.CreatedAt, &u.UpdatedAt, &u.LastActiveAt}, extra...)...)
	if err != nil {
		return nil, err
	}
	return &u, nil
}

func (s *SQLiteStore) CreateUser(ctx context.Context, u *User) error {
	normalizeUser(u)
	role := u.Role
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		// The writer is exclusive, so this check and the insert are atomic.
		if role == "" || role == RoleFirstOnly {
			var exists bool
			if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM users)").Scan(&exists); err != nil {
				return err
			}
			var err error
			if role, err = firstRole(role, exists); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO users ("+userColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
			u.ID, u.Email, u.Name, role, u.PasswordHash, u.SessionStamp, u.CreatedAt, u.UpdatedAt, u.LastActiveAt)
		return err
	})
	if err != nil {
		return sqliteErr("create user", err)
	}
	u.Role = role
	return nil
}

func (s *SQLiteStore) GetUser(ctx context.Context, id string) (*User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", id))
	if err != nil {
		return nil, sqliteErr("get user", err)
	}
	return u, nil
}

func (s *SQLiteStore) GetSessionUser(ctx context.Context, id, jti string) (*User, bool, error) {
	var revoked bool
	u, err := scanUser(s.sessionUser.QueryRowContext(ctx, jti, id), &revoked)
	if err != nil {
		return nil, false, sqliteErr("get session user", err)
	}
	return u, revoked, nil
}

func (s *SQLiteStore) GetUserByEmail(ctx context.Context, email string) (*User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE email = ?", strings.ToLower(email)))
	if err != nil {
		return nil, sqliteErr("get user by email", err)
	}
	return u, nil
}

func (s *SQLiteStore) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+userColumns+" FROM users ORDER BY created_at, id")
	if err != nil {
		return nil, sqliteErr("list users", err)
	}
	users, err := sqliteCollectUsers(rows)
	if err != nil {
		return nil, sqliteErr("list users", err)
	}
	return users, nil
}

// sqliteChannelAccountsSQL reads role through users_role (migration 6).
const sqliteChannelAccountsSQL = "SELECT " + userColumns + " FROM users WHERE role = ? OR id IN " +
	"(SELECT user_id FROM channel_member WHERE channel_id = ?) ORDER BY created_at, id"

func (s *SQLiteStore) ListChannelAccounts(ctx context.Context, channelID, role string) ([]User, error) {
	rows, err := s.r.QueryContext(ctx, sqliteChannelAccountsSQL, role, channelID)
	if err != nil {
		return nil, sqliteErr("list channel accounts", err)
	}
	users, err := sqliteCollectUsers(rows)
	if err != nil {
		return nil, sqliteErr("list channel accounts", err)
	}
	return users, nil
}

func (s *SQLiteStore) SearchUsers(ctx context.Context, opt SearchUsersOptions) ([]User, int, error) {
	query, skip, limit := opt.Query, opt.Skip, opt.Limit
	if limit <= 0 {
		limit = -1
	}
	where := ` FROM users WHERE lower(name) LIKE lower(?1) ESCAPE '\'`
	if !opt.NameOnly {
		where += ` OR email LIKE lower(?1) ESCAPE '\'`
	}
	var users []User
	var total int
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, "SELECT count(*)"+where, containsPattern(query)).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, "SELECT "+userColumns+where+" ORDER BY lower(name), id LIMIT ?2 OFFSET ?3",
			containsPattern(query), limit, max(skip, 0))
		if err != nil {
			return err
		}
		users, err = sqliteCollectUsers(rows)
		return err
	})
	if err != nil {
		return nil, 0, sqliteErr("search users", err)
	}
	return users, total, nil
}

func (s *SQLiteStore) GetUserSettings(ctx context.Context, id string) (json.RawMessage, error) {
	var settings sql.NullString
	err := s.r.QueryRowContext(ctx, `SELECT st.settings FROM users u
		LEFT JOIN user_settings st ON st.user_id = u.id WHERE u.id = ?`, id).Scan(&settings)
	if err != nil {
		return nil, sqliteErr("get user settings", err)
	}
	if !settings.Valid {
		return nil, nil
	}
	return json.RawMessage(settings.String), nil
}

func (s *SQLiteStore) SetUserSettings(ctx context.Context, id string, settings json.RawMessage) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO user_settings (user_id, settings, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at`,
		id, string(jsonOrEmpty(settings)), time.Now().Unix())
	if err != nil {
		return sqliteErr("set user settings", err)
	}
	return nil
}

// sqliteCollectUsers reads and closes rows; no rows is an empty slice, not nil.
func sqliteCollectUsers(rows *sql.Rows) ([]User, error) {
	defer rows.Close()
	users := []User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		users = append(users, *u)
	}
	return users, rows.Err()
}

// execOne runs a single-row write; no row matched is ErrNotFound.
func (s *SQLiteStore) execOne(ctx context.Context, op, query string, args ...any) error {
	res, err := s.w.ExecContext(ctx, query, args...)
	if err != nil {
		return sqliteErr(op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return sqliteErr(op, err)
	} else if n == 0 {
		return fmt.Errorf("storage: %s: %w", op, ErrNotFound)
	}
	return nil
}

func (s *SQLiteStore) UpdateUserRole(ctx context.Context, id, role, newStamp string) error {
	return s.execOne(ctx, "update user role", "UPDATE users SET role = ?, session_stamp = ?, updated_at = ? WHERE id = ?",
		role, newStamp, time.Now().Unix(), id)
}

func (s *SQLiteStore) SetSessionStamp(ctx context.Context, id, stamp string) error {
	return s.execOne(ctx, "set session stamp", "UPDATE users SET session_stamp = ? WHERE id = ?", stamp, id)
}

func (s *SQLiteStore) TouchUser(ctx context.Context, id string, at int64) error {
	return s.execOne(ctx, "touch user", "UPDATE users SET last_active_at = ? WHERE id = ?", at, id)
}

// Token revocations.

func (s *SQLiteStore) RevokeToken(ctx context.Context, jti string, expiresAt int64) error {
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		// Purge on the way: the index makes it cheap, and revocations are rare.
		if _, err := tx.ExecContext(ctx, "DELETE FROM revoked_tokens WHERE expires_at < ?", time.Now().Unix()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO revoked_tokens (jti, expires_at) VALUES (?, ?)
			ON CONFLICT (jti) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)`, jti, expiresAt)
		return err
	})
	if err != nil {
		return sqliteErr("revoke token", err)
	}
	return nil
}

// Notes.

const noteColumns = "id, user_id, title, data, meta, created_at, updated_at"

func scanNote(row interface{ Scan(...any) error }) (*Note, error) {
	var n Note
	var data, meta string
	if err := row.Scan(&n.ID, &n.UserID, &n.Title, &data, &meta, &n.CreatedAt, &n.UpdatedAt); err != nil {
		return nil, err
	}
	n.Data, n.Meta = jsonOrEmpty(json.RawMessage(data)), jsonOrEmpty(json.RawMessage(meta))
	n.AccessGrants = []AccessGrant{}
	return &n, nil
}

type sqlQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// loadGrants fills the grants of notes with one query.
func loadGrantsSQL(ctx context.Context, q sqlQuerier, notes []*Note) error {
	if len(notes) == 0 {
		return nil
	}
	byID := make(map[string]*Note, len(notes))
	ids := make([]string, len(notes))
	for i, n := range notes {
		byID[n.ID], ids[i] = n, n.ID
	}
	idsJSON, err := json.Marshal(ids)
	if err != nil {
		return err
	}
	rows, err := q.QueryContext(ctx, `SELECT note_id, principal_type, principal_id, permission FROM note_access
		WHERE note_id IN (SELECT value FROM json_each(?)) ORDER BY note_id, principal_type, principal_id`, string(idsJSON))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var noteID string
		var g AccessGrant
		if err := rows.Scan(&noteID, &g.PrincipalType, &g.PrincipalID, &g.Permission); err != nil {
			return err
		}
		n := byID[noteID]
		n.AccessGrants = append(n.AccessGrants, g)
	}
	return rows.Err()
}

func insertGrantsSQL(ctx context.Context, tx *sql.Tx, noteID string, grants []AccessGrant) error {
	for _, g := range dedupeGrants(grants) {
		_, err := tx.ExecContext(ctx, "INSERT INTO note_access (note_id, principal_type, principal_id, permission) VALUES (?, ?, ?, ?)",
			noteID, g.PrincipalType, g.PrincipalID, g.Permission)
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *SQLiteStore) CreateNote(ctx context.Context, n *Note) error {
	normalizeNote(n)
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO notes ("+noteColumns+") VALUES (?, ?, ?, ?, ?, ?, ?)",
			n.ID, n.UserID, n.Title, string(n.Data), string(n.Meta), n.CreatedAt, n.UpdatedAt)
		if err != nil {
			return err
		}
		return insertGrantsSQL(ctx, tx, n.ID, n.AccessGrants)
	})
	if err != nil {
		return sqliteErr("create note", err)
	}
	n.AccessGrants = dedupeGrants(n.AccessGrants)
	return nil
}

func getNoteSQL(ctx context.Context, q sqlQuerier, id string) (*Note, error) {
	n, err := scanNote(q.QueryRowContext(ctx, "SELECT "+noteColumns+" FROM notes WHERE id = ?", id))
	if err != nil {
		return nil, err
	}
	if err := loadGrantsSQL(ctx, q, []*Note{n}); err != nil {
		return nil, err
	}
	return n, nil
}

func (s *SQLiteStore) GetNote(ctx context.Context, id string) (*Note, error) {
	var n *Note
	err := s.readTx(ctx, func(tx *sql.Tx) (err error) {
		n, err = getNoteSQL(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, sqliteErr("get note", err)
	}
	return n, nil
}

func (s *SQLiteStore) ListNotes(ctx context.Context, opt ListNotesOptions) ([]Note, error) {
	query, args := sqliteNotesSQL.list(opt)
	var notes []*Note
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			n, err := scanNote(rows)
			if err != nil {
				return err
			}
			notes = append(notes, n)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		return loadGrantsSQL(ctx, tx, notes)
	})
	if err != nil {
		return nil, sqliteErr("list notes", err)
	}
	return derefNotes(notes), nil
}

func (s *SQLiteStore) CountNotes(ctx context.Context, opt ListNotesOptions) (int, error) {
	query, args := sqliteNotesSQL.count(opt)
	var n int
	if err := s.r.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
		return 0, sqliteErr("count notes", err)
	}
	return n, nil
}

func (s *SQLiteStore) UpdateNote(ctx context.Context, id string, fn func(*Note) error) (*Note, error) {
	var n *Note
	err := s.writeTx(ctx, func(tx *sql.Tx) (err error) {
		if n, err = getNoteSQL(ctx, tx, id); err != nil {
			return err
		}
		stored := slices.Clone(n.AccessGrants) // fn may edit the slice in place
		if err := fn(n); err != nil {
			return fnError{err}
		}
		n.Data, n.Meta = jsonOrEmpty(n.Data), jsonOrEmpty(n.Meta)
		_, err = tx.ExecContext(ctx, "UPDATE notes SET title = ?, data = ?, meta = ?, updated_at = ? WHERE id = ?",
			n.Title, string(n.Data), string(n.Meta), n.UpdatedAt, id)
		if err != nil {
			return err
		}
		var changed bool
		if n.AccessGrants, changed = grantsChanged(stored, n.AccessGrants); !changed {
			return nil
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM note_access WHERE note_id = ?", id); err != nil {
			return err
		}
		return insertGrantsSQL(ctx, tx, id, n.AccessGrants)
	})
	if err != nil {
		var fe fnError
		if errors.As(err, &fe) {
			return nil, fe.err
		}
		return nil, sqliteErr("update note", err)
	}
	return n, nil
}

func (s *SQLiteStore) SetNoteContents(ctx context.Context, contents []NoteContent) ([]error, error) {
	var errs []error
	err := s.writeTx(ctx, func(tx *sql.Tx) (err error) {
		sel, upd := tx.StmtContext(ctx, s.contentSelect), tx.StmtContext(ctx, s.contentUpdate)
		// Point statements by primary key: run without the driver's
		// interrupt watcher (a goroutine per statement under a context
		// that can end); ctx still bounds the wait for the writer.
		sctx := context.WithoutCancel(ctx)
		errs, err = setContents(contents, func(id string) (string, bool, error) {
			var data string
			err := sel.QueryRowContext(sctx, id).Scan(&data)
			if errors.Is(err, sql.ErrNoRows) {
				return "", false, nil
			}
			return data, err == nil, err
		}, func(c NoteContent, data string) error {
			_, err := upd.ExecContext(sctx, data, c.UpdatedAt, c.NoteID)
			return err
		})
		return err
	})
	if err != nil {
		return nil, sqliteErr("set note contents", err)
	}
	return errs, nil
}

func (s *SQLiteStore) SetNoteAccess(ctx context.Context, id string, grants []AccessGrant) error {
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		var exists bool
		if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM notes WHERE id = ?)", id).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM note_access WHERE note_id = ?", id); err != nil {
			return err
		}
		return insertGrantsSQL(ctx, tx, id, grants)
	})
	if err != nil {
		return sqliteErr("set note access", err)
	}
	return nil
}

func (s *SQLiteStore) DeleteNote(ctx context.Context, id string) error {
	err := s.withJournalFlushed(ctx, func() error { return s.deleteNote(ctx, id) })
	if err != nil {
		return sqliteErr("delete note", err)
	}
	return nil
}

func (s *SQLiteStore) deleteNote(ctx context.Context, id string) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM notes WHERE id = ?", id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNotFound
		}
		// Grants go by ON DELETE CASCADE; the document log has no foreign key.
		_, err = tx.ExecContext(ctx, "DELETE FROM doc_updates WHERE doc_id = ?", noteDocID(id))
		return err
	})
}

// Document logs.

// AppendUpdates: sqlite_append.go.

func (s *SQLiteStore) LoadDocument(ctx context.Context, docID string) (DocState, error) {
	// Pending records first: one flushed meanwhile is then read from
	// doc_updates too, and kept once.
	pending := s.journal.pendingOf(docID)
	rows, err := s.r.QueryContext(ctx, "SELECT id, data, snapshot FROM doc_updates WHERE doc_id = ? ORDER BY snapshot DESC, id", docID)
	if err != nil {
		return DocState{}, sqliteErr("load document", err)
	}
	defer rows.Close()
	var st DocState
	for rows.Next() {
		var r DocRecord
		if err := rows.Scan(&r.ID, &r.Data, &r.Snapshot); err != nil {
			return DocState{}, sqliteErr("load document", err)
		}
		r.Data = nonNilBytes(r.Data) // an empty blob scans as nil
		st.Records = append(st.Records, r)
	}
	if err := rows.Err(); err != nil {
		return DocState{}, sqliteErr("load document", err)
	}
	st.Records = withPending(st.Records, pending)
	return st, nil
}

func (s *SQLiteStore) Compact(ctx context.Context, docID string, merged []byte, readIDs []int64) (int64, error) {
	// The snapshot's id comes from the journal's sequence, as every row's
	// does, and is taken before the flush: an update acknowledged during
	// the flush gets a higher id, so the snapshot's commit (which raises
	// the recovery floor to its id) cannot put that update below it.
	id := s.journal.reserveID()
	err := s.withJournalFlushed(ctx, func() error {
		return s.writeTx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, "INSERT INTO doc_updates (id, doc_id, data, snapshot, created_at) VALUES (?, ?, ?, 1, ?)",
				id, docID, nonNilBytes(merged), time.Now().UnixNano())
			if err != nil || len(readIDs) == 0 {
				return err
			}
			_, err = tx.ExecContext(ctx, "DELETE FROM doc_updates WHERE doc_id = ? AND id IN (SELECT value FROM json_each(?))",
				docID, int64sJSON(readIDs))
			return err
		})
	})
	if err != nil {
		return 0, sqliteErr("compact", err)
	}
	return id, nil
}

func (s *SQLiteStore) DeleteDocument(ctx context.Context, docID string) error {
	err := s.withJournalFlushed(ctx, func() error {
		_, err := s.w.ExecContext(ctx, "DELETE FROM doc_updates WHERE doc_id = ?", docID)
		return err
	})
	if err != nil {
		return sqliteErr("delete document", err)
	}
	return nil
}

// int64sJSON encodes ids as a JSON array for json_each.
func int64sJSON(ids []int64) string {
	b := make([]byte, 0, len(ids)*8+2)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, ']'))
}
