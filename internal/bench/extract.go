//go:build ignore

package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/logetl/logetl/internal/activitylog"
	"github.com/logetl/logetl/internal/partition"
)

// plainSelect is the export's own query (activitylog's window read: same columns, same index,
// same order), so that its rate is the ceiling of what any export of the window can reach. Only
// the SQL text is shared: the baseline reads it with its own plain loop, not activitylog's reader.
const plainSelect = activitylog.SelectWindow

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

// extractPlain streams the window with a plain SELECT and discards every row: the driver still
// reads and decodes each packet, but nothing is converted or kept (sql.RawBytes points into the
// driver's buffer). It returns the row count and the source size.
func extractPlain(ctx context.Context, db *sql.DB, w partition.Window) (Rate, error) {
	began := time.Now()
	conn, err := db.Conn(ctx)
	if err != nil {
		return Rate{}, fmt.Errorf("extract %s: connect: %w", w, err)
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, plainSelect, w.Start.UTC(), w.End.UTC())
	if err != nil {
		return Rate{}, fmt.Errorf("extract %s: %w", w, err)
	}
	defer rows.Close()
	var (
		raw  [13]sql.RawBytes
		at   time.Time
		dest = make([]any, 14)
		n    int64
		size int64
	)
	dest[0] = &raw[0]
	dest[1] = &at
	for i := 1; i < len(raw); i++ {
		dest[i+1] = &raw[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return Rate{}, fmt.Errorf("extract %s: scan: %w", w, err)
		}
		n++
		size += int64(datetimeTextLen)
		for i := range raw {
			size += int64(len(raw[i]))
		}
	}
	if err := rows.Err(); err != nil {
		return Rate{}, fmt.Errorf("extract %s: %w", w, err)
	}
	return newRate(n, size, time.Since(began)), nil
}

// extractRecords streams the window through activitylog.WindowReader, the export's first stage
// on its own: the typed scan into Records that the export pays for before protecting anything.
func extractRecords(ctx context.Context, db *sql.DB, w partition.Window, each func(*activitylog.Record) error) (Rate, error) {
	began := time.Now()
	r, err := activitylog.OpenWindow(ctx, db, w.Start, w.End)
	if err != nil {
		return Rate{}, err
	}
	defer r.Close()
	batch := make([]activitylog.Record, 2048)
	var total int64
	for {
		n, err := r.Next(batch)
		if each != nil {
			for i := 0; i < n; i++ {
				if err := each(&batch[i]); err != nil {
					return Rate{}, err
				}
			}
		}
		total += int64(n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Rate{}, err
		}
	}
	return newRate(total, 0, time.Since(began)), nil
}
