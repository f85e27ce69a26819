package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
)

var testSecret = []byte("test-secret-0123456789-abcdefghijklmnopqrstuvwxyz")

func newTokens(t testing.TB, now func() time.Time) *Tokens {
	t.Helper()
	tk, err := NewTokens(testSecret, now)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestIssuedTokensParseAsTheirOwnTypeOnly(t *testing.T) {
	tk := newTokens(t, nil)
	pair, err := tk.Issue(42)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		token  string
		want   TokenType
		wantOK bool
	}{
		{pair.Access, Access, true},
		{pair.Refresh, Refresh, true},
		{pair.Access, "", true},
		{pair.Refresh, "", true},
		{pair.Refresh, Access, false},
		{pair.Access, Refresh, false},
	} {
		c, err := tk.Parse(tc.token, tc.want)
		if tc.wantOK {
			if err != nil || c.UserID != 42 {
				t.Errorf("Parse(%s token, want %q) = %+v, %v", tc.token[:10], tc.want, c, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidToken) {
			t.Errorf("Parse(want %q) err = %v, want ErrInvalidToken", tc.want, err)
		}
	}
	c, _ := tk.Parse(pair.Access, Access)
	if got := c.ExpiresAt.Sub(c.IssuedAt.Time); got != AccessTTL {
		t.Errorf("access lifetime %s, want %s", got, AccessTTL)
	}
	c, _ = tk.Parse(pair.Refresh, Refresh)
	if got := c.ExpiresAt.Sub(c.IssuedAt.Time); got != RefreshTTL {
		t.Errorf("refresh lifetime %s, want %s", got, RefreshTTL)
	}
}

// sign signs claims with method and key, for the attack cases.
func sign(t testing.TB, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func goodClaims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"token_type": "access", "user_id": 7, "sub": "7", "iss": "logetl",
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": "x"}
}

func without(c jwt.MapClaims, key string) jwt.MapClaims { delete(c, key); return c }

func withClaim(c jwt.MapClaims, key string, v any) jwt.MapClaims { c[key] = v; return c }

// attackTokens returns the forged and broken tokens every endpoint must refuse, for this
// package's tests and as documentation of what is covered.
func attackTokens(t testing.TB, tk *Tokens) map[string]string {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	valid := sign(t, jwt.SigningMethodHS256, testSecret, goodClaims())
	parts := strings.Split(valid, ".")
	otherPayload := base64.RawURLEncoding.EncodeToString([]byte(`{"token_type":"access","user_id":1,"sub":"1","iss":"logetl","iat":1,"exp":9999999999}`))
	hs384Header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS384","typ":"JWT"}`))
	noneToken := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, goodClaims())
	expired := newTokens(t, func() time.Time { return time.Now().Add(-AccessTTL - time.Minute) })
	expiredAccess, err := expired.IssueAccess(7)
	if err != nil {
		t.Fatal(err)
	}
	refresh, err := tk.Issue(7)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"alg none":                 noneToken,
		"alg none, empty sig kept": strings.TrimSuffix(noneToken, ".") + ".",
		"HS512 with the secret":    sign(t, jwt.SigningMethodHS512, testSecret, goodClaims()),
		"RS256 with an RSA key":    sign(t, jwt.SigningMethodRS256, rsaKey, goodClaims()),
		"HS256 keyed with a public key": sign(t, jwt.SigningMethodHS256,
			[]byte(base64.StdEncoding.EncodeToString(rsaKey.PublicKey.N.Bytes())), goodClaims()),
		"wrong secret":              sign(t, jwt.SigningMethodHS256, []byte("another-secret-0123456789-abcdefghijkl"), goodClaims()),
		"tampered payload":          parts[0] + "." + otherPayload + "." + parts[2],
		"header alg changed":        hs384Header + "." + parts[1] + "." + parts[2],
		"signature stripped":        parts[0] + "." + parts[1] + ".",
		"expired":                   expiredAccess,
		"refresh used as access":    refresh.Refresh,
		"no exp":                    sign(t, jwt.SigningMethodHS256, testSecret, without(goodClaims(), "exp")),
		"issued in the future":      sign(t, jwt.SigningMethodHS256, testSecret, withClaim(goodClaims(), "iat", time.Now().Add(time.Hour).Unix())),
		"other issuer":              sign(t, jwt.SigningMethodHS256, testSecret, withClaim(goodClaims(), "iss", "django")),
		"no token type":             sign(t, jwt.SigningMethodHS256, testSecret, without(goodClaims(), "token_type")),
		"unknown token type":        sign(t, jwt.SigningMethodHS256, testSecret, withClaim(goodClaims(), "token_type", "admin")),
		"subject disagrees with id": sign(t, jwt.SigningMethodHS256, testSecret, withClaim(goodClaims(), "sub", "1")),
		"user id as string":         sign(t, jwt.SigningMethodHS256, testSecret, withClaim(goodClaims(), "user_id", "7")),
		"garbage":                   "not.a.jwt",
		"empty":                     "",
	}
}

