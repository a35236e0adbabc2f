package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// sqlDB is the SQL both drivers share, over database/sql: sqlChannels and
// sqlChats. The queries are plain SQL that SQLite and PostgreSQL run alike
// (booleans are INTEGER 0/1 on SQLite, which database/sql converts); each
// driver supplies its connections, its placeholder style and its error
// mapping (sql_sqlite.go, sql_postgres.go).
type sqlDB struct {
	w, r *sql.DB // writer and readers; the same pool on PostgreSQL
	// dollar: PostgreSQL placeholders ($1, $2, …) instead of ?.
	dollar bool
	// forUpdate locks a row read before a write (" FOR UPDATE" on
	// PostgreSQL; SQLite's single writer already excludes other writers).
	forUpdate string
	// interpret maps the driver's errors onto the package's sentinels.
	interpret func(error) error
}

// q rewrites ? placeholders for the driver. Queries here hold no ? in
// literals.
func (s *sqlDB) q(query string) string {
	if !s.dollar {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (s *sqlDB) err(op string, err error) error {
	if err == nil {
		return nil
	}
	var fe fnError
	if errors.As(err, &fe) {
		return fe.err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("storage: %s: %w", op, ErrNotFound)
	}
	return fmt.Errorf("storage: %s: %w", op, s.interpret(err))
}

func (s *sqlDB) writeTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return inTx(ctx, s.w, fn)
}

// execOne runs a write that must touch a row; none is ErrNotFound.
func (s *sqlDB) execOne(ctx context.Context, op, query string, args ...any) error {
	res, err := s.w.ExecContext(ctx, s.q(query), args...)
	if err != nil {
		return s.err(op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.err(op, err)
	} else if n == 0 {
		return fmt.Errorf("storage: %s: %w", op, ErrNotFound)
	}
	return nil
}

type scanner interface{ Scan(...any) error }

// nullable stores "" and 0 as NULL (optional references and pins).
func nullable[T comparable](v T) any {
	var zero T
	if v == zero {
		return nil
	}
	return v
}

// noLimit is LIMIT's value for "no limit": both dialects take a number.
const noLimit = 1 << 62

func limitOrAll(limit int) int64 {
	if limit <= 0 {
		return noLimit
	}
	return int64(limit)
}
