// Package protect pseudonymizes identifiers and encrypts personal data before they leave MySQL.
//
// User ids become keyed HMAC-SHA256 pseudonyms (stable under one key, so analysts can count and
// join users); client IPs, user agents and emails are sealed with AES-256-GCM. Keys live in a
// keyring file holding several keys of each kind with one active, so that files written under
// an old key stay readable after a rotation. The file format is documented in
// docs/field-protection.md.
package protect

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ErrKeyring marks configuration and key problems that retrying cannot fix: a missing or
// unreadable keyring file, bad JSON, a key of the wrong length, no active key, or a value sealed
// under a key id the keyring does not hold. Callers treat it as non-retryable.
var ErrKeyring = errors.New("keyring")

// KeySize is the length in bytes of every key: HMAC-SHA256 keys and AES-256 keys alike.
const KeySize = 32

// keyringFormat is the "format" field of the file; bump it on an incompatible change.
const keyringFormat = 1

// maxKeyIDLen bounds key ids: they are written into every sealed value, so they must stay short,
// and the sealed encoding stores their length in one byte.
const maxKeyIDLen = 32

// Key is one secret of the keyring.
type Key struct {
	ID      string
	Secret  []byte
	Created time.Time
}

// Keyring holds the HMAC keys (pseudonyms) and AEAD keys (field encryption), each kind with one
// active key used for new values; the others stay to read values written before a rotation.
// A Keyring is not safe for concurrent mutation; a Protector built from it copies what it needs.
type Keyring struct {
	hmacKeys   []Key
	aeadKeys   []Key
	activeHMAC string
	activeAEAD string
}

// keyringFile is the JSON form of the keyring; see docs/field-protection.md.
type keyringFile struct {
	Format     int       `json:"format"`
	ActiveHMAC string    `json:"active_hmac"`
	ActiveAEAD string    `json:"active_aead"`
	HMACKeys   []keyJSON `json:"hmac_keys"`
	AEADKeys   []keyJSON `json:"aead_keys"`
}

type keyJSON struct {
	ID      string    `json:"id"`
	Key     keyBytes  `json:"key"`
	Created time.Time `json:"created"`
}

// keyBytes is key material in standard base64. It decodes itself rather than relying on
// encoding/json's []byte handling so that a bad key gets the same clear error, which never
// quotes the value, whatever the Go release's JSON errors say.
type keyBytes []byte

var (
	errKeyNotString = errors.New("a key is not a JSON string")
	errKeyNotBase64 = errors.New("a key is not valid base64")
)

// MarshalJSON writes the key as a standard base64 string.
func (k keyBytes) MarshalJSON() ([]byte, error) {
	return json.Marshal(base64.StdEncoding.EncodeToString(k))
}

// UnmarshalJSON reads a standard base64 string.
func (k *keyBytes) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return errKeyNotString
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return errKeyNotBase64
	}
	*k = b
	return nil
}

// GenerateKeyring returns a new keyring with one random HMAC key ("h1") and one random AEAD
// key ("a1"), both active.
func GenerateKeyring() (*Keyring, error) {
	k := &Keyring{}
	if err := k.Rotate(); err != nil {
		return nil, err
	}
	return k, nil
}

// Rotate adds a new random HMAC key and a new random AEAD key and makes them active. Old keys
// stay, so values written under them remain readable. Pseudonyms change with the HMAC key (see
// RotateAEAD to rotate the encryption key alone, and docs/field-protection.md).
func (k *Keyring) Rotate() error {
	if err := k.RotateHMAC(); err != nil {
		return err
	}
	return k.RotateAEAD()
}

// RotateHMAC adds a new random HMAC key and makes it active. Pseudonyms made after it differ
// from those made before (their key-id prefix tells them apart), so joins on user_pseudonym
// across the rotation no longer match.
func (k *Keyring) RotateHMAC() error {
	h, err := newKey(nextID("h", k.hmacKeys), time.Now().UTC().Truncate(time.Second))
	if err != nil {
		return err
	}
	k.hmacKeys = append(k.hmacKeys, h)
	k.activeHMAC = h.ID
	return nil
}

