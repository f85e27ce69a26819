package bench

import (
	"compress/gzip"
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/fernet/fernet-go"

	"github.com/logetl/logetl/internal/export"

	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/internal/tablespec"
)

// SizeVariant is the output size of one Parquet encoding of the window.
type SizeVariant struct {
	Compression     string  `json:"compression"`
	FieldEncryption string  `json:"field_encryption"`
	Bytes           int64   `json:"bytes"`
	BytesPerRow     float64 `json:"bytes_per_row"`
	// RatioToLegacy is Bytes over the old format's bytes for the same rows.
	RatioToLegacy float64 `json:"ratio_to_legacy"`
	Seconds       float64 `json:"seconds"`
}

// LegacySize is the old service's format for the same rows.
type LegacySize struct {
	Bytes       int64   `json:"bytes"`
	BytesPerRow float64 `json:"bytes_per_row"`
	// PlainJSONBytesPerRow is the JSON line before encryption: what the records weigh in clear.
	PlainJSONBytesPerRow float64 `json:"plain_json_bytes_per_row"`
	GzipLevel            int     `json:"gzip_level"`
	Seconds              float64 `json:"seconds"`
}

// SizeResult compares output bytes per row.
type SizeResult struct {
	Rows     int64         `json:"rows"`
	Legacy   LegacySize    `json:"legacy"`
	Variants []SizeVariant `json:"parquet"`
}

// Variant returns the variant of the given codec and mode.
func (s SizeResult) Variant(compression, mode string) (SizeVariant, bool) {
	for _, v := range s.Variants {
		if v.Compression == compression && v.FieldEncryption == mode {
			return v, true
		}
	}
	return SizeVariant{}, false
}

// sizeCodecs and sizeModes are the Parquet encodings compared with the old format.
var (
	sizeCodecs = []string{"zstd", "snappy", "gzip"}
	sizeModes  = []string{protect.PerValue, protect.PerRowGroup}
)

// measureSizes encodes window w in every codec and field-encryption mode through the real
// exporter (into a byte counter instead of S3), and in the old format.
func measureSizes(ctx context.Context, db *sql.DB, store export.Store, spec tablespec.Spec, w partition.Window, rowGroupRows int, logf func(string, ...any)) (SizeResult, error) {
	var res SizeResult
	legacy, rows, err := measureLegacy(ctx, db, w)
	if err != nil {
		return res, err
	}
	res.Rows, res.Legacy = rows, legacy
	logf("  old format (JSON lines, Fernet, gzip -%d): %.1f bytes/row", legacy.GzipLevel, legacy.BytesPerRow)
	for _, mode := range sizeModes {
		for _, codec := range sizeCodecs {
			sink := &countingStore{Store: store}
			r, err := runExport(ctx, db, sink, spec, w, ExportSettings{Compression: codec, FieldEncryption: mode, RowGroupRows: rowGroupRows})
			if err != nil {
				return res, fmt.Errorf("size of %s %s: %w", codec, mode, err)
			}
			if r.Rows != rows {
				return res, fmt.Errorf("size of %s %s: exported %d rows, the old format %d", codec, mode, r.Rows, rows)
			}
			v := SizeVariant{Compression: codec, FieldEncryption: mode, Bytes: sink.uploaded, Seconds: r.Seconds}
			if rows > 0 {
				v.BytesPerRow = float64(v.Bytes) / float64(rows)
			}
			if legacy.Bytes > 0 {
				v.RatioToLegacy = float64(v.Bytes) / float64(legacy.Bytes)
			}
			logf("  parquet %s %s: %.1f bytes/row (%.3f of the old format)", codec, mode, v.BytesPerRow, v.RatioToLegacy)
			res.Variants = append(res.Variants, v)
		}
	}
	return res, nil
}

// byteCounter is an io.Writer that only counts.
type byteCounter struct{ n int64 }

func (c *byteCounter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

func measureLegacy(ctx context.Context, db *sql.DB, w partition.Window) (LegacySize, int64, error) {
	var key fernet.Key
	if err := key.Generate(); err != nil {
		return LegacySize{}, 0, err
	}
	var out byteCounter
	const level = gzip.BestCompression // Python's gzip.compress default
	lw, err := NewLegacyWriter(&out, &key, level)
	if err != nil {
		return LegacySize{}, 0, err
	}
	began := time.Now()
	rows, err := eachRecord(ctx, db, w, lw.Write)
	if err != nil {
		return LegacySize{}, 0, fmt.Errorf("old format: %w", err)
	}
	if err := lw.Close(); err != nil {
		return LegacySize{}, 0, fmt.Errorf("old format: %w", err)
	}
	l := LegacySize{Bytes: out.n, GzipLevel: level, Seconds: time.Since(began).Seconds()}
	if rows > 0 {
		l.BytesPerRow = float64(out.n) / float64(rows)
		l.PlainJSONBytesPerRow = float64(lw.PlainBytes()) / float64(rows)
	}
	return l, rows, nil
}
