// Package mysqlconn opens logetl's MySQL/MariaDB pools: the API's, the export pipeline's and the
// schema migrator's. Every pool reads times as UTC, bounds how long a connection may take to
// be established and how long the server may stay silent, and has pool limits, so that a
// hung or unreachable server fails the request or the activity instead of blocking it.
package mysqlconn

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/go-sql-driver/mysql"
)

// ErrInvalidDSN marks a DSN the driver cannot parse: a configuration error, never retried.
var ErrInvalidDSN = errors.New("invalid MySQL DSN")

// Options are the connection and pool settings of one pool. Timeouts given in the DSN
// (timeout=, readTimeout=, writeTimeout=) take precedence over these.
type Options struct {
	// ConnectTimeout bounds establishing one connection: TCP connect, TLS, the server's
	// greeting and authentication (the driver's own "timeout" covers only the TCP connect).
	ConnectTimeout time.Duration
	// ReadTimeout is the longest the server may stay silent while the client waits for a reply
	// (each read of the socket is bounded, not the whole statement); 0 waits forever.
	ReadTimeout time.Duration
	// WriteTimeout bounds each write of the socket.
	WriteTimeout time.Duration

	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
	ConnMaxIdleTime time.Duration

	// InterpolateParams has the driver substitute placeholders client-side (it escapes them
	// and refuses the charsets where that is unsafe), saving a prepare round trip per
	// statement.
	InterpolateParams bool
	// Ping checks at Open that the server answers.
	Ping bool
}

// Timeouts shared by the profiles below.
const (
	// ConnectTimeout: a reachable server greets within milliseconds.
	ConnectTimeout = 5 * time.Second
	// WriteTimeout: statements are small; a full socket buffer that does not drain for this
	// long is a dead server.
	WriteTimeout = 30 * time.Second
	// APIReadTimeout is above the API's request timeout (LOGETL_REQUEST_TIMEOUT, 10s by
	// default), which cancels a slow statement first; this one catches a silent server.
	APIReadTimeout = 30 * time.Second
	// PipelineReadTimeout bounds the server's silence in exports, verification and purges.
	// The longest legitimate silences are: a verify's GROUP BY count over its whole range
	// (nothing is sent until the scan ends), GET_LOCK on an object key (60 s, internal/export),
	// a DELETE chunk waiting for row locks (innodb_lock_wait_timeout, 50 s by default). The
	// window reader pausing while S3 is slow does not count: no read is pending then, and the
	// server side waits for it up to its net_write_timeout (900 s, internal/activitylog). The
	// activity heartbeats on a timer whatever MySQL does, so without this a hung server would
	// hold an export until its 30 min start-to-close timeout.
	PipelineReadTimeout = 5 * time.Minute
)

// API is the pool of `logetl api`: many short requests at once.
func API() Options {
	return Options{ConnectTimeout: ConnectTimeout, ReadTimeout: APIReadTimeout, WriteTimeout: WriteTimeout,
		MaxOpenConns: 32, MaxIdleConns: 32, ConnMaxLifetime: 5 * time.Minute, ConnMaxIdleTime: time.Minute,
		InterpolateParams: true}
}

// Pipeline is the pool of the export pipeline (worker, export, verify). A worker runs at most
// 4 activities (worker.Options) and an export holds two connections (its key lock and its
// stream), so 16 never starves one; idle ones are few because activities come in bursts.
func Pipeline() Options {
	return Options{ConnectTimeout: ConnectTimeout, ReadTimeout: PipelineReadTimeout, WriteTimeout: WriteTimeout,
		MaxOpenConns: 16, MaxIdleConns: 4, ConnMaxLifetime: 5 * time.Minute, ConnMaxIdleTime: time.Minute}
}

