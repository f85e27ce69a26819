// Package parquetlog writes and reads the Parquet files of the lake. A file's schema is derived
// from its table's spec (tablespec): one column per exported column, in spec order, typed as
// tablespec maps the MySQL type, optional where the column is nullable. Each file carries its
// table's policy in its metadata, so a reader needs no configuration to interpret any file.
package parquetlog

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strconv"

	kzstd "github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding"

	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/internal/tablespec"
)

// SchemaVersion is written into every file's metadata and manifest. It versions how a spec
// becomes a file (column order, types, metadata keys), not a table's columns: those are the
// policy, recorded beside it. Version 1 files, written before table specs, lack the policy and
// are read with the built-in activity_log spec, whose schema is theirs.
const SchemaVersion = 1

// Key-value metadata keys that logetl writes into every file. The writer sets MetaSchemaVersion,
// MetaTable and MetaPolicy; the pipeline sets the others.
const (
	MetaSchemaVersion   = "logetl.schema_version"
	MetaTable           = "logetl.table"            // the table's lake name
	MetaPolicy          = "logetl.policy"           // tablespec.Policy as JSON
	MetaWindowStart     = "logetl.window_start"     // RFC 3339, inclusive
	MetaWindowEnd       = "logetl.window_end"       // RFC 3339, exclusive
	MetaGranularity     = "logetl.granularity"      // day or week
	MetaHMACKeyID       = "logetl.hmac_key_id"      // key(s) of the pseudonym columns
	MetaAEADKeyID       = "logetl.aead_key_id"      // key(s) that sealed the sealed columns
	MetaFieldEncryption = "logetl.field_encryption" // per-value or per-rowgroup
	MetaWriter          = "logetl.writer"           // program and version that wrote the file
)

// DefaultRowGroupRows is the row-group bound when WriterOptions.RowGroupRows is zero.
const DefaultRowGroupRows = 100_000

// Codecs lists the accepted WriterOptions.Compression values.
var Codecs = []string{"zstd", "snappy", "gzip", "none"}

// WriterOptions configures a Writer. The zero value writes zstd, per-value sealing and
// DefaultRowGroupRows.
type WriterOptions struct {
	// Compression is the codec of the clear and pseudonym columns: zstd (default when empty),
	// snappy, gzip or none.
	Compression string
	// RowGroupRows bounds the rows buffered before a row group is flushed, hence the writer's
	// memory, whatever the number of rows in the file.
	RowGroupRows int
	// FieldEncryption is the sealing mode of the file's sealed columns (protect.PerValue or
	// protect.PerRowGroup); it decides their encoding.
	FieldEncryption string
	// Metadata is written as the file's key-value metadata (see the Meta* keys).
	Metadata map[string]string
	// OnRowGroup is called after each row group is flushed to the output. The export resets
	// its protect.SealCache there.
	OnRowGroup func()
}

// codec maps a configured name to a parquet-go codec. A fresh zstd codec per writer keeps its
// encoder pool private to the writer. zstd runs at its fastest level with entropy coding: on
// logetl-bench's data it is both faster and slightly smaller than the default level (pages are
// small and mostly dictionary indexes, delta-packed integers and hex ids: 210.4 against 210.8
// bytes/row per-value, 37.1 against 39.5 per-rowgroup).
func codec(name string) (compress.Codec, error) {
	switch name {
	case "", "zstd":
		return newZstdCodec(kzstd.SpeedFastest, true), nil
	case "snappy":
		return &parquet.Snappy, nil
	case "gzip":
		return &parquet.Gzip, nil
	case "none":
		return &parquet.Uncompressed, nil
	default:
		return nil, fmt.Errorf("unknown compression %q (want one of %v)", name, Codecs)
	}
}

