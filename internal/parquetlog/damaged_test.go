//go:build !race

// The race detector turns on checkptr, which makes parquet-go's unsafe.Slice on a damaged
// length a fatal error instead of the run-time panic that Reader recovers from in production
// builds: this test cannot run under -race, so `make test` runs it once more without it.

package parquetlog

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// TestDamagedFilesGiveErrorsNotPanics flips bytes all over a valid file: parquet-go panics on
// some of these, and `logetl decrypt` must still exit with a one-line reason. Every read must
// end in io.EOF or an error; none may panic or return more rows than the file has.
func TestDamagedFilesGiveErrorsNotPanics(t *testing.T) {
	spec := loadSpec(t, wideSpec)
	p := newProtector(t)
	var rows [][]parquet.Value
	for i := 0; i < 12; i++ {
		rows = append(rows, fileForm(t, spec, p, sourceRow(spec, i)))
	}
	good := writeBatches(t, spec, rows, 12, WriterOptions{RowGroupRows: 5})
	damaged := 0
	for i := 0; i < len(good); i += 7 {
		data := bytes.Clone(good)
		data[i] ^= 0xff
		r, err := OpenReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			damaged++
			continue
		}
		buf := make([]parquet.Row, 4)
		total := 0
		for {
			n, err := r.Read(buf)
			total += n
			if total > len(rows) {
				t.Fatalf("byte %d flipped: read %d rows from a %d-row file", i, total, len(rows))
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					damaged++
				}
				break
			}
		}
		_ = r.Close()
	}
	if damaged == 0 {
		t.Fatal("no flipped byte was detected; the test does not exercise damage")
	}
}
