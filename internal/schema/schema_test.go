//go:build integration

package schema_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/logetl/logetl/internal/schema"
	"github.com/logetl/logetl/internal/testenv"
)

// freshDSN names a database that does not exist yet on the test server.
func freshDSN(t *testing.T) (string, func()) {
	t.Helper()
	cfg, err := mysql.ParseDSN(testenv.MySQLServerDSN())
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName = "logetl_test_schema_" + t.Name()[len("Test"):]
	if len(cfg.DBName) > 60 {
		cfg.DBName = cfg.DBName[:60]
	}
	name := cfg.DBName
	return cfg.FormatDSN(), func() {
		root, err := sql.Open("mysql", testenv.MySQLServerDSN())
		if err == nil {
			_, _ = root.Exec("DROP DATABASE IF EXISTS `" + name + "`")
			root.Close()
		}
	}
}

func TestApplyCreatesTheDatabaseAndMigratesIdempotently(t *testing.T) {
	ctx := context.Background()
	dsn, drop := freshDSN(t)
	drop()
	defer drop()
	for i := 0; i < 2; i++ {
		if err := schema.Apply(ctx, dsn); err != nil {
			t.Fatalf("Apply %d: %v", i+1, err)
		}
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil || n == 0 {
		t.Fatalf("schema_migrations after Apply: %d rows (%v)", n, err)
	}
}

func TestMigrateCreatesTheDatabaseAndIsIdempotent(t *testing.T) {
	ctx := context.Background()
	dsn, drop := freshDSN(t)
	drop()
	defer drop()

	if err := schema.EnsureDatabase(ctx, dsn); err != nil {
		t.Fatalf("EnsureDatabase: %v", err)
	}
	if err := schema.EnsureDatabase(ctx, dsn); err != nil {
		t.Fatalf("EnsureDatabase again: %v", err)
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	// Two processes migrating at once (api and migrate started together) apply each step once.
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = schema.Migrate(ctx, db) }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Migrate %d: %v", i, err)
		}
	}
	if err := schema.Migrate(ctx, db); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	if err := schema.Apply(ctx, dsn); err != nil {
		t.Fatalf("Apply on an up-to-date database: %v", err)
	}

	migs, err := schema.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var rows, maxVersion int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&rows, &maxVersion); err != nil {
		t.Fatal(err)
	}
	if rows != len(migs) || maxVersion != migs[len(migs)-1].Version {
		t.Fatalf("schema_migrations has %d rows up to version %d, want %d up to %d", rows, maxVersion, len(migs), migs[len(migs)-1].Version)
	}
	for _, table := range []string{"users", "posts", "activity_log"} {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", table).Scan(&n); err != nil || n != 1 {
			t.Errorf("table %s: found %d (%v)", table, n, err)
		}
	}
	// The export's window read is served by (occurred_at, id) with no sort.
	var cols string
	if err := db.QueryRowContext(ctx, `SELECT GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'activity_log' AND INDEX_NAME = 'activity_log_window'`).Scan(&cols); err != nil || cols != "occurred_at,id" {
		t.Errorf("activity_log_window index columns %q (%v), want occurred_at,id", cols, err)
	}
}