// sealedCodec is the codec of the columns holding AES-GCM ciphertext. Ciphertext is random:
// in per-value mode a sealed page is nothing but ciphertext, which no codec shrinks, so it is
// stored uncompressed whatever the configured codec (compressing it was a fifth of the export's
// CPU for a few bytes per row, gained on the length prefixes that DELTA_LENGTH_BYTE_ARRAY now
// packs instead). In per-rowgroup mode the column is dictionary-encoded: its data pages hold
// small, very compressible indexes and its dictionary page the ciphertexts, so zstd's fastest
// level, without entropy coding of literals, keeps the indexes small at little cost.
func sealedCodec(name, fieldEncryption string, c compress.Codec) compress.Codec {
	if fieldEncryption != protect.PerRowGroup {
		return &parquet.Uncompressed
	}
	if name == "" || name == "zstd" {
		return newZstdCodec(kzstd.SpeedFastest, false)
	}
	return c
}

// FileSchema is the Parquet schema of spec's files: the exported columns in spec order.
//
// Encodings, chosen for what each column holds:
//   - ciphertext, per-value mode: DELTA_LENGTH_BYTE_ARRAY, uncompressed. Every value is unique (a
//     dictionary would hold the whole column again, plus a hash map of it, and save nothing);
//     the lengths, nearly constant, pack into a few bits each instead of PLAIN's 4 bytes.
//   - ciphertext, per-rowgroup mode: dictionary (each distinct value sealed once per row group).
//   - the id and time columns: DELTA_BINARY_PACKED. Both increase through the file, so their
//     deltas pack into a byte or two, leaving the codec little to do.
//   - the rest: the column's own choice (tablespec.Column.Dictionary), else PLAIN.
//
// DuckDB, Spark, Trino/Athena and pyarrow read all of these.
func FileSchema(spec tablespec.Spec, compression, fieldEncryption string) (*parquet.Schema, error) {
	clearCodec, err := codec(compression)
	if err != nil {
		return nil, err
	}
	switch fieldEncryption {
	case "", protect.PerValue, protect.PerRowGroup:
	default:
		return nil, fmt.Errorf("field encryption %q: want one of %v", fieldEncryption, protect.Modes)
	}
	sealed := sealedCodec(compression, fieldEncryption, clearCodec)
	cols := spec.Exported()
	fields := make([]parquet.Field, len(cols))
	for i, c := range cols {
		node := c.BaseNode()
		cc := clearCodec
		var enc encoding.Encoding = &parquet.Plain
		switch {
		case c.Treatment == tablespec.Seal && fieldEncryption == protect.PerRowGroup:
			enc, cc = &parquet.RLEDictionary, sealed
		case c.Treatment == tablespec.Seal:
			enc, cc = &parquet.DeltaLengthByteArray, sealed
		case c.Dictionary():
			enc = &parquet.RLEDictionary
		case c.Treatment == tablespec.Clear && c.Encoding == "" && (c.Name == spec.IDColumn || c.Name == spec.TimeColumn) && isInt(node):
			enc = &parquet.DeltaBinaryPacked
		}
		if enc == &parquet.Plain {
			node = plainNode{node}
		} else {
			node = parquet.Encoded(node, enc)
		}
		node = parquet.Compressed(node, cc)
		if c.Nullable {
			node = parquet.Optional(node)
		}
		fields[i] = field{Node: node, name: c.ParquetName()}
	}
	name := spec.Name
	if name == "" {
		name = "logetl"
	}
	return parquet.NewSchema(name, group{Node: parquet.Group{}, fields: fields}), nil
}

// isInt tells the INT32 and INT64 leaves, the types DELTA_BINARY_PACKED encodes.
func isInt(n parquet.Node) bool {
	k := n.Type().Kind()
	return k == parquet.Int32 || k == parquet.Int64
}

// plainNode keeps a leaf PLAIN: parquet-go would otherwise pick a default encoding of its own.
type plainNode struct{ parquet.Node }

func (plainNode) Encoding() encoding.Encoding { return &parquet.Plain }

// field names a node within its group.
type field struct {
	parquet.Node
	name string
}

func (f field) Name() string { return f.name }

// Value is part of parquet.Field; logetl never maps Go structs onto these files.
func (f field) Value(reflect.Value) reflect.Value { return reflect.Value{} }

// group is a group node with the given fields in the given order (parquet.Group would sort them
// by name, changing the spec's column order).
type group struct {
	parquet.Node
	fields []parquet.Field
}

func (g group) Fields() []parquet.Field { return g.fields }

