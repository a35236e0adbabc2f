package storage

import (
	"context"
	"database/sql/driver"
	"errors"
	"sync"
)

// The journal's records reach doc_updates in batches (sqlite_journal.go),
// each one transaction on the writer connection: its statements are
// prepared once and run through sql.Conn.Raw under a context that never
// ends, as through database/sql a transaction with a deadline cost three
// goroutines besides SQLite's own work (the Tx's awaitDone and the
// driver's interrupt watcher per statement). SQLite's busy_timeout bounds
// the wait for the file lock; an fsync cannot be interrupted anyway.

// sqliteAppender holds the append statements of the writer connection they
// were prepared on.
type sqliteAppender struct {
	mu                    sync.Mutex
	conn                  any // the driver connection of the statements
	begin, insert, commit driver.Stmt
}

var errSQLiteDriver = errors.New("storage: the sqlite driver lacks the prepared statement interfaces")

// insertRecords inserts the journal's records, ids and all, in one
// transaction on the writer (synchronous=FULL: durable when it returns).
func (s *SQLiteStore) insertRecords(ctx context.Context, recs []journalRecord) error {
	conn, err := s.w.Conn(ctx) // the one writer; waiting for it honours ctx
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error { return s.appender.append(dc, recs) })
}

func (a *sqliteAppender) append(dc any, recs []journalRecord) error {
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
	args := make([]driver.NamedValue, 4)
	for _, r := range recs {
		args[0] = driver.NamedValue{Ordinal: 1, Value: r.id}
		args[1] = driver.NamedValue{Ordinal: 2, Value: r.docID}
		args[2] = driver.NamedValue{Ordinal: 3, Value: nonNilBytes(r.data)}
		args[3] = driver.NamedValue{Ordinal: 4, Value: r.at}
		if _, err := execStmt(bg, a.insert, args); err != nil {
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
