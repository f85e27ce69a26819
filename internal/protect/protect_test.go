package protect

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func newTestProtector(t testing.TB) (*Protector, *Keyring) {
	t.Helper()
	k, err := GenerateKeyring()
	if err != nil {
		t.Fatalf("GenerateKeyring: %v", err)
	}
	p, err := NewProtector(k)
	if err != nil {
		t.Fatalf("NewProtector: %v", err)
	}
	return p, k
}

func TestSealOpenRoundTripsEveryField(t *testing.T) {
	p, _ := newTestProtector(t)
	tests := []struct {
		field string
		value string
	}{
		{"client_ip", "203.0.113.7"},
		{"client_ip", "2001:db8::1"},
		{"user_agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"},
		{"email", "attempted@example.org"},
		{"email", ""},
		{"user_agent", "비밀 에이전트 ☃"},
	}
	for _, tt := range tests {
		t.Run(tt.field+"/"+tt.value, func(t *testing.T) {
			sealed := p.Seal(tt.field, []byte(tt.value))
			if tt.value != "" && bytes.Contains(sealed, []byte(tt.value)) {
				t.Fatalf("sealed value contains the plaintext")
			}
			if want := 2 + len(p.AEADKeyID()) + nonceSize + len(tt.value) + tagSize; len(sealed) != want {
				t.Errorf("sealed length %d, want %d (compact layout)", len(sealed), want)
			}
			got, err := p.Open(tt.field, sealed)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if string(got) != tt.value {
				t.Fatalf("Open = %q, want %q", got, tt.value)
			}
		})
	}
}

func TestSealUsesAFreshNonceEveryTime(t *testing.T) {
	p, _ := newTestProtector(t)
	a := p.Seal("client_ip", []byte("198.51.100.1"))
	b := p.Seal("client_ip", []byte("198.51.100.1"))
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same value are identical; nonce reused")
	}
}

func TestOpenRejectsBadValues(t *testing.T) {
	p, k := newTestProtector(t)
	sealed := p.Seal("client_ip", []byte("192.0.2.44"))
	flip := func(i int) []byte {
		c := bytes.Clone(sealed)
		c[i] ^= 0x01
		return c
	}
	headerLen := 2 + len(k.ActiveAEADKeyID())
	// A keyring that never held the key id that sealed the value.
	other, err := GenerateKeyring()
	if err != nil {
		t.Fatal(err)
	}
	other.aeadKeys[0].ID, other.activeAEAD = "a9", "a9"
	otherP, err := NewProtector(other)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		p      *Protector
		field  string
		sealed []byte
		want   error
	}{
		{"flipped ciphertext byte", p, "client_ip", flip(len(sealed) - tagSize - 1), ErrCiphertext},
		{"flipped tag byte", p, "client_ip", flip(len(sealed) - 1), ErrCiphertext},
		{"flipped nonce byte", p, "client_ip", flip(headerLen), ErrCiphertext},
		{"truncated", p, "client_ip", sealed[:len(sealed)-1], ErrCiphertext},
		{"too short for a header", p, "client_ip", sealed[:1], ErrCiphertext},
		{"empty", p, "client_ip", nil, ErrCiphertext},
		{"unknown version", p, "client_ip", append([]byte{9}, sealed[1:]...), ErrCiphertext},
		{"other field (AAD)", p, "user_agent", sealed, ErrCiphertext},
		{"unknown key id", otherP, "client_ip", sealed, ErrKeyring},
		{"same key id, other key", func() *Protector {
			o, _ := GenerateKeyring() // ids h1/a1 like p's keyring, different secrets
			op, _ := NewProtector(o)
			return op
		}(), "client_ip", sealed, ErrCiphertext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.p.Open(tt.field, tt.sealed)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open error = %v, want one wrapping %v", err, tt.want)
			}
			if got != nil {
				t.Fatalf("Open returned plaintext %q with an error", got)
			}
			if strings.Contains(err.Error(), "192.0.2.44") {
				t.Fatalf("error leaks the plaintext: %v", err)
			}
		})
	}
}

