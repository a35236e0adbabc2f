-- Saved AI chats (protocol §9.8), as Open WebUI's chat table. Timestamps are
-- Unix seconds, as Open WebUI's. A chat goes with its owner's account.

-- +goose Up
CREATE TABLE chat (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title        TEXT NOT NULL,
    chat         TEXT NOT NULL DEFAULT '{}', -- the frontend's conversation, JSON
    meta         TEXT NOT NULL DEFAULT '{}',
    pinned       INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),
    archived     INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)),
    folder_id    TEXT,
    share_id     TEXT UNIQUE,
    last_read_at INTEGER, -- NULL: never read
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;
-- The sidebar's listings (newest first, pinned or not, archived or not).
CREATE INDEX chat_user_listed ON chat (user_id, archived, pinned, updated_at, id);

-- +goose Down
DROP TABLE chat;
