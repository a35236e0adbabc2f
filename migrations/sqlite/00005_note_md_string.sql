-- PostgreSQL's quire_note_md now reads data.content.md only where it is a
-- JSON string. SQLite has no stored function: the same rule is its
-- expression in storage/notes_query.go, and this migration changes
-- nothing; it keeps the two dialects' versions in step.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
