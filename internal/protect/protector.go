package protect

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"maps"
	"sync"
	"sync/atomic"
)

// ErrCiphertext marks a sealed value that cannot be opened with a known key: truncated,
// corrupted, tampered with, of an unknown format version, or sealed for another field.
var ErrCiphertext = errors.New("ciphertext")

// Sealed value layout (see docs/field-protection.md):
//
//	version(1) | len(key id)(1) | key id | nonce(12) | AES-256-GCM ciphertext and 16-byte tag
//
// The additional authenticated data is the header (version, key id length, key id) followed by
// the field name, so a value cannot be moved to another column or relabelled with another key
// id without failing authentication.
const (
	sealVersion = 1
	nonceSize   = 12
	tagSize     = 16
)

// pseudonymSize is how many bytes of the HMAC-SHA256 output a pseudonym keeps: 128 bits make a
// collision among even billions of users negligible while keeping the column small.
const pseudonymSize = 16

// pseudonymPrefix and pseudonymSuffix frame a pseudonym's domain in the HMAC input, so that
// values of different domains (user ids, account numbers) never share a pseudonym and this use
// of the HMAC key is separated from any future one. The user_id domain's input is exactly the
// one of the files written before table specs ("logetl/user_id/v1\x00" then the id as 8 bytes
// big-endian), so its pseudonyms did not change.
const (
	pseudonymPrefix = "logetl/"
	pseudonymSuffix = "/v1\x00"
)

// Protector pseudonymizes and seals with the keyring's active keys and opens values sealed
// under any key of the keyring. It is safe for concurrent use.
type Protector struct {
	hmacID   string
	hmacPool sync.Pool // of *macState keyed with the active HMAC key; hmac hashes are stateful
	aeadID   string
	aeads    map[string]cipher.AEAD // by key id; GCM instances are safe for concurrent use
	active   cipher.AEAD
	header   []byte // version, key id length, key id of the active AEAD key

	// ads holds the active key's additional data per field name, copied on write: sealing
	// is called per value, and building the additional data each time allocated (the AEAD
	// interface makes any buffer escape) once per sealed value.
	adsMu sync.Mutex
	ads   atomic.Pointer[map[string][]byte]
}

// activeAD is additionalData(p.header, field), built once per field.
func (p *Protector) activeAD(field string) []byte {
	if m := p.ads.Load(); m != nil {
		if ad, ok := (*m)[field]; ok {
			return ad
		}
	}
	p.adsMu.Lock()
	defer p.adsMu.Unlock()
	old := p.ads.Load()
	next := make(map[string][]byte, 8)
	if old != nil {
		if ad, ok := (*old)[field]; ok {
			return ad
		}
		maps.Copy(next, *old)
	}
	ad := additionalData(p.header, field)
	next[field] = ad
	p.ads.Store(&next)
	return ad
}

// NewProtector builds a Protector from the keyring's keys. The keyring may be changed or
// discarded afterwards. Errors wrap ErrKeyring.
func NewProtector(k *Keyring) (*Protector, error) {
	if k == nil {
		return nil, fmt.Errorf("%w: no keyring", ErrKeyring)
	}
	p := &Protector{hmacID: k.activeHMAC, aeadID: k.activeAEAD, aeads: make(map[string]cipher.AEAD, len(k.aeadKeys))}
	var hmacSecret []byte
	for _, key := range k.hmacKeys {
		if key.ID == k.activeHMAC {
			hmacSecret = append([]byte(nil), key.Secret...)
		}
	}
	if len(hmacSecret) != KeySize {
		return nil, fmt.Errorf("%w: active HMAC key %q missing or not %d bytes", ErrKeyring, k.activeHMAC, KeySize)
	}
	p.hmacPool.New = func() any {
		return &macState{h: hmac.New(sha256.New, hmacSecret), msg: make([]byte, 0, 64)}
	}
	for _, key := range k.aeadKeys {
		if err := validKeyID(key.ID); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrKeyring, err)
		}
		if len(key.Secret) != KeySize {
			return nil, fmt.Errorf("%w: AEAD key %q is %d bytes, want %d", ErrKeyring, key.ID, len(key.Secret), KeySize)
		}
		block, err := aes.NewCipher(key.Secret)
		if err != nil {
			return nil, fmt.Errorf("%w: AEAD key %q: %w", ErrKeyring, key.ID, err)
		}
		gcm, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("%w: AEAD key %q: %w", ErrKeyring, key.ID, err)
		}
		p.aeads[key.ID] = gcm
	}
	p.active = p.aeads[k.activeAEAD]
	if p.active == nil {
		return nil, fmt.Errorf("%w: active AEAD key %q is not in the keyring", ErrKeyring, k.activeAEAD)
	}
	p.header = append([]byte{sealVersion, byte(len(p.aeadID))}, p.aeadID...)
	return p, nil
}

