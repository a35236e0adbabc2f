-- Channels (protocol §5.1, §9.7): channels, their members, messages with
-- threads, and reactions. Timestamps are Unix nanoseconds, as Open WebUI.
-- A channel is deleted outright; its members, messages and reactions go with
-- it (ON DELETE CASCADE), as do a message's replies and reactions.

-- +goose Up
CREATE TABLE channel (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL, -- owner; no foreign key, as notes
    type        TEXT NOT NULL DEFAULT '', -- '' standard, 'group', 'dm'
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    is_private  INTEGER NOT NULL DEFAULT 0 CHECK (is_private IN (0, 1)),
    data        TEXT NOT NULL DEFAULT '{}', -- JSON
    meta        TEXT NOT NULL DEFAULT '{}',
    -- dm_key: a DM's sorted member ids joined with ","; unique, so two racing
    -- "open a DM" requests make one channel. NULL for other types.
    dm_key      TEXT UNIQUE,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
-- Public channels, listed to everyone.
CREATE INDEX channel_public ON channel (type, is_private);

CREATE TABLE channel_member (
    channel_id   TEXT NOT NULL REFERENCES channel (id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role         TEXT NOT NULL, -- 'manager' or 'member'
    is_active    INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    last_read_at INTEGER NOT NULL DEFAULT 0,
    joined_at    INTEGER NOT NULL,
    PRIMARY KEY (channel_id, user_id)
) STRICT;
CREATE INDEX channel_member_user ON channel_member (user_id, channel_id);

CREATE TABLE message (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    channel_id  TEXT NOT NULL REFERENCES channel (id) ON DELETE CASCADE,
    parent_id   TEXT REFERENCES message (id) ON DELETE CASCADE, -- thread root
    reply_to_id TEXT REFERENCES message (id) ON DELETE SET NULL,
    is_pinned   INTEGER NOT NULL DEFAULT 0 CHECK (is_pinned IN (0, 1)),
    pinned_at   INTEGER,
    pinned_by   TEXT,
    content     TEXT NOT NULL,
    data        TEXT NOT NULL DEFAULT '{}', -- JSON
    meta        TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
-- Top-level listing (newest first) and unread counts.
CREATE INDEX message_channel_top ON message (channel_id, created_at, id) WHERE parent_id IS NULL;
-- last_message_at.
CREATE INDEX message_channel_created ON message (channel_id, created_at);
-- Threads and reply counts.
CREATE INDEX message_parent ON message (parent_id, created_at);
CREATE INDEX message_reply_to ON message (reply_to_id);

CREATE TABLE message_reaction (
    message_id TEXT NOT NULL REFERENCES message (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (message_id, user_id, name)
) STRICT;

-- +goose Down
DROP TABLE message_reaction;
DROP TABLE message;
DROP TABLE channel_member;
DROP TABLE channel;
