// Package tcptest gives tests TCP addresses that behave in a known way for
// the test's whole life.
package tcptest

import "testing"

// RefusingAddr is an address on 127.0.0.1 that refuses connections until t
// ends. A listener closed at once would free its port for anyone: another
// test or process could take it before the test dials, and answer. Here
// the port stays bound, never listening, so a connect is refused and no
// one else can bind it.
func RefusingAddr(t testing.TB) string {
	t.Helper()
	addr, closer, err := refusing()
	if err != nil {
		t.Fatalf("tcptest: %v", err)
	}
	t.Cleanup(closer)
	return addr
}
