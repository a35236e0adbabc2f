-- quire_note_md reads data.content.md only where it is a JSON string: a
-- number, object or other value there is no Markdown. It returned that
-- value's JSON text, which note listings then showed as the note's text
-- (and SQLite's json_extract another text: true as 1). Listings and the
-- notes search now treat it as absent, as unreadable data is, on both
-- dialects (SQLite's expression is in storage/notes_query.go).

-- +goose Up
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION quire_note_md(data text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    md jsonb;
BEGIN
    md := data::jsonb #> '{content,md}';
    IF jsonb_typeof(md) = 'string' THEN
        RETURN md #>> '{}';
    END IF;
    RETURN NULL;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION quire_note_md(data text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    RETURN data::jsonb #>> '{content,md}';
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;
-- +goose StatementEnd
