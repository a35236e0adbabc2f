// Package rowid holds the one rule REST and the socket apply to an id a
// client names a stored row with (note, chat, channel, message, account),
// so that an id one of them accepts the other does not refuse.
package rowid

import (
	"strings"
	"unicode/utf8"
)

// MaxBytes bounds an id. Quire's own ids are UUIDs; Open WebUI's frontend
// also sends ids it made itself (message ids, temp ids), UUIDs too.
const MaxBytes = 128

// Valid reports whether id can name a row: 1 to MaxBytes bytes of UTF-8
// without NUL. PostgreSQL refuses a parameter holding NUL or invalid
// UTF-8 with an error rather than "no such row", so such an id must be
// turned away before it reaches storage.
func Valid(id string) bool {
	return id != "" && len(id) <= MaxBytes && utf8.ValidString(id) && !strings.ContainsRune(id, 0)
}
