package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/quire/quire/auth"
)

// SecretFileName is the generated signing key in the data directory.
const SecretFileName = "secret"

// ResolveSecret returns the signing key: Config.Secret if set, else the
// contents of <DataDir>/secret, which is created (32 random bytes,
// hex-encoded, mode 0600) if it does not exist yet.
func ResolveSecret(c Config) ([]byte, error) {
	if c.Secret != "" {
		return []byte(c.Secret), nil
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("server: create --data-dir: %w", err)
	}
	path := filepath.Join(c.DataDir, SecretFileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createSecret(path)
	}
	if err != nil {
		return nil, fmt.Errorf("server: read secret: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if len(s) < auth.MinSecretBytes {
		return nil, fmt.Errorf("server: %s is shorter than %d bytes; delete it to make a new one (signs out everyone)", path, auth.MinSecretBytes)
	}
	return []byte(s), nil
}

func createSecret(path string) ([]byte, error) {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	s := hex.EncodeToString(raw)
	// O_EXCL: two processes starting at once must not write two keys.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return ResolveSecret(Config{DataDir: filepath.Dir(path)})
	}
	if err != nil {
		return nil, fmt.Errorf("server: create secret: %w", err)
	}
	if _, err := f.WriteString(s + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("server: write secret: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("server: write secret: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("server: write secret: %w", err)
	}
	return []byte(s), nil
}
