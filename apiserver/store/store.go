// Package store is the API's MySQL storage: users, posts and the activity log. Every method that
// changes state takes the activity_log record of the action and writes it in the same
// transaction as the change, so a committed change always has its log row and a rolled-back one
// never does. All SQL goes through placeholders.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/logetl/logetl/internal/activitylog"
	"github.com/logetl/logetl/internal/mysqlconn"
)

// Errors callers branch on.
var (
	// ErrNotFound: the user or post does not exist.
	ErrNotFound = errors.New("not found")
	// ErrForbidden: the post exists but belongs to another user.
	ErrForbidden = errors.New("not the owner")
	// ErrUserGone: the acting user no longer exists (withdrawn while holding a valid token).
	ErrUserGone = errors.New("user no longer exists")
)

// DuplicateError says a unique field is taken; Fields names them ("email", "nickname").
type DuplicateError struct{ Fields []string }

func (e *DuplicateError) Error() string { return fmt.Sprintf("duplicate %v", e.Fields) }

// Store reads and writes the API's tables.
type Store struct {
	db  *sql.DB
	now func() time.Time
}

// New returns a Store on db.
func New(db *sql.DB) *Store { return &Store{db: db, now: time.Now} }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping MySQL: %w", err)
	}
	return nil
}

// timestamp is the one clock reading of an action: the row's created/updated time and its log
// row's occurred_at agree, at the microsecond precision of DATETIME(6).
func (s *Store) timestamp() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Open opens a pool on dsn for the API with mysqlconn's API settings: parseTime and UTC forced
// (the schema stores UTC), connect, read and write timeouts unless the DSN sets them, so that a
// hung server fails requests instead of blocking them, pool limits, and parameters interpolated
// client-side to save a round trip per statement.
func Open(dsn string) (*sql.DB, error) {
	return mysqlconn.Open(context.Background(), dsn, mysqlconn.API()) // no ping: nothing to bound
}

// Unavailable reports whether err means the database could not be reached or did not answer in
// time (as opposed to refusing a statement): the API answers it with 503, and the client may
// retry. database/sql reconnects on its own once the server is back.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var netErr net.Error
	var myErr *mysql.MySQLError
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, mysql.ErrInvalidConn),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, sql.ErrConnDone), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	case errors.As(err, &netErr):
		return true
	case errors.As(err, &myErr):
		switch myErr.Number {
		case 1040, // too many connections
			1053, // server shutdown in progress
			1205, // lock wait timeout
			1213, // deadlock: the transaction was rolled back whole, retrying is safe
			1927: // connection killed
			return true
		}
	}
	return false
}

// mysqlErrNo returns the server error number of err, or 0.
func mysqlErrNo(err error) uint16 {
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) {
		return myErr.Number
	}
	return 0
}

// withLog runs change in a transaction, then appends rec (which change may complete, e.g. with
// the new post's id) and commits. If any step fails, nothing is committed.
func (s *Store) withLog(ctx context.Context, rec *activitylog.Record, change func(tx *sql.Tx, now time.Time) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	now := s.timestamp()
	if change != nil {
		if err := change(tx, now); err != nil {
			return err
		}
	}
	rec.OccurredAt = now
	if err := insertActivity(ctx, tx, rec); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit %s: %w", rec.Action, err)
	}
	return nil
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Column widths of activity_log (migrations/0001_init.sql), in characters.
const (
	maxRequestID = 64
	maxAction    = 32
	maxMethod    = 8
	maxRoute     = 128
	maxPath      = 512
	maxClientIP  = 45
	maxUserAgent = 512
	maxEmail     = 254
	maxMessage   = 255
)

// insertActivity writes rec. Every text value goes through logText (logtext.go), the one place
// where what a client sent is made storable: escaped and cut to its column, so that no header,
// path or body value can make strict mode refuse the row and with it the user's action.
func insertActivity(ctx context.Context, db execer, rec *activitylog.Record) error {
	var email any
	if rec.Email != nil {
		email = logText(*rec.Email, maxEmail)
	}
	res, err := db.ExecContext(ctx, `INSERT INTO activity_log
		(occurred_at, request_id, user_id, action, method, route, path, status, post_id, client_ip, user_agent, email, message)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		rec.OccurredAt, logText(rec.RequestID, maxRequestID), nullID(rec.UserID), logText(rec.Action, maxAction),
		logText(rec.Method, maxMethod), logText(rec.Route, maxRoute), logText(rec.Path, maxPath), rec.Status, nullID(rec.PostID),
		logText(rec.ClientIP, maxClientIP), logText(rec.UserAgent, maxUserAgent), email, logText(rec.Message, maxMessage))
	if err != nil {
		return fmt.Errorf("write activity log %s: %w", rec.Action, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("write activity log %s: %w", rec.Action, err)
	}
	rec.ID = uint64(id)
	return nil
}

// AppendActivity writes rec on its own, for actions that change nothing else (a failed login).
func (s *Store) AppendActivity(ctx context.Context, rec *activitylog.Record) error {
	return s.withLog(ctx, rec, nil)
}

func nullID(id *uint64) any {
	if id == nil {
		return nil
	}
	return *id
}
