package logtable

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"strconv"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/logetl/logetl/internal/parquetlog"
	"github.com/logetl/logetl/internal/tablespec"
)

// readerNetWriteTimeout is how long MySQL waits for us to take the next packet of a streamed
// result. A slow downstream (an S3 retry, a full upload pipe) pauses reading; the default 60s
// would let the server drop the connection in the middle of an export.
const readerNetWriteTimeout = 15 * 60

// WindowReader streams the rows of one window with bounded memory: go-sql-driver reads the
// result from the socket as rows are scanned, so only the caller's batch is ever held.
type WindowReader struct {
	t     *Table
	conn  *sql.Conn
	rows  *sql.Rows
	dest  []any
	scans []scanner
	err   error
}

// scanner is one column's scan target and its conversion to the source form (see tablespec's
// values.go) into a batch.
type scanner struct {
	target any
	put    func(b *parquetlog.Batch, row parquet.Row, col int) error
}

// OpenWindow starts streaming the rows with start <= time < end in (time, id) order: the window
// index serves both the range and the order, so MySQL streams them off the index with no sort
// and no temporary table, whatever the window's size. The caller must Close the reader.
func (t *Table) OpenWindow(ctx context.Context, start, end time.Time) (*WindowReader, error) {
	conn, err := t.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("read window of %s: connect: %w", t.spec.Name, err)
	}
	// Every session setting in one round trip. TIMESTAMPs are converted to the session's zone:
	// UTC keeps them in the lake's time.
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("SET SESSION net_write_timeout = %d, time_zone = '+00:00'", readerNetWriteTimeout)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("read window of %s: session settings: %w", t.spec.Name, err)
	}
	rows, err := conn.QueryContext(ctx, t.selectSQL, start.UTC(), end.UTC())
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("read window of %s: %w", t.spec.Name, t.classify(err))
	}
	r := &WindowReader{t: t, conn: conn, rows: rows, dest: make([]any, len(t.cols)), scans: make([]scanner, len(t.cols))}
	for i, c := range t.cols {
		r.scans[i] = newScanner(c)
		r.dest[i] = r.scans[i].target
	}
	return r, nil
}

// Next appends rows to b until it is full or the window ends, and reports whether the window
// has more rows. Values are in source form, their bytes copied into b's arena.
func (r *WindowReader) Next(b *parquetlog.Batch) (more bool, err error) {
	if r.err != nil {
		return false, r.err
	}
	for !b.Full() {
		if !r.rows.Next() {
			if err := r.rows.Err(); err != nil {
				r.err = fmt.Errorf("read window of %s: %w", r.t.spec.Name, r.t.classify(err))
				return false, r.err
			}
			return false, nil
		}
		if err := r.rows.Scan(r.dest...); err != nil {
			r.err = fmt.Errorf("read window of %s: scan: %w", r.t.spec.Name, err)
			return false, r.err
		}
		row := b.Next()
		for i := range r.scans {
			if err := r.scans[i].put(b, row, i); err != nil {
				r.err = fmt.Errorf("read window of %s: column %s: %w", r.t.spec.Name, r.t.cols[i].Name, err)
				return false, r.err
			}
		}
	}
	return true, nil
}

// parseInt reads an integer the driver handed out as text.
func parseInt(p []byte, unsigned bool) (int64, error) {
	if unsigned {
		u, err := strconv.ParseUint(string(p), 10, 64)
		return int64(u), err
	}
	return strconv.ParseInt(string(p), 10, 64)
}

// Close releases the result set and its connection. Closing before the end discards the rest
// of the result (the driver drains it).
func (r *WindowReader) Close() error {
	err := r.rows.Close()
	if cerr := r.conn.Close(); err == nil {
		err = cerr
	}
	return err
}

func newScanner(c tablespec.Column) scanner {
	t := c.MySQLType()
	switch t.Kind {
	case tablespec.KindInt, tablespec.KindYear:
		// Scanned as the driver's own value: database/sql converts into a typed destination
		// such as sql.Null[uint64] by formatting the int64 as text and parsing it back, which
		// was a tenth of the export's CPU. The driver hands out int64, or text for an unsigned
		// BIGINT above MaxInt64 (kept as its two's complement, as the lake's INT64 does) and
		// for every value in the text protocol.
		var v any
		unsigned := t.Unsigned
		return scanner{&v, func(b *parquetlog.Batch, row parquet.Row, col int) error {
			switch x := v.(type) {
			case nil:
				b.Set(row, col, parquet.NullValue())
			case int64:
				b.Set(row, col, parquet.Int64Value(x))
			case []byte:
				n, err := parseInt(x, unsigned)
				if err != nil {
					return err
				}
				b.Set(row, col, parquet.Int64Value(n))
			default:
				return fmt.Errorf("integer column: driver value of type %T", v)
			}
			return nil
		}}
	case tablespec.KindFloat, tablespec.KindDouble:
		var v any
		float := t.Kind == tablespec.KindFloat
		return scanner{&v, func(b *parquetlog.Batch, row parquet.Row, col int) error {
			var f float64
			switch x := v.(type) {
			case nil:
				b.Set(row, col, parquet.NullValue())
				return nil
			case float64:
				f = x
			case float32:
				f = float64(x)
			case []byte:
				var err error
				if f, err = strconv.ParseFloat(string(x), 64); err != nil {
					return err
				}
			default:
				return fmt.Errorf("floating-point column: driver value of type %T", v)
			}
			if float {
				b.Set(row, col, parquet.FloatValue(float32(f)))
			} else {
				b.Set(row, col, parquet.DoubleValue(f))
			}
			return nil
		}}
	case tablespec.KindDate, tablespec.KindDatetime, tablespec.KindTimestamp:
		var v sql.NullTime
		date := t.Kind == tablespec.KindDate
		return scanner{&v, func(b *parquetlog.Batch, row parquet.Row, col int) error {
			switch {
			case !v.Valid:
				b.Set(row, col, parquet.NullValue())
			case date:
				y, m, d := v.Time.Date()
				days := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
				b.Set(row, col, parquet.Int32Value(int32(days)))
			default:
				b.Set(row, col, parquet.Int64Value(v.Time.UnixMicro()))
			}
			return nil
		}}
	case tablespec.KindTime:
		var v sql.RawBytes
		return scanner{&v, func(b *parquetlog.Batch, row parquet.Row, col int) error {
			if v == nil {
				b.Set(row, col, parquet.NullValue())
				return nil
			}
			us, err := tablespec.ParseMySQLTime(v)
			if err != nil {
				return err
			}
			b.Set(row, col, parquet.Int64Value(us))
			return nil
		}}
	case tablespec.KindBit:
		var v sql.RawBytes
		return scanner{&v, func(b *parquetlog.Batch, row parquet.Row, col int) error {
			if v == nil {
				b.Set(row, col, parquet.NullValue())
				return nil
			}
			var buf [8]byte
			copy(buf[8-min(len(v), 8):], v[max(0, len(v)-8):])
			b.Set(row, col, parquet.Int64Value(int64(binary.BigEndian.Uint64(buf[:]))))
			return nil
		}}
	}
	// Strings, JSON, binary and DECIMAL text: the driver's bytes, copied into the batch.
	var v sql.RawBytes
	return scanner{&v, func(b *parquetlog.Batch, row parquet.Row, col int) error {
		if v == nil {
			b.Set(row, col, parquet.NullValue())
			return nil
		}
		b.Set(row, col, parquet.ByteArrayValue(b.Copy(v)))
		return nil
	}}
}
