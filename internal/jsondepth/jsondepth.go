// Package jsondepth measures how deeply JSON text nests, without decoding
// it, so that validators can refuse deep input before a recursive decoder
// sees it.
package jsondepth

// Max returns the deepest array/object nesting of b: 0 for a scalar, 1 for
// {} or []. Brackets inside strings do not count. For bytes that are not
// valid JSON the result is still bounded by len(b) and costs one pass.
func Max(b []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++ // the escaped byte cannot end the string
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			depth++
			deepest = max(deepest, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return deepest
}