// Schema is the pool of the migrator: one connection at a time. It has no read timeout: an
// index build on a large table sends nothing until it is done, and cutting the connection
// would not stop it on the server anyway.
func Schema() Options {
	return Options{ConnectTimeout: ConnectTimeout, WriteTimeout: WriteTimeout, MaxOpenConns: 2, MaxIdleConns: 1,
		ConnMaxLifetime: 5 * time.Minute}
}

// ParseDSN parses dsn and forces parseTime=true and loc=UTC: occurred_at and every other
// DATETIME column hold UTC, and any other setting would shift them. Its error wraps
// ErrInvalidDSN and never repeats the DSN (it holds the password).
func ParseDSN(dsn string) (*mysql.Config, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w (--mysql-dsn, LOGETL_MYSQL_DSN): %v", ErrInvalidDSN, err)
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	return cfg, nil
}

// Open parses dsn and opens a pool with opts.
func Open(ctx context.Context, dsn string, opts Options) (*sql.DB, error) {
	cfg, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	return OpenConfig(ctx, cfg, opts)
}

// OpenConfig opens a pool on a parsed configuration (see ParseDSN), which it does not modify.
func OpenConfig(ctx context.Context, cfg *mysql.Config, opts Options) (*sql.DB, error) {
	cfg = driverConfig(cfg, opts)
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w (--mysql-dsn, LOGETL_MYSQL_DSN): %v", ErrInvalidDSN, err)
	}
	db := sql.OpenDB(boundedConnector{Connector: connector, addr: cfg.Addr, timeout: cfg.Timeout})
	db.SetMaxOpenConns(opts.MaxOpenConns)
	db.SetMaxIdleConns(opts.MaxIdleConns)
	db.SetConnMaxLifetime(opts.ConnMaxLifetime)
	db.SetConnMaxIdleTime(opts.ConnMaxIdleTime)
	if !opts.Ping {
		return db, nil
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		var ct *connectTimeoutError
		if errors.As(err, &ct) {
			return nil, err // names the address already
		}
		return nil, fmt.Errorf("MySQL at %s: %w", cfg.Addr, err)
	}
	return db, nil
}

// driverConfig is cfg with opts applied where the DSN set nothing.
func driverConfig(cfg *mysql.Config, opts Options) *mysql.Config {
	cfg = cfg.Clone()
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.InterpolateParams = cfg.InterpolateParams || opts.InterpolateParams
	if cfg.Timeout == 0 {
		cfg.Timeout = opts.ConnectTimeout
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = opts.ReadTimeout
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = opts.WriteTimeout
	}
	// The driver reports the cause of an "invalid connection" (a read timeout, a reset) only
	// to its logger; make that a structured warning.
	cfg.Logger = driverLogger{}
	return cfg
}

// boundedConnector bounds a whole connection set-up by the connect timeout. The driver bounds
// only the TCP connect by it; the greeting and authentication that follow wait for each read
// up to the read timeout, which is long for the pipeline (none for the migrator), so a server
// that accepts connections and never answers would hold every new connection that long.
type boundedConnector struct {
	driver.Connector
	addr    string
	timeout time.Duration
}

func (c boundedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if c.timeout <= 0 {
		return c.Connector.Connect(ctx)
	}
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	conn, err := c.Connector.Connect(cctx)
	if err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		return nil, &connectTimeoutError{addr: c.addr, timeout: c.timeout, err: err}
	}
	return conn, err
}

// connectTimeoutError says the server did not complete a connection in time.
type connectTimeoutError struct {
	addr    string
	timeout time.Duration
	err     error
}

func (e *connectTimeoutError) Error() string {
	return fmt.Sprintf("MySQL at %s did not complete the connection within %s: %v", e.addr, e.timeout, e.err)
}

func (e *connectTimeoutError) Unwrap() error { return e.err }

// driverLogger sends the driver's messages to slog.
type driverLogger struct{}

func (driverLogger) Print(v ...any) { slog.Warn("mysql driver", "msg", fmt.Sprint(v...)) }
