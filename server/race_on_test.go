//go:build race

package server_test

// raceEnabled: the race detector is on; the socket library's polling
// transport races internally, so polling tests skip.
const raceEnabled = true
