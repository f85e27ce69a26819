package devstack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCredentialsAreGeneratedOnceAndReused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "s3-credentials")
	first, created, err := LoadOrCreateCredentials(path)
	if err != nil || !created {
		t.Fatalf("first call: created=%v err=%v", created, err)
	}
	if first.AccessKeyID == "" || len(first.SecretAccessKey) < 32 {
		t.Fatalf("weak or empty credentials: %+v", first)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("credentials file mode %v, want 0600", st.Mode().Perm())
	}
	again, created, err := LoadOrCreateCredentials(path)
	if err != nil || created {
		t.Fatalf("second call: created=%v err=%v", created, err)
	}
	if again != first {
		t.Errorf("second call returned other credentials: %+v vs %+v", again, first)
	}
	other, _, err := LoadOrCreateCredentials(filepath.Join(t.TempDir(), "c"))
	if err != nil {
		t.Fatal(err)
	}
	if other == first {
		t.Error("two data folders got the same generated credentials")
	}
}

func TestCredentialsFileParsing(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    Credentials
		wantErr bool
	}{
		{"plain", "AWS_ACCESS_KEY_ID=a\nAWS_SECRET_ACCESS_KEY=b\n", Credentials{"a", "b"}, false},
		{"export and quotes", "# c\nexport AWS_ACCESS_KEY_ID=\"a\"\nexport AWS_SECRET_ACCESS_KEY='b=c'\n", Credentials{"a", "b=c"}, false},
		{"missing secret", "AWS_ACCESS_KEY_ID=a\n", Credentials{}, true},
		{"empty", "", Credentials{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "creds")
			if err := os.WriteFile(path, []byte(tt.body), 0o600); err != nil {
				t.Fatal(err)
			}
			got, created, err := LoadOrCreateCredentials(path)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if created {
				t.Error("an existing file was replaced")
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSecretIsGeneratedOnceAndEmptyFileIsRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "jwt-secret")
	s1, created, err := LoadOrCreateSecret(path)
	if err != nil || !created || len(s1) < 32 {
		t.Fatalf("first: %q created=%v err=%v", s1, created, err)
	}
	s2, created, err := LoadOrCreateSecret(path)
	if err != nil || created || s2 != s1 {
		t.Fatalf("second: same=%v created=%v err=%v", s2 == s1, created, err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateSecret(empty); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty secret file: err = %v, want a clear refusal", err)
	}
}

func TestFirstWindowIsOnTheGridAtOrAfterTheStart(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		start  string
		window time.Duration
		want   string
	}{
		{"2026-11-25T17:40:56.5Z", time.Minute, "2026-11-25T17:41:00Z"},
		{"2026-11-25T17:41:00Z", time.Minute, "2026-11-25T17:41:00Z"},
		{"2026-11-25T17:40:56Z", 15 * time.Minute, "2026-11-25T17:45:00Z"},
		{"2026-11-25T23:59:01Z", 15 * time.Minute, "2026-11-26T00:00:00Z"},
		// Not a divisor of a day: the grid counts from the Unix epoch, like the exporter's.
		{"1970-01-01T00:08:00Z", 7 * time.Minute, "1970-01-01T00:14:00Z"},
	}
	for _, tt := range tests {
		if got := firstWindow(at(tt.start), tt.window); !got.Equal(at(tt.want)) {
			t.Errorf("firstWindow(%s, %s) = %s, want %s", tt.start, tt.window, got, tt.want)
		}
	}
}
