-- Accounts, token revocations, notes with access grants, and the document
-- log. Later features (channels, messages, chats) add their own tables in new
-- files; doc_updates is keyed by a free-form document id ("note:<id>",
-- "channel:<id>", …), so it needs no change for them. STRICT tables so a
-- wrong type is an error, not a silent conversion.

-- +goose Up
CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE CHECK (email = lower(email)),
    name           TEXT NOT NULL,
    role           TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    session_stamp  TEXT NOT NULL,
    created_at     INTEGER NOT NULL, -- Unix seconds, as Open WebUI
    updated_at     INTEGER NOT NULL,
    last_active_at INTEGER NOT NULL
) STRICT;

CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL -- Unix seconds; rows past it may be purged
) STRICT;
CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at);

-- No foreign key to users: Open WebUI has none either.
CREATE TABLE notes (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    title      TEXT NOT NULL,
    data       TEXT NOT NULL DEFAULT '{}', -- JSON, kept byte for byte
    meta       TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL, -- Unix nanoseconds, as Open WebUI
    updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX notes_updated ON notes (updated_at DESC, id);
CREATE INDEX notes_user_updated ON notes (user_id, updated_at DESC, id);

CREATE TABLE note_access (
    note_id        TEXT NOT NULL REFERENCES notes (id) ON DELETE CASCADE,
    principal_type TEXT NOT NULL,
    principal_id   TEXT NOT NULL,
    permission     TEXT NOT NULL,
    PRIMARY KEY (note_id, principal_type, principal_id)
) STRICT;
CREATE INDEX note_access_principal ON note_access (principal_type, principal_id, note_id);

-- One row per stored Yjs update or compacted snapshot. AUTOINCREMENT: ids are
-- never reused, even after the newest row is deleted, so a stale compaction
-- can never delete a row it did not read.
CREATE TABLE doc_updates (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id     TEXT NOT NULL,
    data       BLOB NOT NULL,
    snapshot   INTEGER NOT NULL DEFAULT 0, -- 0 update, 1 compacted snapshot
    created_at INTEGER NOT NULL -- Unix nanoseconds
) STRICT;
CREATE INDEX doc_updates_doc_id ON doc_updates (doc_id, id);

-- +goose Down
DROP TABLE doc_updates;
DROP TABLE note_access;
DROP TABLE notes;
DROP TABLE revoked_tokens;
DROP TABLE users;
