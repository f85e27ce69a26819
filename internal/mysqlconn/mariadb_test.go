//go:build integration

package mysqlconn_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/logetl/logetl/internal/mysqlconn"
	"github.com/logetl/logetl/internal/testenv"
)

// TestReadTimeoutEndsASilentServerButNotAPausedReader shows what the read timeout bounds on a
// real server: how long the server stays silent while the client waits (a statement that
// takes longer fails), not how long the client takes between rows (the export's reader
// pausing while S3 is slow keeps its stream).
func TestReadTimeoutEndsASilentServerButNotAPausedReader(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := testenv.NewDatabase(ctx, "mysqlconn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Drop(context.Background()) })
	const readTimeout = time.Second
	open := func(t *testing.T, read time.Duration) *sql.DB {
		t.Helper()
		o := mysqlconn.Pipeline()
		o.ReadTimeout, o.Ping = read, true
		db, err := mysqlconn.Open(ctx, d.DSN, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}

	t.Run("a statement silent for longer than the read timeout fails", func(t *testing.T) {
		var slept int
		err := open(t, readTimeout).QueryRowContext(ctx, "SELECT SLEEP(3)").Scan(&slept)
		if err == nil {
			t.Fatal("SELECT SLEEP(3) returned within a 1s read timeout")
		}
		if !errors.Is(err, mysql.ErrInvalidConn) && !errors.Is(err, driver.ErrBadConn) {
			t.Fatalf("error %v, want the driver's broken connection", err)
		}
		// The same statement passes with room for it: the failure was the timeout's.
		if err := open(t, 10*time.Second).QueryRowContext(ctx, "SELECT SLEEP(3)").Scan(&slept); err != nil || slept != 0 {
			t.Fatalf("SELECT SLEEP(3) with a 10s read timeout: %d, %v", slept, err)
		}
	})

	t.Run("a reader that pauses longer than the read timeout keeps its stream", func(t *testing.T) {
		db := open(t, readTimeout)
		// 20 MB: far more than the socket buffers, so the server is blocked writing the rest
		// while the client pauses, as in an export waiting for S3.
		const rows = 20000
		rs, err := db.QueryContext(ctx, "SELECT seq, REPEAT('x', 1000) FROM seq_1_to_20000")
		if err != nil {
			t.Fatal(err)
		}
		defer rs.Close()
		n := 0
		var seq int
		var pad string
		for rs.Next() {
			if err := rs.Scan(&seq, &pad); err != nil {
				t.Fatal(err)
			}
			n++
			if n == 100 {
				time.Sleep(3 * readTimeout)
			}
		}
		if err := rs.Err(); err != nil {
			t.Fatalf("stream broke after %d rows: %v", n, err)
		}
		if n != rows || seq != rows || len(pad) != 1000 {
			t.Fatalf("read %d rows, last %d", n, seq)
		}
	})
}
