package activitylog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"time"
)

// SelectWindow is the query that reads one window (binds: start, end) in (occurred_at, id) order;
// exported so that the benchmark's plain-SELECT baseline measures exactly this query. The index
// activity_log_window (occurred_at, id) serves both the range and the order, so MySQL streams rows
// straight off the index with no filesort and no temporary table, whatever the window size. Within
// one microsecond of occurred_at rows come in id order; across microseconds, occurred_at order.
// This is a deliberate refinement of plain "id order": ids are assigned at insert but occurred_at
// at the start of the request, so the two orders can differ by the few rows that commit late, and
// sorting those by id would cost a filesort of the whole window.
const SelectWindow = `SELECT id, occurred_at, request_id, user_id, action, method, route, path,
  status, post_id, client_ip, user_agent, email, message
FROM activity_log FORCE INDEX (activity_log_window)
WHERE occurred_at >= ? AND occurred_at < ?
ORDER BY occurred_at, id`

// readerNetWriteTimeout is how long MySQL waits for us to take the next packet of a streamed
// result. A slow downstream (an S3 retry, a full upload pipe) pauses reading; the default 60s
// would let the server drop the connection in the middle of an export.
const readerNetWriteTimeout = 15 * 60

// WindowReader streams the records of one window with bounded memory: go-sql-driver reads the
// result from the socket as rows are scanned, so only the caller's batch is ever held.
type WindowReader struct {
	conn *sql.Conn
	rows *sql.Rows
	err  error
}

// OpenWindow starts streaming the records with start <= occurred_at < end. The caller must
// Close the reader. db must use parseTime=true and loc=UTC.
func OpenWindow(ctx context.Context, db *sql.DB, start, end time.Time) (*WindowReader, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("read window: connect: %w", err)
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("SET SESSION net_write_timeout = %d", readerNetWriteTimeout)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("read window: set net_write_timeout: %w", err)
	}
	rows, err := conn.QueryContext(ctx, SelectWindow, start.UTC(), end.UTC())
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("read window: query: %w", err)
	}
	return &WindowReader{conn: conn, rows: rows}, nil
}

// Next fills batch with the next records and returns how many it filled. At the end of the
// window it returns 0, io.EOF. The strings of earlier batches stay valid (they are not reused).
func (r *WindowReader) Next(batch []Record) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	var (
		userID, postID sql.Null[uint64]
		email          sql.Null[string]
		status         int
	)
	n := 0
	for n < len(batch) {
		if !r.rows.Next() {
			if err := r.rows.Err(); err != nil {
				r.err = fmt.Errorf("read window: %w", err)
			} else {
				r.err = io.EOF
			}
			break
		}
		rec := &batch[n]
		if err := r.rows.Scan(&rec.ID, &rec.OccurredAt, &rec.RequestID, &userID, &rec.Action, &rec.Method,
			&rec.Route, &rec.Path, &status, &postID, &rec.ClientIP, &rec.UserAgent, &email, &rec.Message); err != nil {
			r.err = fmt.Errorf("read window: scan: %w", err)
			return n, r.err
		}
		rec.OccurredAt = rec.OccurredAt.UTC()
		rec.Status = status
		rec.UserID = nil
		if userID.Valid {
			v := userID.V
			rec.UserID = &v
		}
		rec.PostID = nil
		if postID.Valid {
			v := postID.V
			rec.PostID = &v
		}
		rec.Email = nil
		if email.Valid {
			v := email.V
			rec.Email = &v
		}
		n++
	}
	if n > 0 && errors.Is(r.err, io.EOF) {
		return n, nil
	}
	if n > 0 {
		return n, r.err
	}
	return 0, r.err
}

// Close releases the result set and its connection. Closing before the end discards the rest of
// the result (the driver drains it).
func (r *WindowReader) Close() error {
	err := r.rows.Close()
	if cerr := r.conn.Close(); err == nil {
		err = cerr
	}
	return err
}

// WindowCount is the number of records of one grid window.
type WindowCount struct {
	Start time.Time // the grid window's start (UTC)
	Rows  int64
}

// CountWindows counts the records of [from, to) per window of the grid of the given length
// (aligned to the Unix epoch), in one GROUP BY over the (occurred_at, id) index. Windows without
// rows are absent. from and to need not be aligned: the first and last windows then count only
// their part inside [from, to).
func CountWindows(ctx context.Context, db *sql.DB, from, to time.Time, window time.Duration) ([]WindowCount, error) {
	if window < time.Second || window%time.Second != 0 {
		return nil, fmt.Errorf("count windows: window %s must be whole seconds", window)
	}
	secs := int64(window / time.Second)
	// TIMESTAMPDIFF on DATETIME involves no session time zone, unlike UNIX_TIMESTAMP.
	rows, err := db.QueryContext(ctx, `SELECT TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', occurred_at) DIV ? AS w, COUNT(*)
FROM activity_log FORCE INDEX (activity_log_window)
WHERE occurred_at >= ? AND occurred_at < ?
GROUP BY w ORDER BY w`, secs, from.UTC(), to.UTC())
	if err != nil {
		return nil, fmt.Errorf("count windows %s..%s: %w", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), err)
	}
	defer rows.Close()
	var out []WindowCount
	for rows.Next() {
		var w, n int64
		if err := rows.Scan(&w, &n); err != nil {
			return nil, fmt.Errorf("count windows: scan: %w", err)
		}
		out = append(out, WindowCount{Start: time.Unix(w*secs, 0).UTC(), Rows: n})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count windows: %w", err)
	}
	return out, nil
}
