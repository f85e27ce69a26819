package parquetlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"

	"github.com/parquet-go/parquet-go"

	"github.com/logetl/logetl/internal/tablespec"
)

// ErrCorrupt marks a file that is not Parquet, not a logetl file, or damaged.
var ErrCorrupt = errors.New("not a readable logetl Parquet file")

// Reader decodes the rows of a file written by Writer, of any table. It is not safe for
// concurrent use.
//
// parquet-go panics on some corrupted inputs (slice bounds, nil pointers in its decoders)
// instead of returning errors. `logetl decrypt` opens whatever file it is given, so the Reader
// turns those panics into errors wrapping ErrCorrupt; after one, the Reader only returns that
// error.
type Reader struct {
	file *parquet.File
	pr   *parquet.GenericReader[any]
	spec tablespec.Spec
	meta map[string]string
	err  error // sticky, set after a recovered panic
}

// OpenReader opens the Parquet file of size bytes in r. Errors wrap ErrCorrupt when r is not
// Parquet, is damaged, carries no readable policy, or has a schema other than its policy's.
func OpenReader(r io.ReaderAt, size int64) (rd *Reader, err error) {
	defer recoverCorrupt(&err)
	if err := checkFooter(r, size); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	f, err := parquet.OpenFile(r, size)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	meta := make(map[string]string, len(f.Metadata().KeyValueMetadata))
	for _, kv := range f.Metadata().KeyValueMetadata {
		meta[kv.Key] = kv.Value
	}
	spec, err := fileSpec(meta)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if err := checkSchema(f.Schema(), spec); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return &Reader{file: f, pr: parquet.NewGenericReader[any](f), spec: spec, meta: meta}, nil
}

// fileSpec is the spec a file was written under: its policy, or for a file written before
// table specs (no policy) the built-in activity_log spec, whose schema those files have.
func fileSpec(meta map[string]string) (tablespec.Spec, error) {
	raw, ok := meta[MetaPolicy]
	if !ok {
		if _, isLogetl := meta[MetaSchemaVersion]; !isLogetl {
			return tablespec.Spec{}, errors.New("no logetl metadata (not written by logetl)")
		}
		spec, _ := tablespec.Builtin().Table(tablespec.BuiltinName)
		return spec, nil
	}
	p, err := tablespec.ParsePolicy(raw)
	if err != nil {
		return tablespec.Spec{}, err
	}
	return p.Spec()
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

// checkSchema accepts a file whose leaf columns are the spec's, in order, with the same
// physical types and repetition.
func checkSchema(s *parquet.Schema, spec tablespec.Spec) error {
	want := spec.Exported()
	got := s.Fields()
	if len(got) != len(want) {
		return fmt.Errorf("file has %d columns, its %s policy %d", len(got), spec.Name, len(want))
	}
	for i, c := range want {
		g := got[i]
		wn := c.BaseNode()
		if g.Name() != c.ParquetName() || !g.Leaf() || g.Type().Kind() != wn.Type().Kind() || g.Optional() != c.Nullable || g.Repeated() {
			return fmt.Errorf("column %d is %s %v (optional %v), its policy says %s %v (optional %v)",
				i, g.Name(), g.Type(), g.Optional(), c.ParquetName(), wn.Type(), c.Nullable)
		}
	}
	return nil
}

// Spec is the spec the file was written under (its exported columns only).
func (r *Reader) Spec() tablespec.Spec { return r.spec }

// NumRows is the number of rows in the file.
func (r *Reader) NumRows() int64 { return r.file.NumRows() }

// File is the underlying parquet-go file, for column-level reads.
func (r *Reader) File() *parquet.File { return r.file }

// Metadata returns a copy of the file's key-value metadata.
func (r *Reader) Metadata() map[string]string { return maps.Clone(r.meta) }

// Read fills rows with the next rows of the file and returns how many it read; at the end it
// returns io.EOF (possibly with n > 0). The rows' values may point into the reader's buffers,
// which the next Read reuses: write or copy them before reading again.
func (r *Reader) Read(rows []parquet.Row) (n int, err error) {
	if r.err != nil {
		return 0, r.err
	}
	defer func() {
		if p := recover(); p != nil {
			n, r.err = 0, fmt.Errorf("%w: damaged file (%v)", ErrCorrupt, p)
			err = r.err
		}
	}()
	n, err = r.pr.ReadRows(rows)
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
