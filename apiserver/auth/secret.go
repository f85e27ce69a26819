package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// MinSecretBytes is the shortest JWT secret production mode accepts: HS256 wants a key at least
// as long as its 256-bit output.
const MinSecretBytes = 32

// knownDefaults are secrets copied from examples; production refuses them whatever their length.
var knownDefaults = []string{
	"secret", "changeme", "change-me", "default", "insecure", "django-insecure",
	"please-change-this-secret-in-production",
}

// LoadSecret returns the JWT signing secret. configured (LOGETL_JWT_SECRET) wins when set. In
// production mode it must be set, at least MinSecretBytes long and not a known default. Outside
// production an empty configured secret is generated once and kept in file (mode 0600), so
// tokens survive restarts of the dev stack.
func LoadSecret(configured string, production bool, file string) ([]byte, error) {
	if configured != "" {
		if production {
			if len(configured) < MinSecretBytes {
				return nil, fmt.Errorf("production mode: LOGETL_JWT_SECRET is %d bytes, need at least %d", len(configured), MinSecretBytes)
			}
			lower := strings.ToLower(configured)
			for _, d := range knownDefaults {
				if strings.HasPrefix(lower, d) {
					return nil, errors.New("production mode: LOGETL_JWT_SECRET is a known example value")
				}
			}
		} else if len(configured) < MinSecretBytes {
			slog.Warn("JWT secret is shorter than recommended; production mode would refuse it", "bytes", len(configured), "min_bytes", MinSecretBytes)
		}
		return []byte(configured), nil
	}
	if production {
		return nil, errors.New("production mode: LOGETL_JWT_SECRET must be set (a generated secret is for development only)")
	}
	return loadOrCreateSecretFile(file)
}

func loadOrCreateSecretFile(file string) ([]byte, error) {
	if b, err := readSecretFile(file); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return b, err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return nil, fmt.Errorf("JWT secret folder: %w", err)
	}
	var raw [48]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("generate JWT secret: %w", err)
	}
	secret := base64.RawURLEncoding.EncodeToString(raw[:])
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // another process created it first: use theirs
		return readSecretFile(file)
	}
	if err != nil {
		return nil, fmt.Errorf("create JWT secret file: %w", err)
	}
	if _, err := f.WriteString(secret + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("write JWT secret file %s: %w", file, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write JWT secret file %s: %w", file, err)
	}
	slog.Info("generated a JWT secret for development", "file", file)
	return []byte(secret), nil
}

func readSecretFile(file string) ([]byte, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read JWT secret file: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if len(s) < MinSecretBytes {
		return nil, fmt.Errorf("JWT secret file %s holds %d bytes, need at least %d: delete it to generate a new one", file, len(s), MinSecretBytes)
	}
	return []byte(s), nil
}
