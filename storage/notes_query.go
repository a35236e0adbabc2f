package storage

import (
	"fmt"
	"strconv"
	"strings"
)

// notesSQL is the dialect's spelling of what a note listing needs.
type notesSQL struct {
	// ph is the placeholder of the nth argument (1-based).
	ph func(n int) string
	// md is the expression of a note's data.content.md, NULL where data
	// is not JSON (one unreadable row must not fail a search) or md is no
	// string (its JSON text is no Markdown to list or search).
	md string
	// mdData is the format of the JSON text {"content": {"md": %s}}.
	mdData string
	// byteOrder follows a text expression to compare it byte by byte.
	byteOrder string
	// noLimit is the LIMIT argument that means none.
	noLimit any
}

var (
	sqliteNotesSQL = notesSQL{
		ph:        func(int) string { return "?" },
		md:        "CASE WHEN json_valid(data) THEN CASE json_type(data, '$.content.md') WHEN 'text' THEN json_extract(data, '$.content.md') END END",
		mdData:    "json_object('content', json_object('md', %s))",
		byteOrder: "",
		noLimit:   -1,
	}
	postgresNotesSQL = notesSQL{
		ph:        func(n int) string { return "$" + strconv.Itoa(n) },
		md:        "quire_note_md(data)",
		mdData:    "json_build_object('content', json_build_object('md', %s))::text",
		byteOrder: ` COLLATE "C"`,
		noLimit:   nil, // LIMIT NULL
	}
)

// where builds the WHERE clause (possibly empty) of a listing and its
// arguments, numbered from 1.
func (d notesSQL) where(opt ListNotesOptions) (string, []any) {
	var conds []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return d.ph(len(args))
	}
	grant := func(perms string) string {
		return `EXISTS (SELECT 1 FROM note_access a WHERE a.note_id = notes.id
			AND a.principal_type = 'user' AND a.principal_id = ` + arg(opt.UserID) + ` AND a.permission IN (` + perms + `))`
	}
	if !opt.All {
		conds = append(conds, "(user_id = "+arg(opt.UserID)+" OR "+grant("'read', 'write'")+")")
	}
	switch {
	case opt.Access == AccessWrite && !opt.All:
		conds = append(conds, "(user_id = "+arg(opt.UserID)+" OR "+grant("'write'")+")")
	case opt.Access == AccessReadOnly && opt.All:
		conds = append(conds, "1 = 0") // an admin may edit every note
	case opt.Access == AccessReadOnly:
		conds = append(conds, "(user_id <> "+arg(opt.UserID)+" AND NOT "+grant("'write'")+")")
	}
	switch opt.View {
	case ViewOwned:
		conds = append(conds, "user_id = "+arg(opt.UserID))
	case ViewShared:
		conds = append(conds, "user_id <> "+arg(opt.UserID))
	}
	if opt.Query != "" {
		// Two arguments: SQLite's ? is positional.
		p, q := arg(containsPattern(opt.Query)), arg(containsPattern(opt.Query))
		conds = append(conds, fmt.Sprintf(`(lower(title) LIKE lower(%s) ESCAPE '\' OR lower(%s) LIKE lower(%s) ESCAPE '\')`, p, d.md, q))
	}
	if len(conds) == 0 {
		return "", args
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// orderBy is the ORDER BY clause of a listing.
func (d notesSQL) orderBy(opt ListNotesOptions) string {
	dir := " DESC"
	if opt.Ascending {
		dir = " ASC"
	}
	col := "updated_at"
	switch opt.OrderBy {
	case OrderCreated:
		col = "created_at"
	case OrderTitle:
		col = "lower(title)" + d.byteOrder
	}
	return " ORDER BY " + col + dir + ", id" + d.byteOrder
}

// list is the whole SELECT of a listing, LIMIT and OFFSET included.
func (d notesSQL) list(opt ListNotesOptions) (string, []any) {
	where, args := d.where(opt)
	skip, limit := pageBounds(opt)
	var limitArg any = limit
	if limit < 0 {
		limitArg = d.noLimit
	}
	args = append(args, limitArg, skip)
	cols := noteColumns
	if opt.MDPrefix > 0 {
		md := fmt.Sprintf("COALESCE(substr(CAST(%s AS text), 1, %d), '')", d.md, opt.MDPrefix)
		cols = "id, user_id, title, " + fmt.Sprintf(d.mdData, md) + " AS data, meta, created_at, updated_at"
	}
	return "SELECT " + cols + " FROM notes" + where + d.orderBy(opt) +
		" LIMIT " + d.ph(len(args)-1) + " OFFSET " + d.ph(len(args)), args
}

// count is the SELECT count(*) of a listing.
func (d notesSQL) count(opt ListNotesOptions) (string, []any) {
	where, args := d.where(opt)
	return "SELECT count(*) FROM notes" + where, args
}
