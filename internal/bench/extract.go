package bench

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/logetl/logetl/internal/logtable"
	"github.com/logetl/logetl/internal/parquetlog"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/tablespec"
)

// datetimeTextLen is the length of a DATETIME(6) value as text, how the source size counts it.
const datetimeTextLen = len("2006-01-02 15:04:05.000000")

// Rate is a measured throughput.
type Rate struct {
	Rows       int64   `json:"rows"`
	Seconds    float64 `json:"seconds"`
	RowsPerSec float64 `json:"rows_per_sec"`
	// SourceBytes is the size of the window's column values as MySQL holds them (strings'
	// lengths, numbers in decimal, timestamps as 26 characters), the "source data" of MB/s.
	SourceBytes int64   `json:"source_bytes,omitempty"`
	SourceMBps  float64 `json:"source_mb_per_sec,omitempty"`
	// CPU is what each process spent meanwhile (absent where not measured).
	CPU *CPUUse `json:"cpu,omitempty"`
}

func newRate(rows, srcBytes int64, d time.Duration) Rate {
	r := Rate{Rows: rows, Seconds: d.Seconds(), SourceBytes: srcBytes}
	if d > 0 {
		r.RowsPerSec = float64(rows) / d.Seconds()
		r.SourceMBps = float64(srcBytes) / 1e6 / d.Seconds()
	}
	return r
}

// openTable checks the bench table against its spec, as the exporter does.
func openTable(ctx context.Context, db *sql.DB, spec tablespec.Spec) (*logtable.Table, error) {
	t, _, err := logtable.Open(ctx, db, spec)
	return t, err
}

// extractPlain streams the window with the export's own query (logtable's: same columns, same
// index, same order) and discards every row: the driver still reads and decodes each packet,
// but nothing is converted or kept (sql.RawBytes points into the driver's buffer; time columns,
// which the DSN's parseTime makes time.Time, are scanned as such). It returns the row count and
// the source size.
func extractPlain(ctx context.Context, tbl *logtable.Table, w partition.Window) (Rate, error) {
	began := time.Now()
	conn, err := tbl.DB().Conn(ctx)
	if err != nil {
		return Rate{}, fmt.Errorf("extract %s: connect: %w", w, err)
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, tbl.SelectWindow(), w.Start.UTC(), w.End.UTC())
	if err != nil {
		return Rate{}, fmt.Errorf("extract %s: %w", w, err)
	}
	defer rows.Close()
	cols := tbl.Spec().Exported()
	raw := make([]sql.RawBytes, len(cols))
	times := make([]sql.NullTime, len(cols))
	dest := make([]any, len(cols))
	var timeCols int64
	for i, c := range cols {
		switch c.MySQLType().Kind {
		case tablespec.KindDate, tablespec.KindDatetime, tablespec.KindTimestamp:
			dest[i] = &times[i]
			timeCols++
		default:
			dest[i] = &raw[i]
		}
	}
	var n, size int64
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return Rate{}, fmt.Errorf("extract %s: scan: %w", w, err)
		}
		n++
		size += timeCols * int64(datetimeTextLen)
		for i := range raw {
			size += int64(len(raw[i]))
		}
	}
	if err := rows.Err(); err != nil {
		return Rate{}, fmt.Errorf("extract %s: %w", w, err)
	}
	return newRate(n, size, time.Since(began)), nil
}

// extractSpec streams the window through logtable.WindowReader into parquetlog batches: the
// export's first stage on its own, the spec-driven scan the export pays for before protecting
// anything.
func extractSpec(ctx context.Context, tbl *logtable.Table, w partition.Window) (Rate, error) {
	began := time.Now()
	r, err := tbl.OpenWindow(ctx, w.Start, w.End)
	if err != nil {
		return Rate{}, err
	}
	defer r.Close()
	b := parquetlog.NewBatch(tbl.Spec(), 2048)
	var total int64
	for {
		b.Reset()
		more, err := r.Next(b)
		if err != nil {
			return Rate{}, err
		}
		total += int64(b.Len())
		if !more {
			break
		}
	}
	return newRate(total, 0, time.Since(began)), nil
}
