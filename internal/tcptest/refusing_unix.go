//go:build unix

package tcptest

import (
	"fmt"
	"net/netip"
	"syscall"
)

// refusing binds a TCP socket to a free port on 127.0.0.1 and never
// listens: the kernel answers a connect with RST (ECONNREFUSED). No
// SO_REUSEADDR, so no other socket can share the port.
func refusing() (string, func(), error) {
	syscall.ForkLock.RLock() // not inherited by a process a test starts
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return "", nil, fmt.Errorf("socket: %w", err)
	}
	closer := func() { _ = syscall.Close(fd) }
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		closer()
		return "", nil, fmt.Errorf("bind: %w", err)
	}
	sa, err := syscall.Getsockname(fd)
	in4, ok := sa.(*syscall.SockaddrInet4)
	if err != nil || !ok {
		closer()
		return "", nil, fmt.Errorf("getsockname: %v %T", err, sa)
	}
	return netip.AddrPortFrom(netip.AddrFrom4(in4.Addr), uint16(in4.Port)).String(), closer, nil
}
