// Package runecut cuts UTF-8 text to a byte bound without splitting a
// character: error messages and answers that quote a value from a request
// are bounded this way in more than one package.
package runecut

import "unicode/utf8"

// Cut is s cut to at most n bytes where a character starts ("" for n ≤ 0).
func Cut(s string, n int) string {
	if n >= len(s) {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:max(n, 0)]
}
