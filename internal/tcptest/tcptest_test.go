package tcptest_test

import (
	"errors"
	"net"
	"runtime"
	"syscall"
	"testing"

	"github.com/quire/quire/internal/tcptest"
)

// Connections to a RefusingAddr are refused, and its port cannot be taken
// while the test runs; it is free again once the test ended.
func TestRefusingAddr(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("a closed listener's port there: not reserved")
	}
	var addr string
	t.Run("reserved", func(t *testing.T) {
		addr = tcptest.RefusingAddr(t)
		for range 3 {
			_, err := net.Dial("tcp", addr)
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("dial %s: want connection refused, got %v", addr, err)
			}
		}
		if ln, err := net.Listen("tcp", addr); err == nil {
			ln.Close()
			t.Fatalf("another listener took %s", addr)
		}
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("%s still taken after the test ended: %v", addr, err)
	}
	ln.Close()
}
