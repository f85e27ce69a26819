// Package pipeline opens what the commands that run exports need (export, verify, purge, the
// worker): the table specs, one MySQL pool per source, the bucket, the keyring, and per table
// its exporter and purger with its layout resolved. A table's window and time zone come from
// its spec, else from explicit flags, else from its lake's layout descriptor (a table exported
// before keeps its grid whatever the defaults), else from the defaults.
package pipeline

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/export"
	"github.com/logetl/logetl/internal/lake"
	"github.com/logetl/logetl/internal/mysqlconn"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/internal/retention"
	"github.com/logetl/logetl/internal/s3store"
	"github.com/logetl/logetl/internal/tablespec"
)

// Settings are the pipeline's configuration groups.
type Settings struct {
	DataDir      config.DataDir
	MySQL        config.MySQL
	S3           config.S3
	Keyring      config.Keyring
	Partitioning config.Partitioning
	Export       config.Export
	Tables       config.Tables
	Retention    config.Retention
	// Component names the process in the layout descriptors it may create ("worker", "export").
	Component string
	// StoreOptions are passed to s3store.New (tests: static credentials).
	StoreOptions []s3store.Option
}

// Needs says what a command needs of the pipeline at start.
type Needs struct {
	// Keys loads the keyring: verification without repair reads counts and manifests, never values.
	Keys bool
	// ServicesNow pings MySQL and checks the bucket before returning, so a one-shot command fails
	// at once with the reason.
	ServicesNow bool
}

// Pipeline is the opened pipeline.
type Pipeline struct {
	Store  *s3store.Store
	Specs  tablespec.File
	Tables []*Table
	Prot   *protect.Protector
	dbs    map[string]*sql.DB
}

// Table is one table's export library.
type Table struct {
	Spec   tablespec.Spec
	Export *export.Exporter
	// Purger is nil when the table keeps its rows (no retention).
	Purger *retention.Purger
	DB     *sql.DB
}

// Name is the table's lake name.
func (t *Table) Name() string { return t.Spec.Name }

// Specs loads the --tables file, or the built-in spec without one.
func Specs(t config.Tables) (tablespec.File, error) {
	if t.TablesFile == "" {
		return tablespec.Builtin(), nil
	}
	return tablespec.Load(t.TablesFile)
}

// Open checks the configuration and opens MySQL, S3 and the keyring, and every table's exporter.
func Open(ctx context.Context, s Settings, needs Needs) (*Pipeline, error) {
	specs, err := Specs(s.Tables)
	if err != nil {
		return nil, err
	}
	p := &Pipeline{Specs: specs, dbs: map[string]*sql.DB{}}
	if needs.Keys {
		kr, err := protect.LoadKeyring(s.Keyring.Resolve(s.DataDir))
		if err != nil {
			return nil, err // names the file and how to create it
		}
		if p.Prot, err = protect.NewProtector(kr); err != nil {
			return nil, err
		}
	}
	if p.Store, err = s3store.New(ctx, s.S3, s.StoreOptions...); err != nil {
		return nil, err
	}
	if needs.ServicesNow {
		if err := p.Store.CheckBucket(ctx); err != nil {
			return nil, err
		}
	}
	ok := false
	defer func() {
		if !ok {
			p.Close()
		}
	}()
	for _, spec := range specs.Tables {
		dsn := s.MySQL.MySQLDSN
		if spec.Source != "" {
			if dsn, err = specs.Sources[spec.Source].Resolve(spec.Source); err != nil {
				return nil, err
			}
		}
		db, ok := p.dbs[dsn]
		if !ok {
			opts := mysqlconn.Pipeline()
			opts.Ping = needs.ServicesNow
			if db, err = mysqlconn.Open(ctx, dsn, opts); err != nil {
				return nil, fmt.Errorf("%w: table %s: %v", export.ErrInvalidConfig, spec.Name, err)
			}
			p.dbs[dsn] = db
		}
		layout := lake.Layout{Prefix: s.S3.S3Prefix, Table: spec.Name}
		grid, err := ResolveGrid(ctx, spec, s.Export, s.Partitioning, func(ctx context.Context) (lake.Descriptor, bool, error) {
			return lake.ReadDescriptor(ctx, p.Store, layout)
		})
		if err != nil {
			return nil, err
		}
		var prot export.Protector
		if p.Prot != nil {
			prot = p.Prot
		}
		exp, err := export.New(export.Config{
			Spec: spec, Layout: layout, Grid: grid,
			Compression: s.Export.Compression, RowGroupRows: s.Export.RowGroupRows, FieldEncryption: s.Export.FieldEncryption,
			Component: s.Component,
		}, db, p.Store, prot)
		if err != nil {
			return nil, err
		}
		t := &Table{Spec: spec, Export: exp, DB: db}
		if spec.Retention > 0 {
			t.Purger = retention.New(exp, retention.Config{ChunkRows: s.Retention.PurgeChunkRows, Pause: s.Retention.PurgePause,
				MaxLockWaits: s.Retention.PurgeMaxLockWaits, SlowChunk: s.Retention.PurgeSlowChunk})
		}
		p.Tables = append(p.Tables, t)
	}
	ok = true
	return p, nil
}

// ResolveGrid decides a table's window grid and time zone: the spec's, else the explicit
// flags', else what the table's lake recorded (read only when needed), else the defaults. A
// conflict between an explicit value and the lake is left to the exporter's layout check,
// which refuses it with both values named.
func ResolveGrid(ctx context.Context, spec tablespec.Spec, ex config.Export, part config.Partitioning, readLake func(context.Context) (lake.Descriptor, bool, error)) (partition.Grid, error) {
	window := spec.Window.D()
	if window == 0 {
		window = ex.Window
	}
	zone := spec.Timezone
	if zone == "" {
		zone = part.Timezone
	}
	if (window == 0 || zone == "") && readLake != nil {
		d, ok, err := readLake(ctx)
		if err != nil {
			return partition.Grid{}, fmt.Errorf("table %s: no window or time zone is configured, and the lake's layout cannot be read to adopt it: %w", spec.Name, err)
		}
		if ok {
			if window == 0 {
				if window, err = d.WindowLength(); err != nil {
					return partition.Grid{}, err
				}
			}
			if zone == "" {
				zone = d.TimeZone
			}
		}
	}
	if window == 0 {
		window = config.DefaultWindow
	}
	if zone == "" {
		zone = config.DefaultTimezone
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return partition.Grid{}, fmt.Errorf("%w: table %s: timezone %q: %v", export.ErrInvalidConfig, spec.Name, zone, err)
	}
	return partition.NewGrid(window, loc)
}

// Table returns the named table; "" names the only table when there is one.
func (p *Pipeline) Table(name string) (*Table, error) {
	if name == "" {
		if len(p.Tables) == 1 {
			return p.Tables[0], nil
		}
		return nil, fmt.Errorf("%w: the specs declare %d tables (%v): choose one with --table", export.ErrInvalidConfig, len(p.Tables), p.Specs.Names())
	}
	for _, t := range p.Tables {
		if t.Spec.Name == name {
			return t, nil
		}
	}
	return nil, fmt.Errorf("%w: no table %q in the specs (they declare %v)", export.ErrInvalidConfig, name, p.Specs.Names())
}

// Close closes the MySQL pools.
func (p *Pipeline) Close() {
	for _, db := range p.dbs {
		if err := db.Close(); err != nil && !errors.Is(err, sql.ErrConnDone) {
			slog.Warn("close MySQL", "error", err)
		}
	}
}
