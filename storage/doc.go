// Package storage defines Store, the one interface for everything Quire
// persists (accounts, token revocations, notes with access grants, and each
// collaborative document's append-only update log), and its two drivers:
// embedded SQLite (modernc.org/sqlite, the default) and PostgreSQL (pgx).
// The conformance suite in storage/storagetest runs against both.
package storage
