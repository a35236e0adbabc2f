package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/quire/quire/migrations"
)

var _ Store = (*PostgresStore)(nil)
var _ StatsReporter = (*PostgresStore)(nil)

// PostgresStore is the PostgreSQL Store, on a pgx connection pool.
type PostgresStore struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
	db     *sqlDB // the shared SQL's handle on the pool
	// ping is Ping's own connection, outside the pool (nil until the first
	// Ping, and after a failed one).
	pingMu sync.Mutex
	ping   *pgx.Conn
	*sqlChannels
	*sqlChats
}

// firstAccountLock is the advisory lock key CreateUser holds while it
// decides whether an account is the first ("quire" + 1).
const firstAccountLock = 0x717569726501

// OpenPostgres connects to the database at url (postgres:// or
// postgresql://, libpq parameters allowed) and migrates it.
func OpenPostgres(ctx context.Context, url string, logger *slog.Logger) (*PostgresStore, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "storage")
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("storage: parse postgres url: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("storage: open postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("storage: connect to postgres %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	db := stdlib.OpenDBFromPool(pool) // goose speaks database/sql
	err = migrations.Migrate(ctx, db, migrations.DialectPostgres, logger)
	db.Close() // leaves the pool open
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("storage: migrate postgres: %w", interpretMigrateError(err))
	}
	sdb := newPostgresDB(pool)
	return &PostgresStore{pool: pool, logger: logger, db: sdb, sqlChannels: &sqlChannels{sdb}, sqlChats: &sqlChats{sdb}}, nil
}

// interpretPostgresError maps driver errors onto the package's sentinels.
func interpretPostgresError(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%w (%w)", ErrConflict, err)
		case "23503": // foreign_key_violation: a reference to a row that is not there
			return fmt.Errorf("%w (%w)", ErrNotFound, err)
		}
	}
	return err
}

func pgErr(op string, err error) error {
	return fmt.Errorf("storage: %s: %w", op, interpretPostgresError(err))
}

// Ping checks the database answers on a connection of its own, so that it
// never queues behind the pool's work: with 5,000 documents loading at once
// the pool's 4 connections were taken for over 5 s and /healthz's ping
// timed out (tools/load --scenario scale --db postgres).
func (s *PostgresStore) Ping(ctx context.Context) error {
	s.pingMu.Lock()
	defer s.pingMu.Unlock()
	if s.ping == nil || s.ping.IsClosed() {
		c, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
		if err != nil {
			return pgErr("ping", err)
		}
		s.ping = c
	}
	if err := s.ping.Ping(ctx); err != nil {
		s.closePing()
		return pgErr("ping", err)
	}
	return nil
}

// closePing closes Ping's connection (pingMu held).
func (s *PostgresStore) closePing() {
	if s.ping == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.ping.Close(ctx)
	s.ping = nil
}

func (s *PostgresStore) Close() error {
	s.pingMu.Lock()
	s.closePing()
	s.pingMu.Unlock()
	err := s.db.w.Close() // leaves the pool open
	s.pool.Close()
	return err
}

// PoolStats reports the pgx pool.
func (s *PostgresStore) PoolStats() PoolStats {
	st := s.pool.Stat()
	return PoolStats{
		MaxOpen:      int(st.MaxConns()),
		Open:         int(st.TotalConns()),
		InUse:        int(st.AcquiredConns()),
		Idle:         int(st.IdleConns()),
		WaitCount:    st.EmptyAcquireCount(),
		WaitDuration: st.EmptyAcquireWaitTime(),
	}
}

// Users.

func (s *PostgresStore) CreateUser(ctx context.Context, u *User) error {
	normalizeUser(u)
	role := u.Role
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Serialise account creation so "no account yet" stays true until
		// this insert commits: two racing first signups make one admin.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(firstAccountLock)); err != nil {
			return err
		}
		if role == "" || role == RoleFirstOnly {
			var exists bool
			if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM users)").Scan(&exists); err != nil {
				return err
			}
			var err error
			if role, err = firstRole(role, exists); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, "INSERT INTO users ("+userColumns+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
			u.ID, u.Email, u.Name, role, u.PasswordHash, u.SessionStamp, u.CreatedAt, u.UpdatedAt, u.LastActiveAt)
		return err
	})
	if err != nil {
		return pgErr("create user", err)
	}
	u.Role = role
	return nil
}

