package parquetlog

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzOpenReader feeds corrupted files to the reader: it must return errors, never panic or
// hang, since `logetl decrypt` opens whatever file an operator points it at.
func FuzzOpenReader(f *testing.F) {
	p := newProtector(f)
	rows, _ := makeRows(11, 40, p, p)
	var good bytes.Buffer
	w, err := NewWriter(&good, WriterOptions{RowGroupRows: 16})
	if err != nil {
		f.Fatal(err)
	}
	if err := w.Write(rows); err != nil {
		f.Fatal(err)
	}
	if err := w.Close(); err != nil {
		f.Fatal(err)
	}
	f.Add(good.Bytes(), uint16(0), byte(0))
	f.Add(good.Bytes(), uint16(100), byte(0xff))
	f.Add(good.Bytes(), uint16(len(good.Bytes())-20), byte(0x01))
	f.Add([]byte("PAR1PAR1"), uint16(0), byte(0))
	f.Fuzz(func(t *testing.T, data []byte, at uint16, xor byte) {
		data = bytes.Clone(data)
		if len(data) > 0 {
			data[int(at)%len(data)] ^= xor
		}
		r, err := OpenReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		defer r.Close()
		buf := make([]Row, 8)
		for range 1000 {
			_, err := r.Read(buf)
			if err != nil {
				if !errors.Is(err, io.EOF) && err.Error() == "" {
					t.Fatal("empty error message")
				}
				return
			}
		}
	})
}