// HMACKeyID is the id of the key behind Pseudonym's values.
func (p *Protector) HMACKeyID() string { return p.hmacID }

// AEADKeyID is the id of the key Seal uses.
func (p *Protector) AEADKeyID() string { return p.aeadID }

// Pseudonym returns the keyed pseudonym of value in domain: "<hmac key id>:" followed by the
// unpadded base64url form of the first 16 bytes of HMAC-SHA256(key, "logetl/" + domain +
// "/v1\x00" + value). The same value, domain and key always give the same pseudonym; without the
// key it can be neither reversed nor recomputed, even for small, guessable values such as ids.
// Integers are pseudonymized as 8 bytes big-endian (PseudonymUint64), strings as their bytes.
func (p *Protector) Pseudonym(domain string, value []byte) string {
	var buf [64]byte
	return string(p.AppendPseudonym(buf[:0], domain, value))
}

// AppendPseudonym is Pseudonym appending to dst: with room for PseudonymSize() bytes it does
// not allocate.
func (p *Protector) AppendPseudonym(dst []byte, domain string, value []byte) []byte {
	st := p.hmacPool.Get().(*macState)
	st.h.Reset()
	st.msg = append(append(append(append(st.msg[:0], pseudonymPrefix...), domain...), pseudonymSuffix...), value...)
	st.h.Write(st.msg)
	mac := st.h.Sum(st.sum[:0])
	dst = append(append(dst, p.hmacID...), ':')
	dst = base64.RawURLEncoding.AppendEncode(dst, mac[:pseudonymSize])
	p.hmacPool.Put(st)
	return dst
}

// PseudonymSize is the length of Pseudonym's values under the active key.
func (p *Protector) PseudonymSize() int {
	return len(p.hmacID) + 1 + base64.RawURLEncoding.EncodedLen(pseudonymSize)
}

// PseudonymUint64 is the pseudonym of an integer (signed integers as their two's complement).
func (p *Protector) PseudonymUint64(domain string, v uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return p.Pseudonym(domain, b[:])
}

// macState is a pooled HMAC with its input and output buffers, so Pseudonym allocates only its
// result.
type macState struct {
	h   hash.Hash
	msg []byte
	sum [sha256.Size]byte
}

// Field-encryption modes: how Seal is applied to a file's values (docs/field-protection.md).
const (
	// PerValue seals every value with a fresh nonce: no two ciphertexts are alike.
	PerValue = "per-value"
	// PerRowGroup seals each distinct value once per Parquet row group (SealCache), so the
	// column's dictionary stores it once; equal values are linkable inside one row group only.
	PerRowGroup = "per-rowgroup"
)

// Modes lists the field-encryption modes.
var Modes = []string{PerValue, PerRowGroup}

// SealedSize is the length of Seal's output for a plaintext of n bytes under the active key.
func (p *Protector) SealedSize(n int) int { return len(p.header) + nonceSize + n + tagSize }

// AppendSeal is Seal appending to dst: with room for SealedSize(len(plaintext)) bytes it does
// not allocate.
func (p *Protector) AppendSeal(dst []byte, field string, plaintext []byte) []byte {
	start := len(dst)
	dst = append(dst, p.header...)
	var nonce [nonceSize]byte
	// crypto/rand.Read never fails on supported platforms (Go 1.24+ aborts the program instead).
	_, _ = rand.Read(nonce[:])
	dst = append(dst, nonce[:]...)
	return p.active.Seal(dst, dst[start+len(p.header):], plaintext, p.activeAD(field))
}

