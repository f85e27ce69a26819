package decrypt

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/logetl/logetl/internal/parquetlog"
	"github.com/logetl/logetl/internal/protect"
)

// A file written before table specs decrypts to exactly what the decrypt of that time printed.
func TestVersionOneFilesDecryptAsTheyAlwaysDid(t *testing.T) {
	data, err := os.ReadFile("../parquetlog/testdata/v1/activity_log.parquet")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../parquetlog/testdata/v1/activity_log.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	kr, err := protect.LoadKeyring("../parquetlog/testdata/v1/keyring.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := protect.NewProtector(kr)
	if err != nil {
		t.Fatal(err)
	}
	r, err := parquetlog.OpenReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := WriteJSONLines(context.Background(), r, p, &out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("decrypt output differs from version 1's:\n got %s\nwant %s", firstLine(out.Bytes()), firstLine(want))
	}
	// Another keyring cannot open it, and says so instead of printing anything wrong.
	other, _ := protect.GenerateKeyring()
	op, _ := protect.NewProtector(other)
	r2, _ := parquetlog.OpenReader(bytes.NewReader(data), int64(len(data)))
	if err := WriteJSONLines(context.Background(), r2, op, &bytes.Buffer{}); err == nil {
		t.Fatal("a foreign keyring decrypted the file")
	}
}

func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i]
	}
	return b
}
