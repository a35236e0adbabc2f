-- Per-account settings of the Open WebUI frontend (GET/POST
-- /api/v1/users/user/settings): one JSON object per account, kept byte for
-- byte. An account without a row has none.

-- +goose Up
CREATE TABLE user_settings (
    user_id    TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    settings   TEXT NOT NULL, -- JSON object
    updated_at INTEGER NOT NULL -- Unix seconds, as users
) STRICT;

-- +goose Down
DROP TABLE user_settings;
