package storage

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// newPostgresChannels is the Channels part of PostgresStore, on a
// database/sql handle over the store's pgx pool (closing it leaves the pool
// open). Rows read before a write are locked FOR UPDATE.
func newPostgresChannels(pool *pgxpool.Pool) *sqlChannels {
	db := stdlib.OpenDBFromPool(pool)
	return &sqlChannels{w: db, r: db, dollar: true, forUpdate: " FOR UPDATE", interpret: interpretPostgresError}
}
