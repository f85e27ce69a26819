package parquetlog

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// FuzzOpenReader feeds arbitrary bytes to the reader `logetl decrypt` opens any file with: it
// must return rows or an error, never panic, hang or allocate without bound.
func FuzzOpenReader(f *testing.F) {
	if v1, err := os.ReadFile("testdata/v1/activity_log.parquet"); err == nil {
		f.Add(v1)
	}
	spec := loadSpec(f, wideSpec)
	p := newProtector(f)
	var rows [][]parquet.Value
	for i := 0; i < 3; i++ {
		rows = append(rows, fileForm(f, spec, p, sourceRow(spec, i)))
	}
	f.Add(writeBatches(f, spec, rows, 3, WriterOptions{RowGroupRows: 2}))
	f.Add([]byte("PAR1\x00\x00\x00\x00PAR1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := OpenReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		defer r.Close()
		buf := make([]parquet.Row, 8)
		var total int64
		for {
			n, err := r.Read(buf)
			total += int64(n)
			if total > r.NumRows() {
				t.Fatalf("read %d rows of %d", total, r.NumRows())
			}
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, ErrCorrupt) && err.Error() == "" {
					t.Fatal("empty error")
				}
				return
			}
		}
	})
}
