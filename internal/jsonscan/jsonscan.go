// Package jsonscan walks the members of a JSON object that is already
// known to be valid (json.Valid), without decoding it: hot paths that
// need one member, or all but one, as raw bytes use it instead of
// decoding the object into a map.
package jsonscan

import "bytes"

// Members yields each member of obj, a valid JSON object (leading
// whitespace allowed): its key as the string literal it is written as
// (quotes and escapes included) and its value as raw JSON, both without
// surrounding whitespace. On bytes that are not a valid JSON object it
// yields garbage but stays within obj and ends.
func Members(obj []byte) func(yield func(key, value []byte) bool) {
	return func(yield func(key, value []byte) bool) {
		i := skipSpace(obj, 0) + 1 // past '{'
		for {
			i = skipSpace(obj, i)
			if i >= len(obj) || obj[i] != '"' {
				return // the '}' of an empty object, or the end
			}
			start := i
			i = stringEnd(obj, i)
			key := obj[start:min(i, len(obj))]
			i = skipSpace(obj, i) + 1 // past ':'
			v := skipSpace(obj, i)
			i = valueEnd(obj, v)
			if v > i {
				return
			}
			if !yield(key, obj[v:i]) {
				return
			}
			i = skipSpace(obj, i)
			if i >= len(obj) || obj[i] != ',' {
				return
			}
			i++
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// stringEnd returns the index just past the string literal starting at i.
// It jumps from quote to quote (bytes.IndexByte: texts are long); a quote
// ends the literal unless an odd run of backslashes escapes it.
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			break
		}
		q := j + k
		run := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			run++
		}
		if run%2 == 0 {
			return q + 1
		}
		j = q + 1
	}
	return len(b)
}

// valueEnd returns the index just past the JSON value starting at i.
func valueEnd(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch c := b[i]; {
		case c == '"':
			i = stringEnd(b, i)
			if depth == 0 {
				return i
			}
			continue
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			if depth == 0 {
				return i // the end of the enclosing object
			}
			depth--
			if depth == 0 {
				return i + 1
			}
		case depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n'):
			return i // the end of a number, true, false or null
		}
		i++
	}
	return len(b)
}
