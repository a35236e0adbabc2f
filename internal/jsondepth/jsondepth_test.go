package jsondepth

import (
	"strings"
	"testing"
)

func TestMax(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int{
		``:                     0,
		`1`:                    0,
		`"[[["`:                0,
		`{}`:                   1,
		`[[],[[]]]`:            3,
		`{"a":{"b":[1]}}`:      3,
		`{"a":"\"[{"}`:         1,
		`{"a":"\\"}`:           1,
		`["\\\"]]"]`:           1,
		strings.Repeat("[", 9): 9, // unbalanced still counts
	} {
		if got := Max([]byte(in)); got != want {
			t.Errorf("Max(%q) = %d, want %d", in, got, want)
		}
	}
}
