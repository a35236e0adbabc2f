-- Saved AI chats (protocol §9.8), as Open WebUI's chat table. Timestamps are
-- Unix seconds, as Open WebUI's. A chat goes with its owner's account.

-- +goose Up
CREATE TABLE chat (
    id           text PRIMARY KEY,
    user_id      text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title        text NOT NULL,
    chat         text NOT NULL DEFAULT '{}', -- the frontend's conversation, JSON
    meta         text NOT NULL DEFAULT '{}',
    pinned       boolean NOT NULL DEFAULT false,
    archived     boolean NOT NULL DEFAULT false,
    folder_id    text,
    share_id     text UNIQUE,
    last_read_at bigint, -- NULL: never read
    created_at   bigint NOT NULL,
    updated_at   bigint NOT NULL
);
-- The sidebar's listings (newest first, pinned or not, archived or not).
CREATE INDEX chat_user_listed ON chat (user_id, archived, pinned, updated_at, id);

-- +goose Down
DROP TABLE chat;
