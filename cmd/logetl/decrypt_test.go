package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/logetl/logetl/internal/parquetlog"
	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/internal/tablespec"
)

// sealer is a Protector or a SealCache.
type sealer interface {
	Seal(field string, plaintext []byte) []byte
}

// decryptedRow is one line of decrypt's output for the built-in activity_log table.
type decryptedRow struct {
	LogID         int64   `json:"log_id"`
	OccurredAt    string  `json:"occurred_at"`
	RequestID     string  `json:"request_id"`
	UserPseudonym *string `json:"user_pseudonym"`
	Action        string  `json:"action"`
	Method        string  `json:"method"`
	Route         string  `json:"route"`
	Path          string  `json:"path"`
	Status        int32   `json:"status"`
	PostID        *int64  `json:"post_id"`
	ClientIP      string  `json:"client_ip"`
	UserAgent     string  `json:"user_agent"`
	Email         *string `json:"email"`
	Message       string  `json:"message"`
}

// protectedRow is a file row of the built-in table with its sealed values, for the tests to
// tamper with.
type protectedRow struct {
	ClientIPEnc, UserAgentEnc, EmailEnc []byte
}

// writeProtectedFile protects want's clear values with p (sealing through s) and writes them
// to a Parquet file of the built-in table, returning its path. mutate, if set, may alter each
// row's sealed values before writing.
func writeProtectedFile(t *testing.T, p *protect.Protector, s sealer, want []decryptedRow, meta map[string]string, mutate func(i int, r *protectedRow)) string {
	t.Helper()
	spec, _ := tablespec.Builtin().Table(tablespec.BuiltinName)
	b := parquetlog.NewBatch(spec, len(want))
	str := func(v string) parquet.Value { return parquet.ByteArrayValue([]byte(v)) }
	for i, d := range want {
		ts, err := time.Parse(time.RFC3339Nano, d.OccurredAt)
		if err != nil {
			t.Fatal(err)
		}
		pr := protectedRow{ClientIPEnc: s.Seal("client_ip", []byte(d.ClientIP)), UserAgentEnc: s.Seal("user_agent", []byte(d.UserAgent))}
		if d.Email != nil {
			pr.EmailEnc = s.Seal("email", []byte(*d.Email))
		}
		if mutate != nil {
			mutate(i, &pr)
		}
		vals := []parquet.Value{parquet.Int64Value(d.LogID), parquet.Int64Value(ts.UnixMicro()), str(d.RequestID), parquet.NullValue(),
			str(d.Action), str(d.Method), str(d.Route), str(d.Path), parquet.Int32Value(d.Status), parquet.NullValue(),
			parquet.ByteArrayValue(pr.ClientIPEnc), parquet.ByteArrayValue(pr.UserAgentEnc), parquet.NullValue(), str(d.Message)}
		if d.UserPseudonym != nil {
			vals[3] = str(*d.UserPseudonym)
		}
		if d.PostID != nil {
			vals[9] = parquet.Int64Value(*d.PostID)
		}
		if pr.EmailEnc != nil {
			vals[12] = parquet.ByteArrayValue(pr.EmailEnc)
		}
		row := b.Next()
		for j, v := range vals {
			b.Set(row, j, v)
		}
	}
	path := filepath.Join(t.TempDir(), "part.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := parquetlog.NewWriter(f, spec, parquetlog.WriterOptions{RowGroupRows: 4, Metadata: meta})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(b.Rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// decryptFixture is a small activity log in clear, with nulls and non-ASCII text.
func decryptFixture(p *protect.Protector) []decryptedRow {
	var rows []decryptedRow
	for i := range 10 {
		d := decryptedRow{
			LogID: int64(100 + i), OccurredAt: time.Date(2026, 11, 24, 23, 59, 58, 1000*i, time.UTC).Format(time.RFC3339Nano),
			RequestID: fmt.Sprintf("req-%d", i), Action: "post.view", Method: "GET", Route: "/blog/:id/",
			Path: fmt.Sprintf("/blog/%d/", i), Status: 200, Message: "GET content 조회 success",
			ClientIP:  []string{"203.0.113.9", "2001:db8::42"}[i%2],
			UserAgent: []string{"curl/8.5.0", "Mozilla/5.0 <test> & \"quoted\""}[i%2],
		}
		if i%3 != 0 {
			uid := uint64(i)
			ps := p.PseudonymUint64("user_id", uid)
			d.UserPseudonym = &ps
			pid := int64(i)
			d.PostID = &pid
		}
		if i%4 == 0 {
			e := fmt.Sprintf("attempt%d@example.org", i)
			d.Email = &e
			d.Action = "user.login_failed"
		}
		rows = append(rows, d)
	}
	return rows
}

func setupKeyring(t *testing.T) (dataDir string, p *protect.Protector, k *protect.Keyring) {
	t.Helper()
	dataDir = t.TempDir()
	k, err := protect.GenerateKeyring()
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Save(filepath.Join(dataDir, "keyring.json")); err != nil {
		t.Fatal(err)
	}
	p, err = protect.NewProtector(k)
	if err != nil {
		t.Fatal(err)
	}
	return dataDir, p, k
}

func parseLines(t *testing.T, out string) []decryptedRow {
	t.Helper()
	var got []decryptedRow
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var d decryptedRow
		if err := dec.Decode(&d); err != nil {
			t.Fatalf("output is not JSON lines: %v\n%s", err, out)
		}
		got = append(got, d)
	}
	return got
}

func TestDecryptPrintsTheOriginalValues(t *testing.T) {
	dataDir, p, k := setupKeyring(t)
	want := decryptFixture(p)
	for _, mode := range []string{"per-value", "per-rowgroup"} {
		t.Run(mode, func(t *testing.T) {
			var s sealer = p
			if mode == "per-rowgroup" {
				s = p.NewSealCache()
			}
			path := writeProtectedFile(t, p, s, want, map[string]string{parquetlog.MetaAEADKeyID: k.ActiveAEADKeyID()}, nil)
			out, err := runCLI(t, "decrypt", "--data-dir", dataDir, path)
			if err != nil {
				t.Fatalf("decrypt: %v", err)
			}
			if n := strings.Count(out, "\n"); n != len(want) {
				t.Fatalf("%d output lines, want %d", n, len(want))
			}
			got := parseLines(t, out)
			wantJSON, _ := json.Marshal(want)
			gotJSON, _ := json.Marshal(got)
			if !bytes.Equal(gotJSON, wantJSON) {
				t.Fatalf("decrypted rows differ:\n got  %s\n want %s", gotJSON, wantJSON)
			}
		})
	}
}

func TestDecryptAfterRotationReadsOldFiles(t *testing.T) {
	dataDir, p, _ := setupKeyring(t)
	want := decryptFixture(p)
	path := writeProtectedFile(t, p, p, want, nil, nil)
	if _, err := runCLI(t, "keys", "rotate", "--data-dir", dataDir); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "decrypt", "--data-dir", dataDir, path)
	if err != nil {
		t.Fatalf("decrypt of a pre-rotation file: %v", err)
	}
	if got := parseLines(t, out); len(got) != len(want) || got[1].ClientIP != want[1].ClientIP {
		t.Fatalf("decrypted %d rows, want %d with the original values", len(got), len(want))
	}
}

