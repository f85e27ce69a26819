package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/export"
	"github.com/logetl/logetl/internal/mysqlconn"
	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/internal/s3store"
)

// pipeline is what export and verify open: the database, the bucket and the exporter.
type pipeline struct {
	exp *export.Exporter
	db  *sql.DB
}

func (p *pipeline) close() { p.db.Close() }

// pipelineNeeds says what a command needs of the pipeline at start.
type pipelineNeeds struct {
	// keys loads the keyring: verification without repair reads counts and manifests, never values.
	keys bool
	// servicesNow pings MySQL and checks the bucket before returning, so a one-shot command fails
	// at once with the reason. The worker starts without them: its activities retry until
	// MySQL and S3 answer.
	servicesNow bool
}

// pipelineFlags are the settings of every command that runs exports in its own process
// (export, verify, worker).
type pipelineFlags struct {
	config.DataDir
	config.MySQL
	config.S3
	config.Keyring
	config.Partitioning
	config.Export
}

// openPipeline checks the configuration and opens MySQL, S3 and the keyring.
func (f pipelineFlags) openPipeline(ctx context.Context, needs pipelineNeeds) (*pipeline, error) {
	my, s3cfg, keyringPath := f.MySQL, f.S3, f.Keyring.Resolve(f.DataDir)
	ecfg, err := export.ConfigFrom(s3cfg, f.Partitioning, f.Export)
	if err != nil {
		return nil, err
	}
	// Every command that opens the pipeline runs exports in this process.
	export.TuneGC()
	var prot export.Protector
	if needs.keys {
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
	if needs.servicesNow {
		if err := store.CheckBucket(ctx); err != nil {
			return nil, err
		}
	}
	db, err := openMySQL(ctx, my.MySQLDSN, needs.servicesNow)
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

// openMySQL opens the pipeline's pool (mysqlconn.Pipeline: UTC, connect/read/write timeouts,
// pool limits); ping checks the server at once.
func openMySQL(ctx context.Context, dsn string, ping bool) (*sql.DB, error) {
	opts := mysqlconn.Pipeline()
	opts.Ping = ping
	db, err := mysqlconn.Open(ctx, dsn, opts)
	if errors.Is(err, mysqlconn.ErrInvalidDSN) {
		return nil, fmt.Errorf("%w: %v", export.ErrInvalidConfig, err)
	}
	return db, err
}