func TestForgedAndBrokenTokensAreRefused(t *testing.T) {
	tk := newTokens(t, nil)
	if _, err := tk.Parse(sign(t, jwt.SigningMethodHS256, testSecret, goodClaims()), Access); err != nil {
		t.Fatalf("control: a well-formed token is refused: %v", err)
	}
	for name, tok := range attackTokens(t, tk) {
		t.Run(name, func(t *testing.T) {
			if c, err := tk.Parse(tok, Access); !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("accepted (%+v, %v)", c, err)
			}
		})
	}
}

func FuzzParseToken(f *testing.F) {
	tk := newTokens(f, nil)
	for _, tok := range attackTokens(f, tk) {
		f.Add(tok)
	}
	pair, _ := tk.Issue(3)
	f.Add(pair.Access)
	f.Add(pair.Refresh)
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.")
	f.Add(strings.Repeat("a.", 1000))
	f.Fuzz(func(t *testing.T, token string) {
		c, err := tk.Parse(token, "")
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("error %v is not ErrInvalidToken", err)
			}
			return
		}
		// The fuzzer cannot forge HS256, so only the seeds we signed get here.
		if c.UserID == 0 || (c.TokenType != Access && c.TokenType != Refresh) || c.ExpiresAt == nil {
			t.Fatalf("accepted odd claims %+v", c)
		}
	})
}

func TestPasswordsHashWithBcryptAndCheck(t *testing.T) {
	p, err := NewPasswords(bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	h, err := p.Hash("iambot4084")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$2a$04$") || strings.Contains(h, "iambot4084") {
		t.Fatalf("hash %q is not a bcrypt hash at cost 4", h)
	}
	if !p.Check(h, "iambot4084") || p.Check(h, "iambot4085") || p.Check("", "iambot4084") || p.Check("garbage", "x") {
		t.Fatal("Check accepts a wrong password or refuses the right one")
	}
}

func TestLoadSecret(t *testing.T) {
	long := strings.Repeat("k", MinSecretBytes)
	tests := []struct {
		name       string
		configured string
		production bool
		wantErr    string
		want       string
	}{
		{name: "production with a long secret", configured: long, production: true, want: long},
		{name: "production refuses a short secret", configured: "short-secret", production: true, wantErr: "need at least 32"},
		{name: "production refuses a missing secret", production: true, wantErr: "must be set"},
		{name: "production refuses a known default", configured: "changeme" + long, production: true, wantErr: "known example"},
		{name: "development accepts a short secret", configured: "dev", want: "dev"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "jwt-secret")
			got, err := LoadSecret(tt.configured, tt.production, file)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if _, statErr := os.Stat(file); statErr == nil {
					t.Fatal("a secret file was written although the secret was refused")
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("got %q, %v", got, err)
			}
		})
	}
}

func TestDevelopmentSecretIsGeneratedOnceWithOwnerOnlyMode(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state", "jwt-secret")
	first, err := LoadSecret("", false, file)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) < MinSecretBytes {
		t.Fatalf("generated secret is %d bytes", len(first))
	}
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode %v, want 0600", st.Mode().Perm())
	}
	second, err := LoadSecret("", false, file)
	if err != nil || string(second) != string(first) {
		t.Fatalf("second load gave a different secret (%v)", err)
	}
	if err := os.WriteFile(file, []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSecret("", false, file); err == nil {
		t.Fatal("a short secret file was accepted")
	}
}
