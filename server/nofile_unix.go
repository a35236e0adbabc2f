//go:build unix

package server

import "syscall"

// nofileLimit is the process's soft RLIMIT_NOFILE (the Go runtime has
// raised it to the hard limit at start), 0 if unknown.
func nofileLimit() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	return lim.Cur
}