func TestKeyIDRelabelFailsAuthentication(t *testing.T) {
	// Rotate so the keyring holds a1 and a2; relabel an a2 value as a1 (same length): the key
	// id is authenticated, so this must fail as ciphertext, not decrypt under the wrong key.
	p, k := newTestProtector(t)
	_ = p
	if err := k.Rotate(); err != nil {
		t.Fatal(err)
	}
	p2, err := NewProtector(k)
	if err != nil {
		t.Fatal(err)
	}
	sealed := p2.Seal("email", []byte("x@example.com"))
	if id, _, _ := ParseSealed(sealed); id != "a2" {
		t.Fatalf("sealed under %q, want a2", id)
	}
	relabelled := bytes.Clone(sealed)
	relabelled[3] = '1'
	if _, err := p2.Open("email", relabelled); !errors.Is(err, ErrCiphertext) {
		t.Fatalf("Open relabelled = %v, want ErrCiphertext", err)
	}
}

func TestPseudonymsAreStableUnderOneKeyAndDifferUnderAnother(t *testing.T) {
	p1, k := newTestProtector(t)
	p1again, err := NewProtector(k)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "keyring.json")
	if err := k.Save(path); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	p1loaded, err := NewProtector(loaded)
	if err != nil {
		t.Fatal(err)
	}
	pOther, _ := newTestProtector(t)

	seen := map[string]uint64{}
	for _, id := range []uint64{0, 1, 2, 42, 1 << 40, ^uint64(0)} {
		a := p1.PseudonymUint64("user_id", id)
		if b := p1again.PseudonymUint64("user_id", id); a != b {
			t.Errorf("Pseudonym(%d) differs across Protectors of one keyring: %q vs %q", id, a, b)
		}
		if b := p1loaded.PseudonymUint64("user_id", id); a != b {
			t.Errorf("Pseudonym(%d) differs after Save/Load: %q vs %q", id, a, b)
		}
		if b := pOther.PseudonymUint64("user_id", id); a[3:] == b[3:] {
			t.Errorf("Pseudonym(%d) is the same under another key: %q", id, a)
		}
		if !strings.HasPrefix(a, "h1:") || len(a) != len("h1:")+22 {
			t.Errorf("Pseudonym(%d) = %q, want h1: and 22 base64url characters", id, a)
		}
		if prev, dup := seen[a]; dup {
			t.Errorf("Pseudonym(%d) == Pseudonym(%d)", id, prev)
		}
		seen[a] = id
	}
}

func TestRotationKeepsOldValuesReadable(t *testing.T) {
	p1, k := newTestProtector(t)
	oldSealed := p1.Seal("user_agent", []byte("curl/8.5.0"))
	oldPseudonym := p1.PseudonymUint64("user_id", 7)
	path := filepath.Join(t.TempDir(), "keyring.json")
	if err := k.Save(path); err != nil {
		t.Fatal(err)
	}

	k2, err := LoadKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := k2.Rotate(); err != nil {
		t.Fatal(err)
	}
	if err := k2.Save(path); err != nil {
		t.Fatal(err)
	}
	k3, err := LoadKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	if k3.ActiveAEADKeyID() != "a2" || k3.ActiveHMACKeyID() != "h2" {
		t.Fatalf("after rotate active = %s/%s, want h2/a2", k3.ActiveHMACKeyID(), k3.ActiveAEADKeyID())
	}
	if got := strings.Join(k3.AEADKeyIDs(), ","); got != "a1,a2" {
		t.Fatalf("AEAD key ids = %s, want a1,a2", got)
	}
	p3, err := NewProtector(k3)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p3.Open("user_agent", oldSealed)
	if err != nil || string(got) != "curl/8.5.0" {
		t.Fatalf("Open of a value sealed before rotation = %q, %v", got, err)
	}
	newSealed := p3.Seal("user_agent", []byte("curl/8.5.0"))
	if id, _, _ := ParseSealed(newSealed); id != "a2" {
		t.Fatalf("new value sealed under %q, want a2", id)
	}
	if _, err := p1.Open("user_agent", newSealed); !errors.Is(err, ErrKeyring) {
		t.Fatalf("old keyring opening a value of the new key: %v, want ErrKeyring", err)
	}
	if np := p3.PseudonymUint64("user_id", 7); np == oldPseudonym || !strings.HasPrefix(np, "h2:") {
		t.Fatalf("pseudonym after rotation = %q (before %q), want a new h2: value", np, oldPseudonym)
	}
}

