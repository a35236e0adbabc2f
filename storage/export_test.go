package storage

// The queries whose plans storage_test checks.
const (
	SQLiteChannelAccountsSQL   = sqliteChannelAccountsSQL
	PostgresChannelAccountsSQL = postgresChannelAccountsSQL
)