func (s *PostgresStore) GetUser(ctx context.Context, id string) (*User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, "SELECT "+userColumns+" FROM users WHERE id = $1", id))
	if err != nil {
		return nil, pgErr("get user", err)
	}
	return u, nil
}

func (s *PostgresStore) GetSessionUser(ctx context.Context, id, jti string) (*User, bool, error) {
	var revoked bool
	u, err := scanUser(s.pool.QueryRow(ctx, "SELECT "+userColumns+", EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $1) FROM users WHERE id = $2", jti, id), &revoked)
	if err != nil {
		return nil, false, pgErr("get session user", err)
	}
	return u, revoked, nil
}

func (s *PostgresStore) GetUserByEmail(ctx context.Context, email string) (*User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, "SELECT "+userColumns+" FROM users WHERE email = $1", strings.ToLower(email)))
	if err != nil {
		return nil, pgErr("get user by email", err)
	}
	return u, nil
}

func (s *PostgresStore) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+userColumns+" FROM users ORDER BY created_at, id")
	if err != nil {
		return nil, pgErr("list users", err)
	}
	users, err := pgCollectUsers(rows)
	if err != nil {
		return nil, pgErr("list users", err)
	}
	return users, nil
}

// postgresChannelAccountsSQL reads role through users_role (migration 6).
// A union, as PostgreSQL plans "role = $1 OR id IN (…)" as a scan of
// every account whatever the indexes.
const postgresChannelAccountsSQL = "SELECT " + userColumns + " FROM users WHERE role = $1 UNION " +
	"SELECT " + userColumns + " FROM users WHERE id IN " +
	"(SELECT user_id FROM channel_member WHERE channel_id = $2) ORDER BY created_at, id"

func (s *PostgresStore) ListChannelAccounts(ctx context.Context, channelID, role string) ([]User, error) {
	rows, err := s.pool.Query(ctx, postgresChannelAccountsSQL, role, channelID)
	if err != nil {
		return nil, pgErr("list channel accounts", err)
	}
	users, err := pgCollectUsers(rows)
	if err != nil {
		return nil, pgErr("list channel accounts", err)
	}
	return users, nil
}

func (s *PostgresStore) SearchUsers(ctx context.Context, opt SearchUsersOptions) ([]User, int, error) {
	query, skip := opt.Query, opt.Skip
	var limitArg *int // NULL: no limit
	if opt.Limit > 0 {
		limitArg = &opt.Limit
	}
	where := ` FROM users WHERE lower(name) LIKE lower($1) ESCAPE '\'`
	if !opt.NameOnly {
		where += ` OR email LIKE lower($1) ESCAPE '\'`
	}
	var users []User
	var total int
	err := s.readTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, "SELECT count(*)"+where, containsPattern(query)).Scan(&total); err != nil {
			return err
		}
		// COLLATE "C": byte order, as SQLite, whatever the database's collation.
		rows, err := tx.Query(ctx, "SELECT "+userColumns+where+
			` ORDER BY lower(name) COLLATE "C", id COLLATE "C" LIMIT $2 OFFSET $3`, containsPattern(query), limitArg, max(skip, 0))
		if err != nil {
			return err
		}
		users, err = pgCollectUsers(rows)
		return err
	})
	if err != nil {
		return nil, 0, pgErr("search users", err)
	}
	return users, total, nil
}

func (s *PostgresStore) GetUserSettings(ctx context.Context, id string) (json.RawMessage, error) {
	var settings *string
	err := s.pool.QueryRow(ctx, `SELECT st.settings FROM users u
		LEFT JOIN user_settings st ON st.user_id = u.id WHERE u.id = $1`, id).Scan(&settings)
	if err != nil {
		return nil, pgErr("get user settings", err)
	}
	if settings == nil {
		return nil, nil
	}
	return json.RawMessage(*settings), nil
}

