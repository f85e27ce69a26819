package parquetlog

import (
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
)

// rowSchema is the schema of Row, the one every logetl file has.
var rowSchema = parquet.SchemaOf(Row{})

// Reader decodes Rows from a Parquet file written by Writer. It is not safe for concurrent use.
type Reader struct {
	file *parquet.File
	pr   *parquet.GenericReader[Row]
	meta map[string]string
}

// OpenReader opens the Parquet file of size bytes in r. It fails with a clear error if r is not
// Parquet or lacks a column of Row with the expected type.
func OpenReader(r io.ReaderAt, size int64) (*Reader, error) {
	f, err := parquet.OpenFile(r, size)
	if err != nil {
		return nil, fmt.Errorf("not a readable Parquet file: %w", err)
	}
	if err := checkSchema(f.Schema()); err != nil {
		return nil, err
	}
	meta := make(map[string]string, len(f.Metadata().KeyValueMetadata))
	for _, kv := range f.Metadata().KeyValueMetadata {
		meta[kv.Key] = kv.Value
	}
	pr, err := newGenericReader(f)
	if err != nil {
		return nil, err
	}
	return &Reader{file: f, pr: pr, meta: meta}, nil
}

// newGenericReader turns parquet-go's panic on an unconvertible schema into an error; checkSchema
// should have caught every such case already.
func newGenericReader(f *parquet.File) (pr *parquet.GenericReader[Row], err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("not a logetl activity log file: %v", p)
		}
	}()
	return parquet.NewGenericReader[Row](f), nil
}

// checkSchema accepts a file whose columns include every column of Row with the same physical
// type and repetition.
func checkSchema(s *parquet.Schema) error {
	for _, path := range rowSchema.Columns() {
		want, _ := rowSchema.Lookup(path...)
		got, ok := s.Lookup(path...)
		if !ok {
			return fmt.Errorf("not a logetl activity log file: no column %q", path[0])
		}
		wn, gn := want.Node, got.Node
		if wn.Type().Kind() != gn.Type().Kind() || wn.Optional() != gn.Optional() || wn.Repeated() != gn.Repeated() {
			return fmt.Errorf("not a logetl activity log file: column %q is %v, want %v", path[0], gn.Type(), wn.Type())
		}
	}
	if _, err := parquet.Convert(rowSchema, s); err != nil {
		return fmt.Errorf("not a logetl activity log file: %w", err)
	}
	return nil
}

// NumRows is the number of rows in the file.
func (r *Reader) NumRows() int64 { return r.file.NumRows() }

// Metadata returns the file's key-value metadata.
func (r *Reader) Metadata() map[string]string { return r.meta }

// Read fills rows with the next rows of the file and returns how many it read; at the end it
// returns io.EOF (possibly with n > 0), like parquet.GenericReader.
func (r *Reader) Read(rows []Row) (int, error) {
	n, err := r.pr.Read(rows)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, fmt.Errorf("parquet read: %w", err)
	}
	return n, err
}

// Close releases the reader's buffers. It does not close the underlying io.ReaderAt.
func (r *Reader) Close() error { return r.pr.Close() }