// RotateAEAD adds a new random AES-256 key and makes it active for new values; values sealed
// under older keys stay readable.
func (k *Keyring) RotateAEAD() error {
	a, err := newKey(nextID("a", k.aeadKeys), time.Now().UTC().Truncate(time.Second))
	if err != nil {
		return err
	}
	k.aeadKeys = append(k.aeadKeys, a)
	k.activeAEAD = a.ID
	return nil
}

// ActiveHMACKeyID is the id of the key that makes new pseudonyms.
func (k *Keyring) ActiveHMACKeyID() string { return k.activeHMAC }

// ActiveAEADKeyID is the id of the key that seals new values.
func (k *Keyring) ActiveAEADKeyID() string { return k.activeAEAD }

// HMACKeyIDs lists the ids of every HMAC key, oldest first.
func (k *Keyring) HMACKeyIDs() []string { return ids(k.hmacKeys) }

// AEADKeyIDs lists the ids of every AEAD key, oldest first.
func (k *Keyring) AEADKeyIDs() []string { return ids(k.aeadKeys) }

func ids(keys []Key) []string {
	out := make([]string, len(keys))
	for i, key := range keys {
		out[i] = key.ID
	}
	return out
}

func newKey(id string, created time.Time) (Key, error) {
	secret := make([]byte, KeySize)
	if _, err := rand.Read(secret); err != nil {
		return Key{}, fmt.Errorf("generate key %s: %w", id, err)
	}
	return Key{ID: id, Secret: secret, Created: created}, nil
}

// nextID returns prefix followed by one more than the largest number among the ids of that
// prefix, so ids never repeat within a keyring even if keys were removed by hand.
func nextID(prefix string, keys []Key) string {
	highest := 0
	for _, key := range keys {
		if n, err := strconv.Atoi(strings.TrimPrefix(key.ID, prefix)); err == nil && strings.HasPrefix(key.ID, prefix) && n > highest {
			highest = n
		}
	}
	return prefix + strconv.Itoa(highest+1)
}

// LoadKeyring reads and validates a keyring file. Every error wraps ErrKeyring.
func LoadKeyring(path string) (*Keyring, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: file %s does not exist (create one with 'logetl keys generate')", ErrKeyring, path)
		}
		return nil, fmt.Errorf("%w: read %s: %w", ErrKeyring, path, err)
	}
	if info, err := os.Stat(path); err == nil && info.Mode().Perm()&0o077 != 0 {
		slog.Warn("keyring file is readable by group or others; chmod 600 it", "path", path, "mode", info.Mode().Perm().String())
	}
	k, err := parseKeyring(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrKeyring, path, err)
	}
	return k, nil
}

// parseKeyring decodes and validates the JSON form. Its errors never quote key material.
func parseKeyring(data []byte) (*Keyring, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f keyringFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("bad JSON: %w", sanitizeJSONError(err))
	}
	if dec.More() {
		return nil, errors.New("bad JSON: trailing data after the keyring object")
	}
	if f.Format != keyringFormat {
		return nil, fmt.Errorf("unsupported format %d (this logetl reads format %d)", f.Format, keyringFormat)
	}
	hmacKeys, err := validKeys("hmac_keys", f.HMACKeys, f.ActiveHMAC)
	if err != nil {
		return nil, err
	}
	aeadKeys, err := validKeys("aead_keys", f.AEADKeys, f.ActiveAEAD)
	if err != nil {
		return nil, err
	}
	return &Keyring{hmacKeys: hmacKeys, aeadKeys: aeadKeys, activeHMAC: f.ActiveHMAC, activeAEAD: f.ActiveAEAD}, nil
}

// sanitizeJSONError keeps the JSON error's position and kind but not the offending value, which
// may be (part of) a key.
func sanitizeJSONError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, errKeyNotBase64):
		return errKeyNotBase64
	case errors.Is(err, errKeyNotString):
		return errKeyNotString
	case errors.As(err, &syntax):
		return fmt.Errorf("syntax error at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Errorf("field %q: expected %s", typ.Field, typ.Type)
	default:
		return err
	}
}

