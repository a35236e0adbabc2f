//go:build unix

package storage

import (
	"errors"
	"os"
	"syscall"
)

// lockFile takes f's exclusive lock without waiting: false when another
// open file holds it (another process serving the same database). The
// lock goes when f is closed, or with the process.
func lockFile(f *os.File) (bool, error) {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}
