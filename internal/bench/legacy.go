package bench

import (
	"bufio"
	"compress/gzip"
	"context"
	"database/sql"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/fernet/fernet-go"

	"github.com/logetl/logetl/internal/activitylog"
	"github.com/logetl/logetl/internal/partition"
)

// LegacyWriter writes records in the old service's format: each record a JSON line (as Python's
// json.dumps prints a dict), Fernet-encrypted on its own (github.com/fernet/fernet-go), and the
// tokens written as one JSON array that is gzipped as a whole. Nothing is held but the current
// token, so any number of records fits.
type LegacyWriter struct {
	key   *fernet.Key
	gz    *gzip.Writer
	bw    *bufio.Writer
	line  []byte
	rows  int64
	plain int64 // bytes of the JSON lines before encryption
	err   error
}

// NewLegacyWriter starts an envelope on w. level is the gzip level; the old service used
// Python's gzip.compress, whose default is 9 (gzip.BestCompression).
func NewLegacyWriter(w io.Writer, key *fernet.Key, level int) (*LegacyWriter, error) {
	gz, err := gzip.NewWriterLevel(w, level)
	if err != nil {
		return nil, fmt.Errorf("legacy format: %w", err)
	}
	lw := &LegacyWriter{key: key, gz: gz, bw: bufio.NewWriterSize(gz, 64<<10)}
	_, lw.err = lw.bw.WriteString("[")
	return lw, nil
}

// Write appends one record to the envelope. Its token is stamped with the record's time, as
// the old service encrypted each line when it logged it.
func (lw *LegacyWriter) Write(r *activitylog.Record) error {
	if lw.err != nil {
		return lw.err
	}
	lw.line = AppendLegacyJSON(lw.line[:0], r)
	lw.plain += int64(len(lw.line)) + 1 // the line's newline in the old log file
	tok, err := fernet.EncryptAndSignAtTime(lw.line, lw.key, r.OccurredAt)
	if err != nil {
		lw.err = fmt.Errorf("legacy format: fernet: %w", err)
		return lw.err
	}
	if lw.rows > 0 {
		_, lw.err = lw.bw.WriteString(", ")
	}
	if lw.err == nil {
		lw.err = lw.bw.WriteByte('"')
	}
	if lw.err == nil {
		_, lw.err = lw.bw.Write(tok)
	}
	if lw.err == nil {
		lw.err = lw.bw.WriteByte('"')
	}
	lw.rows++
	return lw.err
}

// Rows is the number of records written; PlainBytes the size of their JSON lines.
func (lw *LegacyWriter) Rows() int64       { return lw.rows }
func (lw *LegacyWriter) PlainBytes() int64 { return lw.plain }

// Close ends the array and the gzip stream (not w).
func (lw *LegacyWriter) Close() error {
	if lw.err != nil {
		return lw.err
	}
	if err := lw.bw.WriteByte(']'); err != nil {
		return err
	}
	if err := lw.bw.Flush(); err != nil {
		return err
	}
	return lw.gz.Close()
}

// legacySelect reads activity_log's records for the old format (it logged every column).
const legacySelect = `SELECT id, occurred_at, request_id, user_id, action, method, route, path, status, post_id,
	client_ip, user_agent, email, message FROM activity_log FORCE INDEX (activity_log_window)
	WHERE occurred_at >= ? AND occurred_at < ? ORDER BY occurred_at, id`

// eachRecord streams the window's activity_log records to each.
func eachRecord(ctx context.Context, db *sql.DB, w partition.Window, each func(*activitylog.Record) error) (int64, error) {
	rows, err := db.QueryContext(ctx, legacySelect, w.Start.UTC(), w.End.UTC())
	if err != nil {
		return 0, fmt.Errorf("old format: read %s: %w", w, err)
	}
	defer rows.Close()
	var (
		n          int64
		r          activitylog.Record
		user, post sql.NullInt64
		email      sql.NullString
	)
	for rows.Next() {
		if err := rows.Scan(&r.ID, &r.OccurredAt, &r.RequestID, &user, &r.Action, &r.Method, &r.Route, &r.Path,
			&r.Status, &post, &r.ClientIP, &r.UserAgent, &email, &r.Message); err != nil {
			return n, fmt.Errorf("old format: scan: %w", err)
		}
		r.UserID, r.PostID, r.Email = optUint(user), optUint(post), nil
		if email.Valid {
			e := email.String
			r.Email = &e
		}
		if err := each(&r); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

func optUint(v sql.NullInt64) *uint64 {
	if !v.Valid {
		return nil
	}
	u := uint64(v.Int64)
	return &u
}

// AppendLegacyJSON appends r as the old service logged it: a flat JSON object with Python's
// default separators (", " and ": "), ASCII only, timestamps in isoformat with the UTC offset.
func AppendLegacyJSON(b []byte, r *activitylog.Record) []byte {
	b = append(b, `{"id": `...)
	b = strconv.AppendUint(b, r.ID, 10)
	b = append(b, `, "timestamp": `...)
	b = appendJSONString(b, r.OccurredAt.UTC().Format("2006-01-02T15:04:05.000000+00:00"))
	b = append(b, `, "request_id": `...)
	b = appendJSONString(b, r.RequestID)
	b = append(b, `, "user_id": `...)
	b = appendOptUint(b, r.UserID)
	b = append(b, `, "action": `...)
	b = appendJSONString(b, r.Action)
	b = append(b, `, "method": `...)
	b = appendJSONString(b, r.Method)
	b = append(b, `, "route": `...)
	b = appendJSONString(b, r.Route)
	b = append(b, `, "path": `...)
	b = appendJSONString(b, r.Path)
	b = append(b, `, "status_code": `...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, `, "post_id": `...)
	b = appendOptUint(b, r.PostID)
	b = append(b, `, "ip": `...)
	b = appendJSONString(b, r.ClientIP)
	b = append(b, `, "user_agent": `...)
	b = appendJSONString(b, r.UserAgent)
	b = append(b, `, "email": `...)
	if r.Email != nil {
		b = appendJSONString(b, *r.Email)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `, "message": `...)
	b = appendJSONString(b, r.Message)
	return append(b, '}')
}

func appendOptUint(b []byte, v *uint64) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	return strconv.AppendUint(b, *v, 10)
}

// appendJSONString quotes s as Python's json.dumps does with ensure_ascii: non-ASCII as \uXXXX.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r == '\n':
			b = append(b, '\\', 'n')
		case r == '\r':
			b = append(b, '\\', 'r')
		case r == '\t':
			b = append(b, '\\', 't')
		case r < 0x20 || r > 0x7e:
			if r > 0xffff {
				r1, r2 := utf16Surrogates(r)
				b = append(b, '\\', 'u', hex[r1>>12], hex[r1>>8&15], hex[r1>>4&15], hex[r1&15])
				r = r2
			}
			if r == utf8.RuneError {
				r = 0xfffd
			}
			b = append(b, '\\', 'u', hex[r>>12], hex[r>>8&15], hex[r>>4&15], hex[r&15])
		default:
			b = append(b, byte(r))
		}
	}
	return append(b, '"')
}

func utf16Surrogates(r rune) (rune, rune) {
	r -= 0x10000
	return 0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff
}
