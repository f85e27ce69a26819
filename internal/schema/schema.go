// Package schema owns the MySQL schema of logetl: versioned, idempotent migrations embedded in
// the binary, applied by 'logetl migrate' and at the start of 'logetl api'.
package schema

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"

	"github.com/logetl/logetl/internal/mysqlconn"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one numbered schema step.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations in version order.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		if !ok {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", name)
		}
		v, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", name, err)
		}
		body, err := migrationFiles.ReadFile("migrations/" + name)
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", name, err)
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// EnsureDatabase creates the database named in dsn if it does not exist yet, so that a fresh
// MariaDB needs no manual step.
func EnsureDatabase(ctx context.Context, dsn string) error {
	cfg, err := mysqlconn.ParseDSN(dsn)
	if err != nil {
		return err
	}
	if cfg.DBName == "" {
		return fmt.Errorf("MySQL DSN names no database")
	}
	name := cfg.DBName
	cfg.DBName = ""
	db, err := mysqlconn.OpenConfig(ctx, cfg, mysqlconn.Schema())
	if err != nil {
		return err
	}
	defer db.Close()
	q := "CREATE DATABASE IF NOT EXISTS `" + strings.ReplaceAll(name, "`", "``") + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
	if _, err := db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// Apply brings the database of dsn to the current schema: it creates the database if needed and
// applies the migrations. It is what `logetl migrate`, `logetl api` at start and `logetl dev` run.
func Apply(ctx context.Context, dsn string) error {
	if err := EnsureDatabase(ctx, dsn); err != nil {
		return err
	}
	db, err := mysqlconn.Open(ctx, dsn, mysqlconn.Schema())
	if err != nil {
		return err
	}
	defer db.Close()
	return Migrate(ctx, db)
}

// Migrate applies every migration newer than the database's recorded version. A named lock
// keeps two processes (api and migrate started together) from applying the same step twice.
func Migrate(ctx context.Context, db *sql.DB) error {
	migs, err := Migrations()
	if err != nil {
		return err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: connect: %w", err)
	}
	defer conn.Close()
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK('logetl_migrate', 60)").Scan(&got); err != nil || got.Int64 != 1 {
		return fmt.Errorf("migrate: take lock: %v", err)
	}
	defer func() {
		// The server releases the lock with the connection anyway; this only frees it sooner.
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT RELEASE_LOCK('logetl_migrate')")
	}()

	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INT NOT NULL PRIMARY KEY,
		name VARCHAR(255) NOT NULL,
		applied_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
	) ENGINE=InnoDB`); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	var current int
	if err := conn.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	for _, m := range migs {
		if m.Version <= current {
			continue
		}
		// MySQL DDL commits implicitly, so each statement is applied on its own and written to be
		// idempotent (IF NOT EXISTS): a step interrupted halfway is safe to run again.
		for _, stmt := range splitStatements(m.SQL) {
			if _, err := conn.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("migrate %s: %w", m.Name, err)
			}
		}
		if _, err := conn.ExecContext(ctx, "INSERT INTO schema_migrations (version, name) VALUES (?, ?)", m.Version, m.Name); err != nil {
			return fmt.Errorf("migrate %s: record version: %w", m.Name, err)
		}
		slog.InfoContext(ctx, "applied migration", "version", m.Version, "name", m.Name)
	}
	return nil
}

// splitStatements splits a migration on ';' at line ends, dropping '--' comment lines.
func splitStatements(src string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(src, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "--") || trimmed == "" {
			continue
		}
		cur.WriteString(line)
		cur.WriteString("\n")
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}
