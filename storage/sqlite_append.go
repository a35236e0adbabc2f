package storage

import (
	"context"
	"database/sql/driver"
	"errors"
	"sync"
	"time"
)

// AppendUpdates runs once per group commit, so its fixed cost per
// transaction is paid by nearly every update when they arrive a few
// milliseconds apart (bench S2: 200 updates/s over 1,000 documents, one
// update per commit). Through database/sql a transaction with a deadline
// costs, besides SQLite's own work, three goroutines: the Tx's awaitDone
// and the driver's interrupt watcher for BEGIN, the INSERT and COMMIT
// (modernc.org/sqlite's interruptOnDone, one per statement run under a
// context that can end), each with a channel and a progress handler set
// and cleared. So the append runs on the writer connection itself
// (sql.Conn.Raw), with statements prepared once per connection and run
// under a context that never ends: the caller's ctx still bounds the wait
// for the writer, and SQLite's busy_timeout bounds the wait for the file
// lock; an fsync cannot be interrupted anyway.

// sqliteAppender holds the append statements of the writer connection they
// were prepared on.
type sqliteAppender struct {
	mu                    sync.Mutex
	conn                  any // the driver connection of the statements
	begin, insert, commit driver.Stmt
}

var errSQLiteDriver = errors.New("storage: the sqlite driver lacks the prepared statement interfaces")

// AppendUpdates appends every update in one transaction on the writer
// (synchronous=FULL: durable when it returns) and returns the row ids.
func (s *SQLiteStore) AppendUpdates(ctx context.Context, updates []DocUpdate) ([]int64, error) {
	if len(updates) == 0 {
		return nil, nil
	}
	conn, err := s.w.Conn(ctx) // the one writer; waiting for it honours ctx
	if err != nil {
		return nil, sqliteErr("append updates", err)
	}
	defer conn.Close()
	ids := make([]int64, len(updates))
	now := time.Now().UnixNano()
	err = conn.Raw(func(dc any) error { return s.appender.append(dc, updates, now, ids) })
	if err != nil {
		return nil, sqliteErr("append updates", err)
	}
	return ids, nil
}

func (a *sqliteAppender) append(dc any, updates []DocUpdate, now int64, ids []int64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.conn != dc {
		// First append, or database/sql replaced a broken writer: prepare
		// on this connection (the old statements died with theirs).
		if err := a.prepare(dc); err != nil {
			return err
		}
	}
	bg := context.Background() // no Done: no interrupt watcher per statement
	if _, err := execStmt(bg, a.begin, nil); err != nil {
		return err
	}
	args := make([]driver.NamedValue, 3)
	for i, u := range updates {
		args[0] = driver.NamedValue{Ordinal: 1, Value: u.DocID}
		args[1] = driver.NamedValue{Ordinal: 2, Value: nonNilBytes(u.Data)}
		args[2] = driver.NamedValue{Ordinal: 3, Value: now}
		res, err := execStmt(bg, a.insert, args)
		if err == nil {
			ids[i], err = res.LastInsertId()
		}
		if err != nil {
			a.rollback(dc)
			return err
		}
	}
	if _, err := execStmt(bg, a.commit, nil); err != nil {
		a.rollback(dc)
		return err
	}
	return nil
}

func (a *sqliteAppender) prepare(dc any) error {
	p, ok := dc.(driver.ConnPrepareContext)
	if !ok {
		return errSQLiteDriver
	}
	a.conn = nil
	stmts := make([]driver.Stmt, 0, 3)
	for _, q := range []string{"BEGIN IMMEDIATE", appendSQL, "COMMIT"} {
		st, err := p.PrepareContext(context.Background(), q)
		if err != nil {
			for _, st := range stmts {
				st.Close()
			}
			return err
		}
		if _, ok := st.(driver.StmtExecContext); !ok {
			st.Close()
			return errSQLiteDriver
		}
		stmts = append(stmts, st)
	}
	a.conn, a.begin, a.insert, a.commit = dc, stmts[0], stmts[1], stmts[2]
	return nil
}

// rollback ends a failed append's transaction; SQLite may already have
// rolled it back (then ROLLBACK fails harmlessly).
func (a *sqliteAppender) rollback(dc any) {
	if e, ok := dc.(driver.ExecerContext); ok {
		e.ExecContext(context.Background(), "ROLLBACK", nil)
	}
}

// close releases the statements (Store.Close, before the writer closes).
func (a *sqliteAppender) close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.conn == nil {
		return nil
	}
	a.conn = nil
	return errors.Join(a.begin.Close(), a.insert.Close(), a.commit.Close())
}

func execStmt(ctx context.Context, st driver.Stmt, args []driver.NamedValue) (driver.Result, error) {
	return st.(driver.StmtExecContext).ExecContext(ctx, args)
}
