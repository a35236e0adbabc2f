package wire

import (
	"encoding/json"
	"testing"

	"github.com/quire/quire/storage"
)

// Absent data, meta and grants are sent as {} and [], as Open WebUI does;
// the frontend reads them without null checks.
func TestNoteOfNeverNull(t *testing.T) {
	b, err := json.Marshal(NoteOf(&storage.Note{ID: "n", UserID: "u", Title: "t", CreatedAt: 1, UpdatedAt: 2}))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"n","user_id":"u","title":"t","data":{},"meta":{},"access_grants":[],"created_at":1,"updated_at":2}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}
