package devstack

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Credentials are the access key pair of the local S3 store.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
}

const credentialsHeader = `# Local-only credentials of the logetl dev stack's S3 store (versitygw), generated once by
# 'logetl-dev'. Load them into a shell for the AWS SDK (logetl decrypt s3://..., aws s3 ls):
#   set -a; . %s; set +a
`

// LoadOrCreateCredentials reads the credentials file at path, or generates a fresh pair and
// writes it there (mode 0600) the first time, so later runs reuse the same store.
func LoadOrCreateCredentials(path string) (Credentials, bool, error) {
	body, err := os.ReadFile(path)
	if err == nil {
		c, err := parseCredentials(body)
		if err != nil {
			return Credentials{}, false, fmt.Errorf("credentials file %s: %w", path, err)
		}
		return c, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return Credentials{}, false, fmt.Errorf("read credentials %s: %w", path, err)
	}
	c := Credentials{AccessKeyID: "LOGETLDEV" + strings.ToUpper(randomHex(6)), SecretAccessKey: randomToken(30)}
	var b bytes.Buffer
	fmt.Fprintf(&b, credentialsHeader, path)
	fmt.Fprintf(&b, "AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n", c.AccessKeyID, c.SecretAccessKey)
	if err := writeSecretFile(path, b.Bytes()); err != nil {
		return Credentials{}, false, err
	}
	return c, true, nil
}

func parseCredentials(body []byte) (Credentials, error) {
	var c Credentials
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "AWS_ACCESS_KEY_ID":
			c.AccessKeyID = strings.Trim(strings.TrimSpace(v), `"'`)
		case "AWS_SECRET_ACCESS_KEY":
			c.SecretAccessKey = strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return Credentials{}, errors.New("needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY lines")
	}
	return c, nil
}

// LoadOrCreateSecret returns the secret kept in path, generating a random one (mode 0600) the
// first time.
func LoadOrCreateSecret(path string) (string, bool, error) {
	body, err := os.ReadFile(path)
	if err == nil {
		s := strings.TrimSpace(string(body))
		if s == "" {
			return "", false, fmt.Errorf("secret file %s is empty: delete it to generate a new one", path)
		}
		return s, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, fmt.Errorf("read secret %s: %w", path, err)
	}
	s := randomToken(48)
	if err := writeSecretFile(path, []byte(s+"\n")); err != nil {
		return "", false, err
	}
	return s, true, nil
}

// writeSecretFile writes atomically and never with wider permissions than 0600, so a crash
// cannot leave a half-written secret that later runs would trust.
func writeSecretFile(path string, body []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(body); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
