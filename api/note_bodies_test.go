package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
)

// TestNoteBodiesExactKeysAndUTF8: a note body's fields were decoded into
// a struct, whose keys encoding/json matches in any case, the last
// winning, and whose strings it reads with U+FFFD for bytes that are not
// UTF-8: {"title":"a","Title":"b"} made a note titled "b", which neither
// JSON.parse nor Open WebUI's server reads there, and a note's Markdown
// with a stray byte was stored as another text than the one sent. Create,
// update and access updates refuse both with 400 and a detail, and
// nothing changes (as channel bodies: TestChannelBodiesExactKeysAndUTF8).
func TestNoteBodiesExactKeysAndUTF8(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s *quiretest.Server) {
		bob := s.SignUp("Bob")
		var n note
		s.JSON("POST", "/api/v1/notes/create", bob.Token, map[string]any{
			"title": "t", "data": map[string]any{"content": map[string]any{"md": "m"}},
		}, http.StatusOK, &n)
		before := take(t, s)
		unchanged := noteUnchanged(t, s, bob.Token, n.ID)
		path := "/api/v1/notes/" + n.ID
		for _, c := range []struct{ path, body string }{
			{"/api/v1/notes/create", `{"title":"a","Title":"b"}`},
			{"/api/v1/notes/create", `{"title":"a","data":{},"DATA":{"content":{"md":"x"}}}`},
			{"/api/v1/notes/create", "{\"title\":\"a\xff\"}"},
			{"/api/v1/notes/create", "{\"title\":\"a\",\"data\":{\"content\":{\"md\":\"x\xc3(\"}}}"},
			{"/api/v1/notes/create", `{"title":"a","Tit\u006cE":"b"}`}, // escaped, still Title
			{path + "/update", `{"title":"x","TITLE":"y"}`},
			{path + "/update", "{\"data\":{\"content\":{\"md\":\"\xed\xa0\x80\"}}}"}, // a surrogate in UTF-8 form
			{path + "/update", `{"meta":{},"Meta":{"k":1}}`},
			{path + "/access/update", `{"access_grants":[],"Access_Grants":[{"principal_type":"user","principal_id":"x","permission":"read"}]}`},
		} {
			r := s.Do("POST", c.path, bob.Token, c.body)
			require.Equal(t, http.StatusBadRequest, r.Status, "%s %q: %s", c.path, c.body, r.Body)
			require.NotEmpty(t, r.Detail(), "%s %q", c.path, c.body)
		}
		require.Equal(t, before, take(t, s), "no note was made or changed")
		unchanged()

		// Other keys in any case, and text in any script, are fine.
		var got note
		s.JSON("POST", "/api/v1/notes/create", bob.Token, map[string]any{"title": "é😀", "Data_x": 1, "TITLEs": 2},
			http.StatusOK, &got)
		require.Equal(t, "é😀", got.Title)
	})
}
