//go:build !linux || !(amd64 || arm64)

package storage

import "os"

// pwriteAll writes b at off.
func pwriteAll(f *os.File, b []byte, off int64) error {
	_, err := f.WriteAt(b, off)
	return err
}

// rawFdatasync: elsewhere the runtime's own sync.
func rawFdatasync(f *os.File) error { return f.Sync() }
