package parquetlog

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"

	kzstd "github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding"
)

// Key-value metadata keys that logetl writes into every file. The writer always sets
// MetaSchemaVersion; the pipeline sets the others.
const (
	MetaSchemaVersion   = "logetl.schema_version"
	MetaWindowStart     = "logetl.window_start"     // RFC 3339, inclusive
	MetaWindowEnd       = "logetl.window_end"       // RFC 3339, exclusive
	MetaGranularity     = "logetl.granularity"      // day or week
	MetaHMACKeyID       = "logetl.hmac_key_id"      // key of user_pseudonym
	MetaAEADKeyID       = "logetl.aead_key_id"      // key that sealed the *_enc columns
	MetaFieldEncryption = "logetl.field_encryption" // per-value or per-rowgroup
	MetaWriter          = "logetl.writer"           // program and version that wrote the file
)

// DefaultRowGroupRows is the row-group bound when WriterOptions.RowGroupRows is zero.
const DefaultRowGroupRows = 100_000

// WriterOptions configures a Writer. The zero value writes zstd with DefaultRowGroupRows.
type WriterOptions struct {
	// Compression is the codec of every column: zstd (default when empty), snappy, gzip or none.
	Compression string
	// RowGroupRows bounds the rows buffered before a row group is flushed, hence the writer's
	// memory, whatever the number of rows in the file.
	RowGroupRows int
	// Metadata is written as the file's key-value metadata (see the Meta* keys).
	Metadata map[string]string
	// OnRowGroup is called after each row group is flushed to the output (not for the empty
	// file's lack of one). The pipeline resets its protect.SealCache there.
	OnRowGroup func()
	// PlainSealed writes the ciphertext columns PLAIN instead of dictionary-encoded. Set it for
	// per-value encryption, where every ciphertext is unique: a dictionary then holds the
	// whole column again, plus a hash map of it, and saves nothing (it halves the export's
	// peak memory; see docs/benchmarks.md). Per-rowgroup encryption needs the dictionary.
	PlainSealed bool
}

// Codecs lists the accepted WriterOptions.Compression values.
var Codecs = []string{"zstd", "snappy", "gzip", "none"}

// codec maps a configured name to a parquet-go codec. A fresh zstd codec per writer keeps its
// encoder pool private to the writer.
func codec(name string) (compress.Codec, error) {
	switch name {
	case "", "zstd":
		return newZstdCodec(kzstd.SpeedDefault, true), nil
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

// sealedCodec is the codec of the columns holding AES-GCM ciphertext. Ciphertext is random, so
// compressing it gains only the few repeated header bytes per value; zstd's default level spends
// most of the writer's time failing to compress it. Its fastest level keeps that small gain at
// a fraction of the cost, while the clear columns keep the configured level.
func sealedCodec(name string, c compress.Codec) compress.Codec {
	if name == "" || name == "zstd" {
		return newZstdCodec(kzstd.SpeedFastest, false)
	}
	return c
}

// sealedColumns are the columns of AES-GCM ciphertext.
var sealedColumns = map[string]bool{"client_ip_enc": true, "user_agent_enc": true, "email_enc": true}

// schemaWithCodecs is Row's schema, same columns in the same order, with an explicit codec on
// every column: sealed for the ciphertext columns, clear for the others.
func schemaWithCodecs(clear, sealed compress.Codec, plainSealed bool) *parquet.Schema {
	base := parquet.SchemaOf(Row{})
	fields := base.Fields()
	out := make([]parquet.Field, len(fields))
	for i, f := range fields {
		codec := clear
		if sealedColumns[f.Name()] {
			codec = sealed
		}
		out[i] = codecField{Field: f, codec: codec}
		if plainSealed && sealedColumns[f.Name()] {
			out[i] = plainField{codecField{Field: f, codec: codec}}
		}
	}
	return parquet.NewSchema(base.Name(), orderedGroup{Node: base, fields: out})
}

// codecField overrides a field's compression codec.
type codecField struct {
	parquet.Field
	codec compress.Codec
}

func (f codecField) Compression() compress.Codec { return f.codec }

// plainField overrides a field's dictionary encoding with PLAIN.
type plainField struct{ codecField }

func (f plainField) Encoding() encoding.Encoding { return &parquet.Plain }

// orderedGroup is a group node with the given fields in the given order (parquet.Group would
// sort them by name, changing the column order of Row).
type orderedGroup struct {
	parquet.Node
	fields []parquet.Field
}

func (g orderedGroup) Fields() []parquet.Field { return g.fields }

// Writer encodes Rows as one Parquet file. It is not safe for concurrent use.
type Writer struct {
	pw         *parquet.GenericWriter[Row]
	groupRows  int
	buffered   int // rows in the current, unflushed row group
	rows       int64
	onRowGroup func()
	closed     bool
	err        error // sticky: after a failed write the file is unusable
}

// NewWriter starts a Parquet file on w. Nothing is written to w until the first row group is
// flushed or the writer is closed.
func NewWriter(w io.Writer, opts WriterOptions) (*Writer, error) {
	c, err := codec(opts.Compression)
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
	options := []parquet.WriterOption{
		parquet.Compression(c),
		schemaWithCodecs(c, sealedCodec(opts.Compression, c), opts.PlainSealed),
		parquet.MaxRowsPerRowGroup(int64(groupRows)),
		parquet.CreatedBy("logetl", "", ""),
		parquet.KeyValueMetadata(MetaSchemaVersion, strconv.Itoa(SchemaVersion)),
	}
	// Sorted keys give byte-identical files for identical inputs (idempotent re-exports).
	for _, k := range slices.Sorted(maps.Keys(opts.Metadata)) {
		if k == MetaSchemaVersion {
			continue // the writer, not the caller, knows the schema version
		}
		options = append(options, parquet.KeyValueMetadata(k, opts.Metadata[k]))
	}
	return &Writer{
		pw:         parquet.NewGenericWriter[Row](w, options...),
		groupRows:  groupRows,
		onRowGroup: opts.OnRowGroup,
	}, nil
}

// Write buffers rows, flushing a row group each time RowGroupRows rows are buffered: row group
// k holds exactly rows [k*RowGroupRows, (k+1)*RowGroupRows) of the file whatever the batch
// sizes, so a sealing stage can reset its SealCache by counting rows. A batch may cross a
// boundary; callers that seal and write in one goroutine can size batches with RowsUntilFlush.
func (w *Writer) Write(rows []Row) error {
	if w.closed {
		return errors.New("parquet write: writer is closed")
	}
	if w.err != nil {
		return w.err
	}
	for len(rows) > 0 {
		n := min(len(rows), w.groupRows-w.buffered)
		if _, err := w.pw.Write(rows[:n]); err != nil {
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
