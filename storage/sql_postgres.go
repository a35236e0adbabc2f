package storage

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// newPostgresDB is PostgresStore's handle for the SQL both drivers share,
// a database/sql handle over the store's pgx pool (closing it leaves the
// pool open). Rows read before a write are locked FOR UPDATE.
func newPostgresDB(pool *pgxpool.Pool) *sqlDB {
	db := stdlib.OpenDBFromPool(pool)
	return &sqlDB{w: db, r: db, dollar: true, forUpdate: " FOR UPDATE", interpret: interpretPostgresError}
}
