-- Channels (protocol §5.1, §9.7): channels, their members, messages with
-- threads, and reactions. Timestamps are Unix nanoseconds, as Open WebUI.
-- A channel is deleted outright; its members, messages and reactions go with
-- it (ON DELETE CASCADE), as do a message's replies and reactions.

-- +goose Up
CREATE TABLE channel (
    id          text PRIMARY KEY,
    user_id     text NOT NULL, -- owner; no foreign key, as notes
    type        text NOT NULL DEFAULT '', -- '' standard, 'group', 'dm'
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    is_private  boolean NOT NULL DEFAULT false,
    data        text NOT NULL DEFAULT '{}', -- JSON
    meta        text NOT NULL DEFAULT '{}',
    -- dm_key: a DM's sorted member ids joined with ","; unique, so two racing
    -- "open a DM" requests make one channel. NULL for other types.
    dm_key      text UNIQUE,
    created_at  bigint NOT NULL,
    updated_at  bigint NOT NULL
);
-- Public channels, listed to everyone.
CREATE INDEX channel_public ON channel (type, is_private);

CREATE TABLE channel_member (
    channel_id   text NOT NULL REFERENCES channel (id) ON DELETE CASCADE,
    user_id      text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role         text NOT NULL, -- 'manager' or 'member'
    is_active    boolean NOT NULL DEFAULT true,
    last_read_at bigint NOT NULL DEFAULT 0,
    joined_at    bigint NOT NULL,
    PRIMARY KEY (channel_id, user_id)
);
CREATE INDEX channel_member_user ON channel_member (user_id, channel_id);

CREATE TABLE message (
    id          text PRIMARY KEY,
    user_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    channel_id  text NOT NULL REFERENCES channel (id) ON DELETE CASCADE,
    parent_id   text REFERENCES message (id) ON DELETE CASCADE, -- thread root
    reply_to_id text REFERENCES message (id) ON DELETE SET NULL,
    is_pinned   boolean NOT NULL DEFAULT false,
    pinned_at   bigint,
    pinned_by   text,
    content     text NOT NULL,
    data        text NOT NULL DEFAULT '{}', -- JSON
    meta        text NOT NULL DEFAULT '{}',
    created_at  bigint NOT NULL,
    updated_at  bigint NOT NULL
);
-- Top-level listing (newest first) and unread counts.
CREATE INDEX message_channel_top ON message (channel_id, created_at, id) WHERE parent_id IS NULL;
-- last_message_at.
CREATE INDEX message_channel_created ON message (channel_id, created_at);
-- Threads and reply counts.
CREATE INDEX message_parent ON message (parent_id, created_at);
CREATE INDEX message_reply_to ON message (reply_to_id);

CREATE TABLE message_reaction (
    message_id text NOT NULL REFERENCES message (id) ON DELETE CASCADE,
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       text NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (message_id, user_id, name)
);

-- +goose Down
DROP TABLE message_reaction;
DROP TABLE message;
DROP TABLE channel_member;
DROP TABLE channel;
