package api

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/quire/quire/internal/jsonscan"
)

// formCaseVariant refuses a top-level key of body that differs only in
// case (as encoding/json folds it) from a JSON name of the form v points
// to; anything but a form (formType) has no such key. The keys are read
// where they stand (jsonscan), not decoded with the values: a note's body
// is large. body need not be valid JSON yet: on bytes that are not, a
// refusal is checked against the JSON error first (decode).
func formCaseVariant(body []byte, v any) error {
	t, ok := formType(v)
	if !ok {
		return nil
	}
	if body = bytes.TrimLeft(body, " \t\r\n"); len(body) == 0 || body[0] != '{' {
		return nil // Unmarshal refuses what is no object
	}
	names := formNamesOf(t)
	for lit := range jsonscan.Members(body) {
		if len(lit) > names.maxLiteral {
			continue // too long to spell any name
		}
		k, err := objectKey(lit)
		if err != nil {
			return nil // Unmarshal refuses it with its own error
		}
		if exact, ok := names.byFold[foldName(k)]; ok && !slices.Contains(exact, k) {
			return fmt.Errorf("request body must not hold %q: a key differing from %q only in case is ambiguous", k, exact[0])
		}
	}
	return nil
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// formType is the struct type v points to when v is a form: a pointer to
// a struct that encoding/json fills field by field, matching keys in any
// case (one that decodes itself matches nothing).
func formType(v any) (reflect.Type, bool) {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct ||
		t.Implements(unmarshalerType) || t.Implements(textUnmarshalerType) {
		return nil, false
	}
	return t.Elem(), true
}

// formNames is a form type's JSON names by their folded form (foldName).
type formNames struct {
	byFold map[string][]string
	// maxLiteral is the longest key literal that can spell one of them:
	// quotes, and each rune as a surrogate pair of escapes (12 bytes).
	maxLiteral int
}

// formNamesByType caches formNames per form type: a body's keys are
// looked up, not compared with every field's tag again.
var formNamesByType sync.Map // reflect.Type → *formNames

func formNamesOf(t reflect.Type) *formNames {
	if n, ok := formNamesByType.Load(t); ok {
		return n.(*formNames)
	}
	n := &formNames{byFold: map[string][]string{}}
	for _, name := range jsonNames(t, map[reflect.Type]bool{}, nil) {
		f := foldName(name)
		if !slices.Contains(n.byFold[f], name) {
			n.byFold[f] = append(n.byFold[f], name)
		}
		n.maxLiteral = max(n.maxLiteral, 2+12*utf8.RuneCountInString(name))
	}
	got, _ := formNamesByType.LoadOrStore(t, n)
	return got.(*formNames)
}

// jsonNames appends the names encoding/json reads t's fields by: a tag's
// name, else an exported field's Go name; "-" is no field. An embedded
// struct without a tag name lends its fields' names, as encoding/json
// promotes them. (Promoted names that collide, which encoding/json
// drops, are kept: a key folding to one is refused rather than ignored.)
func jsonNames(t reflect.Type, seen map[reflect.Type]bool, names []string) []string {
	if seen[t] {
		return names // an embedding cycle
	}
	seen[t] = true
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case f.Anonymous && name == "" && ft.Kind() == reflect.Struct:
			names = jsonNames(ft, seen, names)
		case !f.IsExported():
		case name == "":
			names = append(names, f.Name)
		default:
			names = append(names, name)
		}
	}
	return names
}

// foldName is s with each rune replaced by the least rune of its case
// folding orbit (unicode.SimpleFold): two keys match under
// strings.EqualFold, as encoding/json matches a key to a field (ſ and s,
// K and the Kelvin sign too), exactly when their foldName are equal.
func foldName(s string) string {
	return strings.Map(func(r rune) rune {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		return least
	}, s)
}
