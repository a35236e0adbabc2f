package docid

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", MaxNoteIDBytes)
	for _, c := range []struct {
		in, id, note string
		ok           bool
	}{
		{"note:abc", "note:abc", "abc", true},
		{"note_abc", "note:abc", "abc", true},
		{"note:" + long, "note:" + long, long, true},
		{"note:" + long + "a", "", "", false},
		{"note:", "", "", false},
		{"note_", "", "", false},
		{"abc", "", "", false},
		{"Note:abc", "", "", false},
		{"note:a b", "", "", false},
		{"note:a\x00", "", "", false},
		{"note:é", "", "", false},
		{"note:a\x7f", "", "", false},
		{"", "", "", false},
	} {
		id, note, ok := Parse(c.in)
		if id != c.id || note != c.note || ok != c.ok {
			t.Errorf("Parse(%q) = %q, %q, %v; want %q, %q, %v", c.in, id, note, ok, c.id, c.note, c.ok)
		}
	}
	if got := Note("x"); got != "note:x" {
		t.Errorf("Note(x) = %q", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"note:abc", "note_x", "", "note:\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, note, ok := Parse(s)
		if !ok {
			return
		}
		// A parsed id parses to itself, and builds back from its note id.
		if id2, note2, ok2 := Parse(id); !ok2 || id2 != id || note2 != note || Note(note) != id {
			t.Fatalf("Parse(%q) = %q, %q; not stable", s, id, note)
		}
	})
}
