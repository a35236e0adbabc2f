// Package storage defines Store, the one interface for everything Quire
// persists, split by concern: Accounts (accounts and token revocations),
// Notes (notes with access grants), DocLog (each collaborative document's
// append-only update log) and Channels (chat channels, members, messages,
// reactions). Store embeds them, and it has two drivers:
// embedded SQLite (modernc.org/sqlite, the default) and PostgreSQL (pgx).
// The conformance suite in storage/storagetest runs against both.
//
// Open picks the driver from the database URL. Both drivers migrate on open
// (package migrations) and refuse a database a newer binary migrated
// (ErrSchemaTooNew). Both also implement StatsReporter, for pool metrics.
package storage