func validKeys(kind string, in []keyJSON, active string) ([]Key, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("%s: no keys", kind)
	}
	seen := make(map[string]bool, len(in))
	out := make([]Key, 0, len(in))
	for i, kj := range in {
		if err := validKeyID(kj.ID); err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", kind, i, err)
		}
		if seen[kj.ID] {
			return nil, fmt.Errorf("%s: duplicate key id %q", kind, kj.ID)
		}
		seen[kj.ID] = true
		if len(kj.Key) != KeySize {
			return nil, fmt.Errorf("%s: key %q is %d bytes, want %d", kind, kj.ID, len(kj.Key), KeySize)
		}
		out = append(out, Key{ID: kj.ID, Secret: kj.Key, Created: kj.Created})
	}
	if active == "" {
		return nil, fmt.Errorf("%s: no active key", kind)
	}
	if !seen[active] {
		return nil, fmt.Errorf("%s: active key %q is not in the keyring", kind, active)
	}
	return out, nil
}

// validKeyID accepts short ids of letters, digits, '-' and '_': they are embedded in sealed
// values and in pseudonyms before a ':' separator.
func validKeyID(id string) error {
	if id == "" {
		return errors.New("empty key id")
	}
	if len(id) > maxKeyIDLen {
		return fmt.Errorf("key id %q longer than %d bytes", id, maxKeyIDLen)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("key id %q: only letters, digits, '-' and '_' are allowed", id)
		}
	}
	return nil
}

// SaveNew is Save that refuses to replace an existing file: the error then wraps fs.ErrExist.
// The check and the creation are one atomic step (a hard link), so two concurrent generators
// cannot both win.
func (k *Keyring) SaveNew(path string) error {
	return k.save(path, false)
}

// Save writes the keyring to path atomically (temporary file in the same folder, fsync, rename)
// with mode 0600, creating the folder (0700) if needed. A reader never sees a partial keyring.
func (k *Keyring) Save(path string) error {
	return k.save(path, true)
}

func (k *Keyring) save(path string, replace bool) error {
	f := keyringFile{Format: keyringFormat, ActiveHMAC: k.activeHMAC, ActiveAEAD: k.activeAEAD}
	for _, key := range k.hmacKeys {
		f.HMACKeys = append(f.HMACKeys, keyJSON{ID: key.ID, Key: key.Secret, Created: key.Created})
	}
	for _, key := range k.aeadKeys {
		f.AEADKeys = append(f.AEADKeys, keyJSON{ID: key.ID, Key: key.Secret, Created: key.Created})
	}
	// Validate what we write with the same rules as what we read, so Save never produces a file
	// that LoadKeyring rejects.
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode keyring: %w", err)
	}
	data = append(data, '\n')
	if _, err := parseKeyring(data); err != nil {
		return fmt.Errorf("%w: refusing to save an invalid keyring: %w", ErrKeyring, err)
	}

	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create keyring folder %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, ".keyring-*.tmp") // CreateTemp opens with mode 0600
	if err != nil {
		return fmt.Errorf("save keyring %s: %w", path, err)
	}
	tmpName := tmp.Name()
	committed := false
	defer func() {
		if !committed {
			_ = tmp.Close()
			_ = os.Remove(tmpName)
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("save keyring %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("save keyring %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("save keyring %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save keyring %s: %w", path, err)
	}
	if replace {
		if err := os.Rename(tmpName, path); err != nil {
			return fmt.Errorf("save keyring %s: %w", path, err)
		}
	} else {
		// Link fails if path exists; the temporary name is removed either way.
		err := os.Link(tmpName, path)
		_ = os.Remove(tmpName)
		if err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("save keyring %s: %w", path, fs.ErrExist)
			}
			return fmt.Errorf("save keyring %s: %w", path, err)
		}
	}
	committed = true
	// The rename is durable only once the folder entry is on disk.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
