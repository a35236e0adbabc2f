//go:build linux && (amd64 || arm64)

package storage

import (
	"os"
	"syscall"
	"unsafe"
)

// The journal's writes as raw system calls: they do not enter the runtime,
// so they neither wake its monitor thread nor hand the P to another
// thread (sqlite_journal.go says why that matters). A raw call keeps its
// P for its whole length; sync bounds that for a slow disk.

// pwriteAll writes b at off.
func pwriteAll(f *os.File, b []byte, off int64) error {
	fd := f.Fd()
	for len(b) > 0 {
		n, _, errno := syscall.RawSyscall6(syscall.SYS_PWRITE64, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(off), 0, 0)
		if errno == syscall.EINTR {
			continue
		}
		if errno != 0 {
			return &os.PathError{Op: "pwrite", Path: f.Name(), Err: errno}
		}
		if n == 0 {
			return &os.PathError{Op: "pwrite", Path: f.Name(), Err: syscall.EIO}
		}
		b, off = b[n:], off+int64(n)
	}
	return nil
}

// rawFdatasync makes f's data (and its size) durable.
func rawFdatasync(f *os.File) error {
	for {
		_, _, errno := syscall.RawSyscall(syscall.SYS_FDATASYNC, f.Fd(), 0, 0)
		if errno == syscall.EINTR {
			continue
		}
		if errno != 0 {
			return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: errno}
		}
		return nil
	}
}
