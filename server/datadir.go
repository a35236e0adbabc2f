package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/quire/quire/storage"
)

// PrepareDataDir creates the data directory (mode 0700) and, for SQLite,
// an empty database file (mode 0600) before SQLite opens it: SQLite would
// create it with the process umask, and it makes its -wal and -shm files
// with the database file's mode. The modes are set explicitly, so they
// hold whatever the umask. Existing files and directories are left alone.
func PrepareDataDir(c Config) error {
	if c.DatabaseURL != "" && c.Secret != "" {
		return nil // nothing is kept in the data directory
	}
	if _, err := os.Stat(c.DataDir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
			return fmt.Errorf("server: create --data-dir: %w", err)
		}
		if err := os.Chmod(c.DataDir, 0o700); err != nil {
			return fmt.Errorf("server: create --data-dir: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("server: --data-dir: %w", err)
	}
	if c.DatabaseURL != "" {
		return nil
	}
	path := filepath.Join(c.DataDir, storage.SQLiteFileName)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("server: create database file: %w", err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("server: create database file: %w", err)
	}
	return f.Close()
}
