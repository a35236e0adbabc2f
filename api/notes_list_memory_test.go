package api_test

import (
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quire/quire/quiretest"
)

// TestNoteListingsReadOnlyWhatTheyShow: a listing shows the first 1,000
// characters of each note's Markdown, and reads no more than that from
// storage. It loaded every listed note's whole data (up to 8 MiB each, 60
// to a page of the frontend's list) and decoded it: 20 notes of 7.5 MB
// cost 1 GB of allocations and 2 s per listing of 26 KB, so a few
// requests could exhaust the server's memory.
//
// Not parallel: it counts the process's allocations during the listings.
func TestNoteListingsReadOnlyWhatTheyShow(t *testing.T) {
	for _, b := range quiretest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			s := quiretest.New(t, b.Opts...)
			bob := s.SignUp("Bob")
			const notes, size = 8, 4 << 20
			big := strings.Repeat("word ", size/5)
			for range notes {
				s.JSON("POST", "/api/v1/notes/create", bob.Token, map[string]any{"title": "big",
					"data": map[string]any{"content": map[string]any{"md": big}}}, http.StatusOK, nil)
			}
			for _, path := range []string{"/api/v1/notes/search", "/api/v1/notes/", "/api/v1/notes/?page=1"} {
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				before := m.TotalAlloc
				r := s.Do("GET", path, bob.Token, nil)
				runtime.ReadMemStats(&m)
				require.Equal(t, http.StatusOK, r.Status, path)
				require.Contains(t, string(r.Body), `"md":"`+strings.Repeat("word ", 200)+`"`, "%s shows the start", path)
				require.Less(t, m.TotalAlloc-before, uint64(notes*size/4),
					"%s: a listing of %d notes of %d bytes allocated %d bytes", path, notes, size, m.TotalAlloc-before)
			}
			require.Zero(t, s.InternalErrors())
		})
	}
}
