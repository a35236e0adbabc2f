//go:build !linux

package realtime

import "syscall"

func rawWrite(fd int, b []byte) (int, error) { return syscall.Write(fd, b) }
