//go:build integration

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/logetl/logetl/internal/s3store"
	"github.com/logetl/logetl/internal/testenv"
)

// TestDecryptReadsFromS3 uploads a protected file to a real versitygw and decrypts it by its
// s3:// URL, the way an operator reads the data lake; a missing key fails in one line.
func TestDecryptReadsFromS3(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartS3(ctx, t)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	dataDir, p, _ := setupKeyring(t)
	want := decryptFixture(p)
	path := writeProtectedFile(t, p, p.NewSealCache(), want, nil, nil)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	store, err := s3store.New(ctx, srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	const key = "logs/activity_log/daily/dt=2026-11-24/part-20261124T2345Z-20261125T0000Z.parquet"
	if err := store.Put(ctx, key, data, "application/vnd.apache.parquet"); err != nil {
		t.Fatal(err)
	}
	s3Flags := []string{"--data-dir", dataDir, "--s3-endpoint", srv.Endpoint, "--s3-region", srv.Region}

	out, err := runCLI(t, append(append([]string{"decrypt"}, s3Flags...), "s3://"+srv.Bucket+"/"+key)...)
	if err != nil {
		t.Fatalf("decrypt s3://: %v", err)
	}
	got := parseLines(t, out)
	wantJSON, _ := json.Marshal(want)
	gotJSON, _ := json.Marshal(got)
	if !bytes.Equal(gotJSON, wantJSON) {
		t.Fatalf("decrypted rows from S3 differ:\n got  %s\n want %s", gotJSON, wantJSON)
	}

	_, err = runCLI(t, append(append([]string{"decrypt"}, s3Flags...), "s3://"+srv.Bucket+"/logs/missing.parquet")...)
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "missing.parquet") {
		t.Fatalf("decrypt of a missing object: %v, want a one-line error naming it", err)
	}
	t.Logf("missing object: %v", err)
}
