package rowid

import (
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	for id, want := range map[string]bool{
		"":                              false,
		"a":                             true,
		strings.Repeat("x", MaxBytes):   true,
		strings.Repeat("x", MaxBytes+1): false,
		"a\x00b":                        false,
		"a\xffb":                        false,
		"é-ü":                           true,
	} {
		if got := Valid(id); got != want {
			t.Errorf("Valid(%q) = %v, want %v", id, got, want)
		}
	}
}
