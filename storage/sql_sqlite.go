package storage

import "database/sql"

// newSQLiteDB is SQLiteStore's handle for the SQL both drivers share:
// writes on the single writer, reads on the reader pool.
func newSQLiteDB(w, r *sql.DB) *sqlDB {
	return &sqlDB{w: w, r: r, interpret: interpretSQLiteError}
}
