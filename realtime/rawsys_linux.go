package realtime

import (
	"syscall"
	"unsafe"
)

// rawWrite and rawRead are write(2) and read(2) on a non-blocking socket
// without the runtime's syscall entry and exit (syscall.RawSyscall): they
// never block, so the scheduler need not hand the P off, and entering a
// syscall no longer wakes the runtime's sysmon thread from its deep sleep,
// which then polls every 20 µs for a millisecond or more (docs/design.md,
// "Fan-out": sysmon's wake-ups were ~14% of the server's CPU in bench S1).
// Only for descriptors in non-blocking mode (every net.Conn's is).
func rawWrite(fd int, b []byte) (int, error) { return rawIO(syscall.SYS_WRITE, fd, b) }

func rawRead(fd int, b []byte) (int, error) { return rawIO(syscall.SYS_READ, fd, b) }

// rawIO is read(2) or write(2) (trap) of b on fd.
func rawIO(trap uintptr, fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, e := syscall.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return int(n), e
	}
	return int(n), nil
}
