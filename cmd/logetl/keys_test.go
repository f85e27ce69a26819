package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alecthomas/kong"

	"github.com/logetl/logetl/internal/protect"
)

// runCLI parses args as the logetl binary does and runs the command, capturing what the
// keys and decrypt commands print. It returns the output and the error main would print.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var c cli
	var out bytes.Buffer
	parser, err := kong.New(&c, kong.Name("logetl"), kong.Exit(func(int) { t.Fatalf("kong exited on %v", args) }), defaults())
	if err != nil {
		t.Fatal(err)
	}
	kctx, err := parser.Parse(args)
	if err != nil {
		return "", err
	}
	c.Keys.Generate.stdout = &out
	c.Keys.Rotate.stdout = &out
	c.Decrypt.stdout = &out
	c.Export.stdout = &out
	c.Verify.stdout = &out
	c.Purge.stdout = &out
	c.Tables.Inspect.stdout = &out
	c.Tables.List.stdout = &out
	c.Tables.Check.stdout = &out
	kctx.BindTo(context.Background(), (*context.Context)(nil))
	err = kctx.Run()
	return out.String(), err
}

// keyMaterial returns every secret of the keyring file, base64 as in the file and raw.
func keyMaterial(t *testing.T, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		HMACKeys []struct{ Key string } `json:"hmac_keys"`
		AEADKeys []struct{ Key string } `json:"aead_keys"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range append(f.HMACKeys, f.AEADKeys...) {
		secret, _ := base64.StdEncoding.DecodeString(k.Key)
		out = append(out, k.Key, string(secret), base64.RawURLEncoding.EncodeToString(secret))
	}
	return out
}

func TestKeysGenerateWritesAKeyringAndPrintsOnlyIDs(t *testing.T) {
	dataDir := t.TempDir()
	out, err := runCLI(t, "keys", "generate", "--data-dir", dataDir)
	if err != nil {
		t.Fatalf("keys generate: %v", err)
	}
	path := filepath.Join(dataDir, "keyring.json")
	if _, err := protect.LoadKeyring(path); err != nil {
		t.Fatalf("generated keyring does not load: %v", err)
	}
	if !strings.Contains(out, path) || !strings.Contains(out, "h1") || !strings.Contains(out, "a1") {
		t.Fatalf("output %q should name the file and the key ids", out)
	}
	for _, secret := range keyMaterial(t, path) {
		if strings.Contains(out, secret) {
			t.Fatal("keys generate printed key material")
		}
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Fatalf("keyring mode %v, want 0600", info.Mode().Perm())
	}

	// A second generate must not destroy the keyring; --force replaces it.
	before, _ := os.ReadFile(path)
	_, err = runCLI(t, "keys", "generate", "--data-dir", dataDir)
	if err == nil || !strings.Contains(err.Error(), "already exists") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("second generate: %v, want a one-line 'already exists' error", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("refused generate still changed the keyring")
	}
	if _, err := runCLI(t, "keys", "generate", "--data-dir", dataDir, "--force"); err != nil {
		t.Fatalf("generate --force: %v", err)
	}
	if after, _ := os.ReadFile(path); bytes.Equal(before, after) {
		t.Fatal("generate --force did not replace the keyring")
	}
}

func TestKeysPathResolution(t *testing.T) {
	dataDir := t.TempDir()
	explicit := filepath.Join(t.TempDir(), "explicit.json")
	out := filepath.Join(t.TempDir(), "sub", "out.json")
	tests := []struct {
		name string
		args []string
		env  string
		want string
	}{
		{"--keyring flag", []string{"--keyring", explicit}, "", explicit},
		{"LOGETL_KEYRING env", nil, explicit + ".env", explicit + ".env"},
		{"--out wins", []string{"--keyring", explicit + ".ignored", "--out", out}, "", out},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("LOGETL_KEYRING", tt.env)
			args := append([]string{"keys", "generate", "--data-dir", dataDir}, tt.args...)
			if _, err := runCLI(t, args...); err != nil {
				t.Fatal(err)
			}
			if _, err := protect.LoadKeyring(tt.want); err != nil {
				t.Fatalf("keyring not at %s: %v", tt.want, err)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dataDir, "keyring.json")); err == nil {
		t.Fatal("a keyring was written to the data folder despite an explicit path")
	}
}

func TestKeysRotateAddsActiveKeysAndKeepsOldOnes(t *testing.T) {
	dataDir := t.TempDir()
	path := filepath.Join(dataDir, "keyring.json")
	if _, err := runCLI(t, "keys", "generate", "--data-dir", dataDir); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		kind             []string
		wantHMAC, wantAE string
		wantAEADs        string
	}{
		{nil, "h2", "a2", "a1,a2"},
		{[]string{"--kind", "aead"}, "h2", "a3", "a1,a2,a3"},
		{[]string{"--kind", "hmac"}, "h3", "a3", "a1,a2,a3"},
	}
	for _, tt := range tests {
		out, err := runCLI(t, append([]string{"keys", "rotate", "--data-dir", dataDir}, tt.kind...)...)
		if err != nil {
			t.Fatalf("rotate %v: %v", tt.kind, err)
		}
		k, err := protect.LoadKeyring(path)
		if err != nil {
			t.Fatal(err)
		}
		if k.ActiveHMACKeyID() != tt.wantHMAC || k.ActiveAEADKeyID() != tt.wantAE || strings.Join(k.AEADKeyIDs(), ",") != tt.wantAEADs {
			t.Fatalf("after rotate %v: active %s/%s, aead keys %v", tt.kind, k.ActiveHMACKeyID(), k.ActiveAEADKeyID(), k.AEADKeyIDs())
		}
		for _, secret := range keyMaterial(t, path) {
			if strings.Contains(out, secret) {
				t.Fatal("keys rotate printed key material")
			}
		}
	}
}

func TestKeysRotateWithoutKeyringFails(t *testing.T) {
	_, err := runCLI(t, "keys", "rotate", "--data-dir", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "does not exist") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("rotate without a keyring: %v, want a one-line 'does not exist' error", err)
	}
}
