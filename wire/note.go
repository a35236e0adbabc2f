// Package wire holds the JSON shapes Quire shares with Open WebUI's
// frontend that more than one surface sends: the REST API answers them and
// the socket server pushes them (shared/protocol.md).
package wire

import (
	"encoding/json"

	"github.com/quire/quire/storage"
)

// Note is Open WebUI's NoteModel (timestamps in nanoseconds): the body of
// GET /api/v1/notes/{id} without the reader-specific fields, and the
// payload of events:note.
type Note struct {
	ID           string                `json:"id"`
	UserID       string                `json:"user_id"`
	Title        string                `json:"title"`
	Data         json.RawMessage       `json:"data"`
	Meta         json.RawMessage       `json:"meta"`
	AccessGrants []storage.AccessGrant `json:"access_grants"`
	CreatedAt    int64                 `json:"created_at"`
	UpdatedAt    int64                 `json:"updated_at"`
}

// NoteOf is n as the frontend expects it: data, meta and access_grants are
// never null.
func NoteOf(n *storage.Note) Note {
	grants := n.AccessGrants
	if grants == nil {
		grants = []storage.AccessGrant{}
	}
	return Note{ID: n.ID, UserID: n.UserID, Title: n.Title, Data: objectOrEmpty(n.Data), Meta: objectOrEmpty(n.Meta),
		AccessGrants: grants, CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt}
}

func objectOrEmpty(m json.RawMessage) json.RawMessage {
	if len(m) == 0 {
		return json.RawMessage("{}")
	}
	return m
}
