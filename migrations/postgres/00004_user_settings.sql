-- Per-account settings of the Open WebUI frontend (GET/POST
-- /api/v1/users/user/settings): one JSON object per account, kept byte for
-- byte. An account without a row has none.
--
-- quire_note_md reads a note's data.content.md for the notes search, and
-- NULL where data is not JSON at all: data is text kept byte for byte, and
-- one unreadable row must not fail every search (SQLite guards the same
-- way with json_valid).

-- +goose Up
CREATE TABLE user_settings (
    user_id    text PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    settings   text NOT NULL, -- JSON object
    updated_at bigint NOT NULL -- Unix seconds, as users
);

-- +goose StatementBegin
CREATE FUNCTION quire_note_md(data text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    RETURN data::jsonb #>> '{content,md}';
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION quire_note_md(text);
DROP TABLE user_settings;
