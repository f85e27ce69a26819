// Package testenv gives tests the real services they run against: a MariaDB database of their
// own, a versitygw S3 server and a Temporal dev server. Services that are missing make the test
// fail with the command that provides them; nothing here skips.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/logetl/logetl/internal/schema"
)

// MySQLServerDSN is the DSN of the server that test databases are created on. LOGETL_TEST_MYSQL_DSN
// overrides it; the database part of that DSN is ignored.
func MySQLServerDSN() string {
	if dsn := os.Getenv("LOGETL_TEST_MYSQL_DSN"); dsn != "" {
		return dsn
	}
	return "root@tcp(127.0.0.1:3306)/?parseTime=true&loc=UTC"
}

// Database is a throwaway database on the test MariaDB server.
type Database struct {
	Name string
	DSN  string
	DB   *sql.DB
}

var unsafeName = regexp.MustCompile(`[^a-z0-9_]`)

// NewDatabase creates an empty, migrated database named logetl_test_<prefix>_<random>. Call
// Drop when the package's tests are done (typically from TestMain).
func NewDatabase(ctx context.Context, prefix string) (*Database, error) {
	d, err := NewEmptyDatabase(ctx, prefix)
	if err != nil {
		return nil, err
	}
	if err := schema.Migrate(ctx, d.DB); err != nil {
		_ = d.Drop(ctx)
		return nil, err
	}
	return d, nil
}

// NewEmptyDatabase creates a database without logetl's schema, as an application's own
// database would be.
func NewEmptyDatabase(ctx context.Context, prefix string) (*Database, error) {
	cfg, err := mysql.ParseDSN(MySQLServerDSN())
	if err != nil {
		return nil, fmt.Errorf("test MySQL DSN: %w", err)
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := "logetl_test_" + unsafeName.ReplaceAllString(strings.ToLower(prefix), "_") + "_" + hex.EncodeToString(rnd[:])
	cfg.DBName = ""
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	root, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return nil, err
	}
	defer root.Close()
	if err := root.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("test MariaDB at %s is not reachable (run scripts/services.sh mariadb): %w", cfg.Addr, err)
	}
	if _, err := root.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		return nil, fmt.Errorf("create test database: %w", err)
	}
	cfg.DBName = name
	d := &Database{Name: name, DSN: cfg.FormatDSN()}
	d.DB, err = sql.Open("mysql", d.DSN)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Drop closes the handle and removes the database.
func (d *Database) Drop(ctx context.Context) error {
	if d.DB != nil {
		d.DB.Close()
	}
	root, err := sql.Open("mysql", MySQLServerDSN())
	if err != nil {
		return err
	}
	defer root.Close()
	_, err = root.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+d.Name+"`")
	return err
}

// Truncate empties the given tables, for tests that need a clean slate inside one package.
func (d *Database) Truncate(ctx context.Context, tables ...string) error {
	conn, err := d.DB.Conn(ctx) // FOREIGN_KEY_CHECKS is per session: keep one connection
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET FOREIGN_KEY_CHECKS=0"); err != nil {
		return err
	}
	defer func() {
		// The connection goes back to the pool with the checks on; failing to restore them is
		// an error of the next test on this connection, not of this truncate.
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SET FOREIGN_KEY_CHECKS=1")
	}()
	for _, t := range tables {
		if _, err := conn.ExecContext(ctx, "TRUNCATE TABLE `"+t+"`"); err != nil {
			return fmt.Errorf("truncate %s: %w", t, err)
		}
	}
	return nil
}

// RunWithDatabase is the TestMain of a package whose tests share one database: it creates it
// into *db, runs the tests, drops it and exits with the tests' code.
func RunWithDatabase(m interface{ Run() int }, prefix string, db **Database) {
	ctx := context.Background()
	d, err := NewDatabase(ctx, prefix)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s tests: %v\n", prefix, err)
		os.Exit(1)
	}
	*db = d
	code := m.Run()
	_ = d.Drop(ctx)
	os.Exit(code)
}