func (s *PostgresStore) SetUserSettings(ctx context.Context, id string, settings json.RawMessage) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO user_settings (user_id, settings, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (user_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at`,
		id, string(jsonOrEmpty(settings)), time.Now().Unix())
	if err != nil {
		return pgErr("set user settings", err)
	}
	return nil
}

func pgCollectUsers(rows pgx.Rows) ([]User, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (User, error) {
		u, err := scanUser(row)
		if err != nil {
			return User{}, err
		}
		return *u, nil
	})
}

// execOne runs a single-row write; no row matched is ErrNotFound.
func (s *PostgresStore) execOne(ctx context.Context, op, query string, args ...any) error {
	tag, err := s.pool.Exec(ctx, query, args...)
	if err != nil {
		return pgErr(op, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("storage: %s: %w", op, ErrNotFound)
	}
	return nil
}

func (s *PostgresStore) UpdateUserRole(ctx context.Context, id, role, newStamp string) error {
	return s.execOne(ctx, "update user role", "UPDATE users SET role = $1, session_stamp = $2, updated_at = $3 WHERE id = $4",
		role, newStamp, time.Now().Unix(), id)
}

func (s *PostgresStore) SetSessionStamp(ctx context.Context, id, stamp string) error {
	return s.execOne(ctx, "set session stamp", "UPDATE users SET session_stamp = $1 WHERE id = $2", stamp, id)
}

func (s *PostgresStore) TouchUser(ctx context.Context, id string, at int64) error {
	return s.execOne(ctx, "touch user", "UPDATE users SET last_active_at = $1 WHERE id = $2", at, id)
}

// Token revocations.

func (s *PostgresStore) RevokeToken(ctx context.Context, jti string, expiresAt int64) error {
	// One statement: purge expired rows (cheap with the index) and upsert.
	_, err := s.pool.Exec(ctx, `WITH purged AS (DELETE FROM revoked_tokens WHERE expires_at < $3 AND jti <> $1)
		INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2)
		ON CONFLICT (jti) DO UPDATE SET expires_at = GREATEST(revoked_tokens.expires_at, excluded.expires_at)`,
		jti, expiresAt, time.Now().Unix())
	if err != nil {
		return pgErr("revoke token", err)
	}
	return nil
}

// Notes.

type pgQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// loadGrantsPG fills the grants of notes with one query.
func loadGrantsPG(ctx context.Context, q pgQuerier, notes []*Note) error {
	if len(notes) == 0 {
		return nil
	}
	byID := make(map[string]*Note, len(notes))
	ids := make([]string, len(notes))
	for i, n := range notes {
		byID[n.ID], ids[i] = n, n.ID
	}
	rows, err := q.Query(ctx, `SELECT note_id, principal_type, principal_id, permission FROM note_access
		WHERE note_id = ANY($1) ORDER BY note_id, principal_type, principal_id`, ids)
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

func insertGrantsPG(ctx context.Context, tx pgx.Tx, noteID string, grants []AccessGrant) error {
	grants = dedupeGrants(grants)
	if len(grants) == 0 {
		return nil
	}
	types, ids, perms := make([]string, len(grants)), make([]string, len(grants)), make([]string, len(grants))
	for i, g := range grants {
		types[i], ids[i], perms[i] = g.PrincipalType, g.PrincipalID, g.Permission
	}
	_, err := tx.Exec(ctx, `INSERT INTO note_access (note_id, principal_type, principal_id, permission)
		SELECT $1, t, i, p FROM unnest($2::text[], $3::text[], $4::text[]) AS u(t, i, p)`, noteID, types, ids, perms)
	return err
}

func (s *PostgresStore) CreateNote(ctx context.Context, n *Note) error {
	normalizeNote(n)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO notes ("+noteColumns+") VALUES ($1, $2, $3, $4, $5, $6, $7)",
			n.ID, n.UserID, n.Title, string(n.Data), string(n.Meta), n.CreatedAt, n.UpdatedAt)
		if err != nil {
			return err
		}
		return insertGrantsPG(ctx, tx, n.ID, n.AccessGrants)
	})
	if err != nil {
		return pgErr("create note", err)
	}
	n.AccessGrants = dedupeGrants(n.AccessGrants)
	return nil
}

// getNotePG reads a note and its grants; forUpdate locks the note's row.
func getNotePG(ctx context.Context, q pgQuerier, id string, forUpdate bool) (*Note, error) {
	query := "SELECT " + noteColumns + " FROM notes WHERE id = $1"
	if forUpdate {
		query += " FOR UPDATE"
	}
	n, err := scanNote(q.QueryRow(ctx, query, id))
	if err != nil {
		return nil, err
	}
	if err := loadGrantsPG(ctx, q, []*Note{n}); err != nil {
		return nil, err
	}
	return n, nil
}

// readTx runs fn in a read-only transaction with one snapshot.
func (s *PostgresStore) readTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

func (s *PostgresStore) GetNote(ctx context.Context, id string) (*Note, error) {
	var n *Note
	err := s.readTx(ctx, func(tx pgx.Tx) (err error) {
		n, err = getNotePG(ctx, tx, id, false)
		return err
	})
	if err != nil {
		return nil, pgErr("get note", err)
	}
	return n, nil
}

func (s *PostgresStore) ListNotes(ctx context.Context, opt ListNotesOptions) ([]Note, error) {
	query, args := postgresNotesSQL.list(opt)
	var notes []*Note
	err := s.readTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		notes, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*Note, error) { return scanNote(row) })
		if err != nil {
			return err
		}
		return loadGrantsPG(ctx, tx, notes)
	})
	if err != nil {
		return nil, pgErr("list notes", err)
	}
	return derefNotes(notes), nil
}

func (s *PostgresStore) CountNotes(ctx context.Context, opt ListNotesOptions) (int, error) {
	query, args := postgresNotesSQL.count(opt)
	var n int
	if err := s.pool.QueryRow(ctx, query, args...).Scan(&n); err != nil {
		return 0, pgErr("count notes", err)
	}
	return n, nil
}

func (s *PostgresStore) UpdateNote(ctx context.Context, id string, fn func(*Note) error) (*Note, error) {
	var n *Note
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) (err error) {
		if n, err = getNotePG(ctx, tx, id, true); err != nil {
			return err
		}
		stored := slices.Clone(n.AccessGrants) // fn may edit the slice in place
		if err := fn(n); err != nil {
			return fnError{err}
		}
		n.Data, n.Meta = jsonOrEmpty(n.Data), jsonOrEmpty(n.Meta)
		_, err = tx.Exec(ctx, "UPDATE notes SET title = $1, data = $2, meta = $3, updated_at = $4 WHERE id = $5",
			n.Title, string(n.Data), string(n.Meta), n.UpdatedAt, id)
		if err != nil {
			return err
		}
		var changed bool
		if n.AccessGrants, changed = grantsChanged(stored, n.AccessGrants); !changed {
			return nil
		}
		if _, err := tx.Exec(ctx, "DELETE FROM note_access WHERE note_id = $1", id); err != nil {
			return err
		}
		return insertGrantsPG(ctx, tx, id, n.AccessGrants)
	})
	if err != nil {
		var fe fnError
		if errors.As(err, &fe) {
			return nil, fe.err
		}
		return nil, pgErr("update note", err)
	}
	return n, nil
}

func (s *PostgresStore) SetNoteContents(ctx context.Context, contents []NoteContent) ([]error, error) {
	var errs []error
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) (err error) {
		errs, err = setContents(contents, func(id string) (string, bool, error) {
			var data string
			err := tx.QueryRow(ctx, "SELECT data FROM notes WHERE id = $1 FOR UPDATE", id).Scan(&data)
			if errors.Is(err, pgx.ErrNoRows) {
				return "", false, nil
			}
			return data, err == nil, err
		}, func(c NoteContent, data string) error {
			_, err := tx.Exec(ctx, "UPDATE notes SET data = $1, updated_at = $2 WHERE id = $3", data, c.UpdatedAt, c.NoteID)
			return err
		})
		return err
	})
	if err != nil {
		return nil, pgErr("set note contents", err)
	}
	return errs, nil
}

func (s *PostgresStore) SetNoteAccess(ctx context.Context, id string, grants []AccessGrant) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Lock the note: concurrent replacements apply one after the other.
		var one int
		if err := tx.QueryRow(ctx, "SELECT 1 FROM notes WHERE id = $1 FOR UPDATE", id).Scan(&one); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM note_access WHERE note_id = $1", id); err != nil {
			return err
		}
		return insertGrantsPG(ctx, tx, id, grants)
	})
	if err != nil {
		return pgErr("set note access", err)
	}
	return nil
}

func (s *PostgresStore) DeleteNote(ctx context.Context, id string) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "DELETE FROM notes WHERE id = $1", id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		// Grants go by ON DELETE CASCADE; the document log has no foreign key.
		_, err = tx.Exec(ctx, "DELETE FROM doc_updates WHERE doc_id = $1", noteDocID(id))
		return err
	})
	if err != nil {
		return pgErr("delete note", err)
	}
	return nil
}

// Document logs.

// AppendUpdates inserts every row with one statement (one round trip, one
// commit). unnest yields the rows in array order and the identity is drawn
// as they are inserted, so the sorted new ids match the input order.
func (s *PostgresStore) AppendUpdates(ctx context.Context, updates []DocUpdate) ([]int64, error) {
	if len(updates) == 0 {
		return nil, nil
	}
	docIDs := make([]string, len(updates))
	data := make([][]byte, len(updates))
	for i, u := range updates {
		docIDs[i], data[i] = u.DocID, nonNilBytes(u.Data)
	}
	rows, err := s.pool.Query(ctx, `INSERT INTO doc_updates (doc_id, data, created_at)
		SELECT d, b, $3 FROM unnest($1::text[], $2::bytea[]) WITH ORDINALITY AS u(d, b, ord) ORDER BY ord
		RETURNING id`, docIDs, data, time.Now().UnixNano())
	if err != nil {
		return nil, pgErr("append updates", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, pgErr("append updates", err)
	}
	if len(ids) != len(updates) {
		return nil, fmt.Errorf("storage: append updates: inserted %d rows, want %d", len(ids), len(updates))
	}
	slices.Sort(ids)
	return ids, nil
}

func (s *PostgresStore) LoadDocument(ctx context.Context, docID string) (DocState, error) {
	rows, err := s.pool.Query(ctx, "SELECT id, data, snapshot FROM doc_updates WHERE doc_id = $1 ORDER BY snapshot DESC, id", docID)
	if err != nil {
		return DocState{}, pgErr("load document", err)
	}
	records, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (DocRecord, error) {
		var r DocRecord
		err := row.Scan(&r.ID, &r.Data, &r.Snapshot)
		r.Data = nonNilBytes(r.Data)
		return r, err
	})
	if err != nil {
		return DocState{}, pgErr("load document", err)
	}
	return DocState{Records: records}, nil
}

// Compact is one statement, so insert and delete commit together. A
// data-modifying WITH runs to completion whether or not it is read, and the
// DELETE's snapshot cannot see the new row.
func (s *PostgresStore) Compact(ctx context.Context, docID string, merged []byte, readIDs []int64) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `WITH snapshot AS (
			INSERT INTO doc_updates (doc_id, data, snapshot, created_at) VALUES ($1, $2, true, $3) RETURNING id
		), gone AS (
			DELETE FROM doc_updates WHERE doc_id = $1 AND id = ANY($4)
		)
		SELECT id FROM snapshot`,
		docID, nonNilBytes(merged), time.Now().UnixNano(), nonNilInt64s(readIDs)).Scan(&id)
	if err != nil {
		return 0, pgErr("compact", err)
	}
	return id, nil
}

// TryCompact implements CompactLocker: Compact's statement, run only if it
// gets the document's transaction-scoped advisory lock (CompactLockClass,
// hashtext(doc_id)), so instances sharing the database compact a document
// one at a time.
func (s *PostgresStore) TryCompact(ctx context.Context, docID string, merged []byte, readIDs []int64) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `WITH lock AS (
			SELECT pg_try_advisory_xact_lock($5, hashtext($1)) AS held
		), snapshot AS (
			INSERT INTO doc_updates (doc_id, data, snapshot, created_at)
			SELECT $1, $2, true, $3 FROM lock WHERE held RETURNING id
		), gone AS (
			DELETE FROM doc_updates WHERE doc_id = $1 AND id = ANY($4) AND EXISTS (SELECT 1 FROM snapshot)
		)
		SELECT id FROM snapshot`,
		docID, nonNilBytes(merged), time.Now().UnixNano(), nonNilInt64s(readIDs), CompactLockClass).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, ErrCompactionBusy
	}
	if err != nil {
		return 0, pgErr("compact", err)
	}
	return id, nil
}

var _ CompactLocker = (*PostgresStore)(nil)

func (s *PostgresStore) DeleteDocument(ctx context.Context, docID string) error {
	if _, err := s.pool.Exec(ctx, "DELETE FROM doc_updates WHERE doc_id = $1", docID); err != nil {
		return pgErr("delete document", err)
	}
	return nil
}

// nonNilInt64s: a nil slice would be sent as NULL, and id = ANY(NULL) is
// NULL rather than false (harmless here, but explicit is clearer).
func nonNilInt64s(ids []int64) []int64 {
	if ids == nil {
		return []int64{}
	}
	return ids
}