// Writer encodes rows of one table as one Parquet file. It is not safe for concurrent use.
type Writer struct {
	pw         *parquet.GenericWriter[any]
	cols       int
	groupRows  int
	buffered   int // rows in the current, unflushed row group
	rows       int64
	onRowGroup func()
	closed     bool
	err        error // sticky: after a failed write the file is unusable
}

// NewWriter starts a Parquet file of spec's table on w. Nothing is written to w until the first
// row group is flushed or the writer is closed.
func NewWriter(w io.Writer, spec tablespec.Spec, opts WriterOptions) (*Writer, error) {
	schema, err := FileSchema(spec, opts.Compression, opts.FieldEncryption)
	if err != nil {
		return nil, err
	}
	groupRows := opts.RowGroupRows
	if groupRows == 0 {
		groupRows = DefaultRowGroupRows
	}
	if groupRows < 0 {
		return nil, fmt.Errorf("row group rows %d: must be positive", groupRows)
	}
	meta := maps.Clone(opts.Metadata)
	if meta == nil {
		meta = map[string]string{}
	}
	// The writer, not the caller, knows what the file is.
	meta[MetaSchemaVersion] = strconv.Itoa(SchemaVersion)
	meta[MetaTable] = spec.Name
	meta[MetaPolicy] = spec.Policy().Marshal()
	options := []parquet.WriterOption{
		schema,
		parquet.MaxRowsPerRowGroup(int64(groupRows)),
		parquet.CreatedBy("logetl", "", ""),
		// Page bounds go to the column index and the row groups' statistics, where readers
		// look for them (DuckDB, Spark and Trino prune with those); repeating them in every
		// page header computed each page's bounds twice.
		parquet.DataPageStatistics(false),
	}
	// The bounds of ciphertext mean nothing and cost a comparison of every value.
	for _, c := range spec.Exported() {
		if c.Treatment == tablespec.Seal {
			options = append(options, parquet.SkipPageBounds(c.ParquetName()))
		}
	}
	// Sorted keys give byte-identical files for identical inputs (idempotent re-exports).
	for _, k := range slices.Sorted(maps.Keys(meta)) {
		options = append(options, parquet.KeyValueMetadata(k, meta[k]))
	}
	return &Writer{
		pw:         parquet.NewGenericWriter[any](w, options...),
		cols:       len(spec.Exported()),
		groupRows:  groupRows,
		onRowGroup: opts.OnRowGroup,
	}, nil
}

// Write buffers rows (each with one value per exported column, levels and column indexes set
// as Batch sets them), flushing a row group each time RowGroupRows rows are buffered: row group
// k holds exactly rows [k*RowGroupRows, (k+1)*RowGroupRows) of the file whatever the batch
// sizes, so a sealing stage can reset its SealCache by counting rows.
func (w *Writer) Write(rows []parquet.Row) error {
	if w.closed {
		return errors.New("parquet write: writer is closed")
	}
	if w.err != nil {
		return w.err
	}
	for len(rows) > 0 {
		n := min(len(rows), w.groupRows-w.buffered)
		if _, err := w.pw.WriteRows(rows[:n]); err != nil {
			w.err = fmt.Errorf("parquet write: %w", err)
			return w.err
		}
		rows = rows[n:]
		w.buffered += n
		w.rows += int64(n)
		if w.buffered == w.groupRows {
			if err := w.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// RowsUntilFlush is how many more rows Write accepts before it flushes the current row group.
func (w *Writer) RowsUntilFlush() int { return w.groupRows - w.buffered }

func (w *Writer) flush() error {
	if err := w.pw.Flush(); err != nil {
		w.err = fmt.Errorf("parquet flush row group: %w", err)
		return w.err
	}
	w.buffered = 0
	if w.onRowGroup != nil {
		w.onRowGroup()
	}
	return nil
}

// Close flushes the last row group and writes the footer. It does not close the underlying
// io.Writer. A file with no rows is still a valid Parquet file with the full schema.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	if w.buffered > 0 {
		if err := w.flush(); err != nil {
			return err
		}
	}
	if err := w.pw.Close(); err != nil {
		w.err = fmt.Errorf("parquet close: %w", err)
		return w.err
	}
	return nil
}

// Rows is the number of rows written so far.
func (w *Writer) Rows() int64 { return w.rows }
