package storage

import "database/sql"

// newSQLiteChannels is the Channels part of SQLiteStore: writes on the
// single writer, reads on the reader pool.
func newSQLiteChannels(w, r *sql.DB) *sqlChannels {
	return &sqlChannels{w: w, r: r, interpret: interpretSQLiteError}
}
