//go:build !unix

package tcptest

import "net"

// refusing, where a socket cannot be bound without listening through
// syscall: a listener's port, closed at once (another process may take it).
func refusing() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := ln.Addr().String()
	return addr, func() {}, ln.Close()
}