// Seal encrypts plaintext for the named field (e.g. "client_ip") with AES-256-GCM under the
// active key and a fresh random nonce. The result carries the key id, so Open finds the key
// after any number of rotations. Sealing the same value twice gives unrelated ciphertexts.
func (p *Protector) Seal(field string, plaintext []byte) []byte {
	return p.AppendSeal(make([]byte, 0, p.SealedSize(len(plaintext))), field, plaintext)
}

// additionalData binds the value to its header and field name.
func additionalData(header []byte, field string) []byte {
	ad := make([]byte, 0, len(header)+len(field))
	ad = append(ad, header...)
	return append(ad, field...)
}

// Open decrypts a value that Seal produced for the same field under any key of the keyring.
// A value under a key id the keyring lacks gives an error wrapping ErrKeyring; a truncated,
// tampered or misfiled value gives one wrapping ErrCiphertext. Errors never include the value.
func (p *Protector) Open(field string, sealed []byte) ([]byte, error) {
	keyID, headerLen, err := ParseSealed(sealed)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", field, err)
	}
	aead, ok := p.aeads[keyID]
	if !ok {
		return nil, fmt.Errorf("open %s: %w: value sealed under key id %q, which the keyring does not hold", field, ErrKeyring, keyID)
	}
	nonce := sealed[headerLen : headerLen+nonceSize]
	plain, err := aead.Open(nil, nonce, sealed[headerLen+nonceSize:], additionalData(sealed[:headerLen], field))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w: authentication failed (tampered, corrupted, or sealed for another field)", field, ErrCiphertext)
	}
	return plain, nil
}

// ParseSealed reads the header of a sealed value: the key id it was sealed under and the header
// length. It does not authenticate anything. Errors wrap ErrCiphertext.
func ParseSealed(sealed []byte) (keyID string, headerLen int, err error) {
	if len(sealed) < 2 {
		return "", 0, fmt.Errorf("%w: %d bytes is too short", ErrCiphertext, len(sealed))
	}
	if sealed[0] != sealVersion {
		return "", 0, fmt.Errorf("%w: unknown format version %d", ErrCiphertext, sealed[0])
	}
	headerLen = 2 + int(sealed[1])
	if len(sealed) < headerLen+nonceSize+tagSize {
		return "", 0, fmt.Errorf("%w: %d bytes is too short", ErrCiphertext, len(sealed))
	}
	return string(sealed[2:headerLen]), headerLen, nil
}

// SealCache seals each distinct value of a field once and hands back the same ciphertext for
// repeats, until Reset. The writer resets it at every row-group boundary, so identical values
// share one ciphertext only within one row group: Parquet's dictionary then stores it once.
// Each distinct value still gets a fresh random nonce, so nothing links row groups or files.
// See docs/field-protection.md for what this reveals. A SealCache is not safe for concurrent
// use; give each writer its own.
type SealCache struct {
	p      *Protector
	fields map[string]map[string][]byte
}

// NewSealCache returns an empty cache over the Protector's active key.
func (p *Protector) NewSealCache() *SealCache {
	return &SealCache{p: p, fields: make(map[string]map[string][]byte, 4)}
}

// Seal returns the ciphertext of plaintext for field, sealing it only if this cache has not
// seen the pair since the last Reset. Callers must not modify the returned slice.
func (c *SealCache) Seal(field string, plaintext []byte) []byte {
	values, ok := c.fields[field]
	if !ok {
		values = make(map[string][]byte)
		c.fields[field] = values
	}
	if sealed, ok := values[string(plaintext)]; ok {
		return sealed
	}
	sealed := c.p.Seal(field, plaintext)
	values[string(plaintext)] = sealed
	return sealed
}

// Len is the number of distinct values cached since the last Reset.
func (c *SealCache) Len() int {
	n := 0
	for _, values := range c.fields {
		n += len(values)
	}
	return n
}

// Reset forgets every cached value, so later repeats get new ciphertexts; it bounds the cache's
// memory to one row group's distinct values.
func (c *SealCache) Reset() {
	for field := range c.fields {
		clear(c.fields[field])
	}
}