func TestDecryptRejectsBadInputWithOneLineReason(t *testing.T) {
	dataDir, p, _ := setupKeyring(t)
	rows := decryptFixture(p)
	good := writeProtectedFile(t, p, p, rows, nil, nil)

	notParquet := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notParquet, []byte("just some text, not Parquet at all\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tampered := writeProtectedFile(t, p, p, rows, nil, func(i int, r *protectedRow) {
		if i == 6 {
			r.UserAgentEnc[len(r.UserAgentEnc)-3] ^= 0x40
		}
	})
	swapped := writeProtectedFile(t, p, p, rows, nil, func(i int, r *protectedRow) {
		if i == 2 {
			r.ClientIPEnc, r.UserAgentEnc = r.UserAgentEnc, r.ClientIPEnc
		}
	})
	// A file sealed under a keyring the operator does not hold, metadata saying so.
	_, otherP, _ := setupKeyring(t)
	foreignMeta := writeProtectedFile(t, otherP, otherP, rows, map[string]string{parquetlog.MetaAEADKeyID: "a7"}, nil)
	// The same without metadata: found at the first value.
	other, _ := protect.GenerateKeyring()
	_ = other.RotateAEAD() // active aead key a2, which dataDir's keyring lacks
	otherP2, _ := protect.NewProtector(other)
	foreignValues := writeProtectedFile(t, otherP2, otherP2, rows, nil, nil)

	tests := []struct {
		name    string
		args    []string
		wantMsg string
	}{
		{"missing file", []string{"decrypt", "--data-dir", dataDir, filepath.Join(dataDir, "nope.parquet")}, "no such file"},
		{"folder", []string{"decrypt", "--data-dir", dataDir, dataDir}, "is a folder"},
		{"not parquet", []string{"decrypt", "--data-dir", dataDir, notParquet}, "no PAR1 magic"},
		{"tampered value", []string{"decrypt", "--data-dir", dataDir, tampered}, "log_id 106: open user_agent: ciphertext: authentication failed"},
		{"value moved to another column", []string{"decrypt", "--data-dir", dataDir, swapped}, "log_id 102: open client_ip: ciphertext"},
		{"unknown key id in metadata", []string{"decrypt", "--data-dir", dataDir, foreignMeta}, `key id "a7", which the keyring does not hold`},
		{"unknown key id in a value", []string{"decrypt", "--data-dir", dataDir, foreignValues}, `log_id 100: open client_ip: keyring: value sealed under key id "a2"`},
		{"no keyring", []string{"decrypt", "--data-dir", t.TempDir(), good}, "does not exist"},
		{"s3 URL without key", []string{"decrypt", "--data-dir", dataDir, "s3://logetl"}, "want s3://bucket/key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runCLI(t, tt.args...)
			if err == nil {
				t.Fatalf("decrypt succeeded, want an error containing %q", tt.wantMsg)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error %q, want it to contain %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans several lines: %q", err)
			}
			for _, r := range rows {
				if strings.Contains(err.Error(), r.ClientIP) || strings.Contains(err.Error(), r.UserAgent) {
					t.Fatalf("error leaks a clear value: %q", err)
				}
			}
		})
	}
}
