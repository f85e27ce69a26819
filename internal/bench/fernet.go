//go:build ignore

package bench

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"time"
)

// Fernet is the symmetric token format of the service logetl replaces (Python's
// cryptography.fernet), implemented here from its specification so that the benchmark can
// reproduce the old output byte for byte in size:
//
//	token = base64url(0x80 | timestamp (8, big-endian seconds) | IV (16) | AES-128-CBC(PKCS#7) | HMAC-SHA256 (32))
//
// The 32-byte key is the 16-byte signing key followed by the 16-byte encryption key; the HMAC
// covers everything before it. Tokens are padded base64url, as Python writes them.
type Fernet struct {
	block cipher.Block
	mac   hash.Hash // keyed with the signing key; Fernet is not safe for concurrent use
	buf   []byte
}

const (
	fernetVersion   = 0x80
	fernetHeaderLen = 1 + 8 + aes.BlockSize
)

// ErrFernetToken marks a token that does not decode, authenticate or decrypt.
var ErrFernetToken = errors.New("invalid Fernet token")

// NewFernet builds a Fernet from a 32-byte key.
func NewFernet(key []byte) (*Fernet, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("fernet key is %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key[16:])
	if err != nil {
		return nil, fmt.Errorf("fernet key: %w", err)
	}
	return &Fernet{block: block, mac: hmac.New(sha256.New, append([]byte(nil), key[:16]...))}, nil
}

// NewFernetFromString builds a Fernet from the base64url key form that Fernet.generate_key
// prints.
func NewFernetFromString(key string) (*Fernet, error) {
	raw, err := base64.URLEncoding.DecodeString(key)
	if err != nil {
		return nil, fmt.Errorf("fernet key: %w", err)
	}
	return NewFernet(raw)
}

func fillRandom(b []byte) { _, _ = rand.Read(b) } // never fails on supported platforms

// Encrypt returns the token of plaintext stamped with now and a random IV.
func (f *Fernet) Encrypt(plaintext []byte, now time.Time) []byte {
	var iv [aes.BlockSize]byte
	fillRandom(iv[:])
	return f.AppendToken(nil, plaintext, now, iv)
}

// AppendToken appends the token of plaintext with the given time stamp and IV to dst. Tests
// use a fixed IV to check the specification's vectors; everything else uses Encrypt.
func (f *Fernet) AppendToken(dst, plaintext []byte, now time.Time, iv [aes.BlockSize]byte) []byte {
	pad := aes.BlockSize - len(plaintext)%aes.BlockSize
	n := fernetHeaderLen + len(plaintext) + pad + sha256.Size
	raw := f.buf[:0]
	if cap(raw) < n {
		raw = make([]byte, 0, n)
	}
	raw = append(raw, fernetVersion)
	raw = binary.BigEndian.AppendUint64(raw, uint64(now.Unix()))
	raw = append(raw, iv[:]...)
	body := len(raw)
	raw = append(raw, plaintext...)
	for i := 0; i < pad; i++ {
		raw = append(raw, byte(pad))
	}
	cipher.NewCBCEncrypter(f.block, iv[:]).CryptBlocks(raw[body:], raw[body:])
	f.mac.Reset()
	f.mac.Write(raw)
	raw = f.mac.Sum(raw)
	f.buf = raw
	return base64.URLEncoding.AppendEncode(dst, raw)
}

// Decrypt authenticates and decrypts a token, returning its plaintext and time stamp. It does
// not check the token's age (the benchmark only needs round trips).
func (f *Fernet) Decrypt(token []byte) ([]byte, time.Time, error) {
	raw := make([]byte, base64.URLEncoding.DecodedLen(len(token)))
	n, err := base64.URLEncoding.Decode(raw, token)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("%w: %v", ErrFernetToken, err)
	}
	raw = raw[:n]
	if len(raw) < fernetHeaderLen+aes.BlockSize+sha256.Size || raw[0] != fernetVersion ||
		(len(raw)-fernetHeaderLen-sha256.Size)%aes.BlockSize != 0 {
		return nil, time.Time{}, fmt.Errorf("%w: malformed", ErrFernetToken)
	}
	signed, sum := raw[:len(raw)-sha256.Size], raw[len(raw)-sha256.Size:]
	f.mac.Reset()
	f.mac.Write(signed)
	if subtle.ConstantTimeCompare(f.mac.Sum(nil), sum) != 1 {
		return nil, time.Time{}, fmt.Errorf("%w: bad signature", ErrFernetToken)
	}
	stamp := time.Unix(int64(binary.BigEndian.Uint64(raw[1:9])), 0).UTC()
	body := append([]byte(nil), signed[fernetHeaderLen:]...)
	cipher.NewCBCDecrypter(f.block, raw[9:fernetHeaderLen]).CryptBlocks(body, body)
	pad := int(body[len(body)-1])
	if pad == 0 || pad > aes.BlockSize {
		return nil, time.Time{}, fmt.Errorf("%w: bad padding", ErrFernetToken)
	}
	for _, b := range body[len(body)-pad:] {
		if int(b) != pad {
			return nil, time.Time{}, fmt.Errorf("%w: bad padding", ErrFernetToken)
		}
	}
	return body[:len(body)-pad], stamp, nil
}
