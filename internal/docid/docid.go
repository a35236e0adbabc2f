// Package docid builds and parses the ids of collaborative documents, so
// that every package agrees on them: the document of note <id> is
// "note:<id>" (protocol §9.3); Open WebUI's storage key form "note_<id>" is
// accepted and normalised.
package docid

import (
	"strings"

	"github.com/quire/quire/internal/rowid"
)

// MaxNoteIDBytes bounds a note id inside a document id: the bound of every
// row id (rowid.MaxBytes).
const MaxNoteIDBytes = rowid.MaxBytes

// Note is the document id of note noteID.
func Note(noteID string) string { return "note:" + noteID }

// Parse accepts "note:<id>" or "note_<id>" whose note id is 1 to
// MaxNoteIDBytes printable ASCII characters (no space), and returns the
// normalised document id and the note id.
func Parse(docID string) (id, noteID string, ok bool) {
	noteID, ok = strings.CutPrefix(docID, "note:")
	if !ok {
		noteID, ok = strings.CutPrefix(docID, "note_")
	}
	if !ok || noteID == "" || len(noteID) > MaxNoteIDBytes {
		return "", "", false
	}
	for i := 0; i < len(noteID); i++ {
		if c := noteID[i]; c <= ' ' || c >= 0x7f {
			return "", "", false
		}
	}
	return Note(noteID), noteID, true
}