func TestSaveWritesAPrivateFileAtomically(t *testing.T) {
	_, k := newTestProtector(t)
	dir := filepath.Join(t.TempDir(), "nested", "state")
	path := filepath.Join(dir, "keyring.json")
	if err := k.Save(path); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Fatalf("keyring mode %v, want 0600", perm)
	}
	// Overwrite an existing, too-open file: the result is 0600 again, no temp files stay behind.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := k.Save(path); err != nil {
		t.Fatal(err)
	}
	info, _ = os.Stat(path)
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Fatalf("keyring mode after overwrite %v, want 0600", perm)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("folder holds %d entries, want only keyring.json", len(entries))
	}
	if err := (&Keyring{}).Save(filepath.Join(dir, "empty.json")); !errors.Is(err, ErrKeyring) {
		t.Fatalf("saving an empty keyring: %v, want ErrKeyring", err)
	}
}

func TestLoadKeyringRejectsBadFiles(t *testing.T) {
	_, k := newTestProtector(t)
	good := filepath.Join(t.TempDir(), "good.json")
	if err := k.Save(good); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(m map[string]any)) string {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		out, _ := json.Marshal(m)
		return string(out)
	}
	firstKey := func(m map[string]any, kind string) map[string]any {
		return m[kind].([]any)[0].(map[string]any)
	}
	secret := firstKey(func() map[string]any { var m map[string]any; _ = json.Unmarshal(raw, &m); return m }(), "aead_keys")["key"].(string)
	tests := []struct {
		name    string
		content *string // nil: no file at all
		wantMsg string
	}{
		{"missing file", nil, "does not exist"},
		{"empty file", ptr(""), "bad JSON"},
		{"not JSON", ptr("hello"), "bad JSON"},
		{"truncated JSON", ptr(string(raw[:len(raw)/2])), "bad JSON"},
		{"trailing data", ptr(string(raw) + "{}"), "trailing data"},
		{"unknown field", ptr(edit(func(m map[string]any) { m["actve_hmac"] = "h1" })), "bad JSON"},
		{"wrong format", ptr(edit(func(m map[string]any) { m["format"] = 2 })), "unsupported format"},
		{"short AEAD key", ptr(edit(func(m map[string]any) { firstKey(m, "aead_keys")["key"] = "AAAA" })), "is 3 bytes, want 32"},
		{"short HMAC key", ptr(edit(func(m map[string]any) { firstKey(m, "hmac_keys")["key"] = "AAAAAAAA" })), "is 6 bytes, want 32"},
		{"key not base64", ptr(edit(func(m map[string]any) { firstKey(m, "aead_keys")["key"] = "not base64!" + secret[11:] })), "not valid base64"},
		{"key not a string", ptr(edit(func(m map[string]any) { firstKey(m, "hmac_keys")["key"] = 12345 })), "not a JSON string"},
		{"no AEAD keys", ptr(edit(func(m map[string]any) { m["aead_keys"] = []any{} })), "aead_keys: no keys"},
		{"no active HMAC key", ptr(edit(func(m map[string]any) { delete(m, "active_hmac") })), "hmac_keys: no active key"},
		{"active key not in keyring", ptr(edit(func(m map[string]any) { m["active_aead"] = "a7" })), `active key "a7" is not in the keyring`},
		{"duplicate id", ptr(edit(func(m map[string]any) {
			keys := m["hmac_keys"].([]any)
			m["hmac_keys"] = append(keys, keys[0])
		})), "duplicate key id"},
		{"bad key id", ptr(edit(func(m map[string]any) {
			firstKey(m, "aead_keys")["id"] = "a:1"
			m["active_aead"] = "a:1"
		})), "only letters, digits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keyring.json")
			if tt.content != nil {
				if err := os.WriteFile(path, []byte(*tt.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := LoadKeyring(path)
			if !errors.Is(err, ErrKeyring) {
				t.Fatalf("LoadKeyring error = %v, want one wrapping ErrKeyring", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("LoadKeyring error = %q, want it to say %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), secret[:16]) {
				t.Fatalf("error leaks key material: %v", err)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestSealCacheSharesCiphertextUntilReset(t *testing.T) {
	p, _ := newTestProtector(t)
	c := p.NewSealCache()
	ua := []byte("Mozilla/5.0 shared")
	a := c.Seal("user_agent", ua)
	b := c.Seal("user_agent", []byte("Mozilla/5.0 shared"))
	if !bytes.Equal(a, b) {
		t.Fatal("SealCache sealed a repeated value twice within one row group")
	}
	if other := c.Seal("client_ip", ua); bytes.Equal(other, a) {
		t.Fatal("SealCache shared a ciphertext across fields")
	}
	if d := c.Seal("user_agent", []byte("Mozilla/5.0 other")); bytes.Equal(d, a) {
		t.Fatal("distinct values share a ciphertext")
	}
	if c.Len() != 3 {
		t.Fatalf("Len = %d, want 3", c.Len())
	}
	c.Reset()
	if c.Len() != 0 {
		t.Fatalf("Len after Reset = %d", c.Len())
	}
	after := c.Seal("user_agent", ua)
	if bytes.Equal(after, a) {
		t.Fatal("SealCache reused a ciphertext across a Reset (row-group boundary)")
	}
	for _, s := range [][]byte{a, after} {
		got, err := p.Open("user_agent", s)
		if err != nil || !bytes.Equal(got, ua) {
			t.Fatalf("Open of cached ciphertext = %q, %v", got, err)
		}
	}
}

func TestProtectorIsSafeForConcurrentUse(t *testing.T) {
	p, _ := newTestProtector(t)
	want := p.PseudonymUint64("user_id", 99)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				if got := p.PseudonymUint64("user_id", 99); got != want {
					errs <- errors.New("pseudonym changed under concurrency: " + got)
					return
				}
				v := []byte{byte(g), byte(i)}
				out, err := p.Open("client_ip", p.Seal("client_ip", v))
				if err != nil || !bytes.Equal(out, v) {
					errs <- errors.New("concurrent seal/open round trip failed")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestNewProtectorRejectsBrokenKeyrings(t *testing.T) {
	if _, err := NewProtector(nil); !errors.Is(err, ErrKeyring) {
		t.Fatalf("nil keyring: %v", err)
	}
	if _, err := NewProtector(&Keyring{}); !errors.Is(err, ErrKeyring) {
		t.Fatalf("empty keyring: %v", err)
	}
}

func FuzzOpen(f *testing.F) {
	k, err := GenerateKeyring()
	if err != nil {
		f.Fatal(err)
	}
	p, err := NewProtector(k)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(p.Seal("client_ip", []byte("10.0.0.1")))
	f.Add([]byte{1, 2, 'a', '1'})
	f.Add([]byte{1, 255})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, sealed []byte) {
		// Arbitrary bytes never panic and never open: forging needs the key.
		plain, err := p.Open("client_ip", sealed)
		if err == nil {
			// Only a genuine Seal output opens; the seed corpus holds one.
			if string(plain) != "10.0.0.1" {
				t.Fatalf("forged value opened to %q", plain)
			}
			return
		}
		if !errors.Is(err, ErrCiphertext) && !errors.Is(err, ErrKeyring) {
			t.Fatalf("Open error %v wraps neither ErrCiphertext nor ErrKeyring", err)
		}
	})
}

func FuzzLoadKeyring(f *testing.F) {
	k, err := GenerateKeyring()
	if err != nil {
		f.Fatal(err)
	}
	dir := f.TempDir()
	good := filepath.Join(dir, "good.json")
	if err := k.Save(good); err != nil {
		f.Fatal(err)
	}
	raw, _ := os.ReadFile(good)
	f.Add(raw)
	f.Add([]byte(`{"format":1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		kr, err := parseKeyring(data)
		if err != nil {
			return
		}
		// Anything accepted must build a working Protector.
		p, err := NewProtector(kr)
		if err != nil {
			t.Fatalf("accepted keyring fails NewProtector: %v", err)
		}
		if _, err := p.Open("f", p.Seal("f", []byte("x"))); err != nil {
			t.Fatalf("accepted keyring cannot round trip: %v", err)
		}
	})
}

func TestSaveNewRefusesToReplaceAKeyring(t *testing.T) {
	_, k := newTestProtector(t)
	path := filepath.Join(t.TempDir(), "keyring.json")
	if err := k.SaveNew(path); err != nil {
		t.Fatalf("SaveNew on a fresh path: %v", err)
	}
	before, _ := os.ReadFile(path)
	other, _ := GenerateKeyring()
	if err := other.SaveNew(path); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("SaveNew over an existing keyring: %v, want fs.ErrExist", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("SaveNew changed an existing keyring")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("%d entries left in the folder, want 1", len(entries))
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", info.Mode().Perm())
	}
}

func TestRotateOneKindKeepsTheOther(t *testing.T) {
	p1, k := newTestProtector(t)
	if err := k.RotateAEAD(); err != nil {
		t.Fatal(err)
	}
	p2, err := NewProtector(k)
	if err != nil {
		t.Fatal(err)
	}
	if p2.PseudonymUint64("user_id", 5) != p1.PseudonymUint64("user_id", 5) {
		t.Fatal("rotating the AEAD key changed pseudonyms")
	}
	if k.ActiveAEADKeyID() != "a2" || k.ActiveHMACKeyID() != "h1" {
		t.Fatalf("active = %s/%s, want h1/a2", k.ActiveHMACKeyID(), k.ActiveAEADKeyID())
	}
	if err := k.RotateHMAC(); err != nil {
		t.Fatal(err)
	}
	if k.ActiveAEADKeyID() != "a2" || k.ActiveHMACKeyID() != "h2" {
		t.Fatalf("active = %s/%s, want h2/a2", k.ActiveHMACKeyID(), k.ActiveAEADKeyID())
	}
}

func TestPseudonymOfUserIDIsTheVersionOneConstructionAndDomainsDiffer(t *testing.T) {
	p, k := newTestProtector(t)
	var secret []byte
	for _, key := range k.hmacKeys {
		if key.ID == k.activeHMAC {
			secret = key.Secret
		}
	}
	// Files written before table specs pseudonymized user ids as HMAC(key, "logetl/user_id/v1\x00"
	// || id as 8 bytes big-endian); analysts join across the upgrade, so this must not change.
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("logetl/user_id/v1\x00\x00\x00\x00\x00\x00\x00\x00\x2a"))
	want := k.activeHMAC + ":" + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:16])
	if got := p.PseudonymUint64("user_id", 42); got != want {
		t.Fatalf("pseudonym of user 42 = %q, want the version 1 value %q", got, want)
	}
	if p.PseudonymUint64("account_id", 42) == want {
		t.Error("another domain gives the same pseudonym")
	}
	if a, b := p.Pseudonym("email", []byte("a@example.com")), p.Pseudonym("email", []byte("a@example.com")); a != b || a == p.Pseudonym("email", []byte("b@example.com")) {
		t.Errorf("string pseudonyms %q %q", a, b)
	}
}

func TestAppendSealOpensLikeSealAndFillsItsRoom(t *testing.T) {
	p, _ := newTestProtector(t)
	plain := []byte("203.0.113.9")
	buf := make([]byte, 3, 3+p.SealedSize(len(plain)))
	copy(buf, "abc")
	out := p.AppendSeal(buf, "client_ip", plain)
	if string(out[:3]) != "abc" || len(out) != 3+p.SealedSize(len(plain)) || &out[0] != &buf[0] {
		t.Fatalf("appended %d bytes (room %d), reallocated %v", len(out)-3, p.SealedSize(len(plain)), &out[0] != &buf[0])
	}
	got, err := p.Open("client_ip", out[3:])
	if err != nil || string(got) != string(plain) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := p.Open("user_agent", out[3:]); err == nil {
		t.Fatal("a value sealed for client_ip opened as user_agent")
	}
}
