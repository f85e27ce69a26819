package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/export"
	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/internal/s3store"
)

// exportCmd exports windows straight from MySQL to S3, without Temporal: the operator's tool
// for a one-off export or a backfill on a machine without the worker.
type exportCmd struct {
	config.DataDir
	config.MySQL
	config.S3
	config.Keyring
	config.Partitioning
	config.Export

	From        string `name:"from" required:"" help:"Start of the range, RFC 3339 (2026-11-24T10:00:00Z) or a date (local midnight in --timezone); on the window grid."`
	To          string `name:"to" required:"" help:"End of the range (exclusive), same formats; no later than now minus --safety-lag."`
	Granularity string `name:"granularity" enum:"day,week" default:"day" help:"day: export every grid window of the range into day partitions; week: compact each ISO week the range touches from its daily files."`

	stdout io.Writer
}

func (c *exportCmd) Run(ctx context.Context) error {
	p, err := openPipeline(ctx, c.MySQL, c.S3, c.Partitioning, c.Export, c.Keyring.Resolve(c.DataDir), c.Granularity == "day")
	if err != nil {
		return err
	}
	defer p.close()
	grid := p.exp.Grid()
	from, to, err := grid.ParseRange(c.From, c.To, time.Now(), c.SafetyLag)
	if err != nil {
		return err
	}
	out := writerOr(c.stdout)
	var files, rows, bytes int64
	if c.Granularity == "week" {
		for _, w := range grid.Weeks(from, to) {
			m, err := p.exp.CompactWeek(ctx, w, to, nil)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "%s\t%d rows\t%d bytes\t%d daily files\n", m.Object, m.Rows, m.Bytes, len(m.Sources))
			files, rows, bytes = files+1, rows+m.Rows, bytes+m.Bytes
		}
	} else {
		windows, err := grid.Windows(from, to)
		if err != nil {
			return err
		}
		for _, w := range windows {
			ms, err := p.exp.ExportWindow(ctx, w, nil)
			if err != nil {
				return err
			}
			for _, m := range ms {
				fmt.Fprintf(out, "%s\t%d rows\t%d bytes\n", m.Object, m.Rows, m.Bytes)
				files, rows, bytes = files+1, rows+m.Rows, bytes+m.Bytes
			}
		}
	}
	slog.InfoContext(ctx, "export done", "from", from.Format(time.RFC3339), "to", to.Format(time.RFC3339),
		"granularity", c.Granularity, "files", files, "rows", rows, "bytes", bytes, "bucket", c.S3Bucket)
	return nil
}

// pipeline is what export and verify open: the database, the bucket and the exporter.
type pipeline struct {
	exp *export.Exporter
	db  *sql.DB
}

func (p *pipeline) close() { p.db.Close() }

// openPipeline checks the configuration and connects to MySQL and S3. The keyring is loaded
// only when needKeys: verification without repair reads counts and manifests, never values.
func openPipeline(ctx context.Context, my config.MySQL, s3cfg config.S3, part config.Partitioning, ex config.Export, keyringPath string, needKeys bool) (*pipeline, error) {
	ecfg, err := export.ConfigFrom(s3cfg, part, ex)
	if err != nil {
		return nil, err
	}
	var prot export.Protector
	if needKeys {
		kr, err := protect.LoadKeyring(keyringPath)
		if err != nil {
			return nil, err // names the file and how to create it
		}
		if prot, err = protect.NewProtector(kr); err != nil {
			return nil, err
		}
	}
	store, err := s3store.New(ctx, s3cfg)
	if err != nil {
		return nil, err
	}
	if err := store.CheckBucket(ctx); err != nil {
		return nil, err
	}
	db, err := openMySQL(ctx, my.MySQLDSN)
	if err != nil {
		return nil, err
	}
	exp, err := export.New(ecfg, db, store, prot)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &pipeline{exp: exp, db: db}, nil
}

// openMySQL opens the DSN with parseTime=true and loc=UTC forced: occurred_at is stored in UTC,
// and any other setting would shift every window.
func openMySQL(ctx context.Context, dsn string) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: --mysql-dsn: %v", export.ErrInvalidConfig, err)
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: --mysql-dsn: %v", export.ErrInvalidConfig, err)
	}
	db := sql.OpenDB(conn)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("MySQL at %s: %w", cfg.Addr, err)
	}
	return db, nil
}
