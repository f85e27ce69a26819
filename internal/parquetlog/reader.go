package parquetlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"

	"github.com/parquet-go/parquet-go"
)

// rowSchema is the schema of Row, the one every logetl file has.
var rowSchema = parquet.SchemaOf(Row{})

// ErrCorrupt marks a file that is not Parquet, not a logetl activity-log file, or damaged.
var ErrCorrupt = errors.New("not a readable logetl Parquet file")

// Reader decodes Rows from a Parquet file written by Writer. It is not safe for concurrent use.
//
// parquet-go panics on some corrupted inputs (slice bounds, nil pointers in its decoders)
// instead of returning errors. `logetl decrypt` opens whatever file it is given, so the Reader
// turns those panics into errors wrapping ErrCorrupt; after one, the Reader only returns that
// error.
type Reader struct {
	file *parquet.File
	pr   *parquet.GenericReader[Row]
	meta map[string]string
	err  error // sticky, set after a recovered panic
}

// OpenReader opens the Parquet file of size bytes in r. Errors wrap ErrCorrupt when r is not
// Parquet, is damaged, or lacks a column of Row with the expected type.
func OpenReader(r io.ReaderAt, size int64) (rd *Reader, err error) {
	defer recoverCorrupt(&err)
	if err := checkFooter(r, size); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	f, err := parquet.OpenFile(r, size)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if err := checkSchema(f.Schema()); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	meta := make(map[string]string, len(f.Metadata().KeyValueMetadata))
	for _, kv := range f.Metadata().KeyValueMetadata {
		meta[kv.Key] = kv.Value
	}
	return &Reader{file: f, pr: parquet.NewGenericReader[Row](f), meta: meta}, nil
}

// recoverCorrupt turns a panic of parquet-go's decoders into an error wrapping ErrCorrupt.
func recoverCorrupt(err *error) {
	if p := recover(); p != nil {
		*err = fmt.Errorf("%w: damaged file (%v)", ErrCorrupt, p)
	}
}

// checkFooter validates the trailer (footer length, magic) before parquet-go reads the footer:
// parquet-go allocates the declared footer length up front, so a corrupted length would make
// it try to allocate gigabytes.
func checkFooter(r io.ReaderAt, size int64) error {
	const magic = "PAR1"
	if size < 12 {
		return fmt.Errorf("%d bytes is too short", size)
	}
	var trailer [8]byte
	if _, err := r.ReadAt(trailer[:], size-8); err != nil {
		return fmt.Errorf("read footer: %w", err)
	}
	if string(trailer[4:]) != magic {
		return errors.New("no PAR1 magic at the end")
	}
	if footer := int64(binary.LittleEndian.Uint32(trailer[:4])); footer > size-12 {
		return fmt.Errorf("footer length %d exceeds the file's %d bytes", footer, size)
	}
	return nil
}

// checkSchema accepts a file whose columns include every column of Row with the same physical
// type and repetition.
func checkSchema(s *parquet.Schema) error {
	for _, path := range rowSchema.Columns() {
		want, _ := rowSchema.Lookup(path...)
		got, ok := s.Lookup(path...)
		if !ok {
			return fmt.Errorf("not an activity log file: no column %q", path[0])
		}
		wn, gn := want.Node, got.Node
		if !gn.Leaf() || wn.Type().Kind() != gn.Type().Kind() || wn.Optional() != gn.Optional() || wn.Repeated() != gn.Repeated() {
			return fmt.Errorf("not an activity log file: column %q is %v, want %v", path[0], gn.Type(), wn.Type())
		}
	}
	if _, err := parquet.Convert(rowSchema, s); err != nil {
		return fmt.Errorf("not an activity log file: %w", err)
	}
	return nil
}

// NumRows is the number of rows in the file.
func (r *Reader) NumRows() int64 { return r.file.NumRows() }

// Metadata returns a copy of the file's key-value metadata.
func (r *Reader) Metadata() map[string]string { return maps.Clone(r.meta) }

// Read fills rows with the next rows of the file and returns how many it read; at the end it
// returns io.EOF (possibly with n > 0), like parquet.GenericReader. Byte slices in rows may be
// reused by the next Read.
func (r *Reader) Read(rows []Row) (n int, err error) {
	if r.err != nil {
		return 0, r.err
	}
	defer func() {
		if p := recover(); p != nil {
			n, r.err = 0, fmt.Errorf("%w: damaged file (%v)", ErrCorrupt, p)
			err = r.err
		}
	}()
	n, err = r.pr.Read(rows)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, fmt.Errorf("parquet read: %w", err)
	}
	return n, err
}

// Close releases the reader's buffers. It does not close the underlying io.ReaderAt.
func (r *Reader) Close() (err error) {
	defer recoverCorrupt(&err)
	return r.pr.Close()
}
