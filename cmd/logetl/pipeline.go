package main

import (
	"context"

	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/export"
	"github.com/logetl/logetl/internal/pipeline"
)

// pipelineFlags are the settings of every command that runs the pipeline in its own process
// (export, verify, purge, worker).
type pipelineFlags struct {
	config.DataDir
	config.MySQL
	config.S3
	config.Keyring
	config.Partitioning
	config.Export
	config.Tables
	config.Retention
	config.Ranges
}

// openPipeline checks the configuration and opens MySQL, S3, the keyring and every table.
func (f pipelineFlags) openPipeline(ctx context.Context, component string, needs pipeline.Needs) (*pipeline.Pipeline, error) {
	// Every command that opens the pipeline runs exports in this process.
	export.TuneGC()
	return pipeline.Open(ctx, f.settings(component), needs)
}

func (f pipelineFlags) settings(component string) pipeline.Settings {
	return pipeline.Settings{DataDir: f.DataDir, MySQL: f.MySQL, S3: f.S3, Keyring: f.Keyring, Partitioning: f.Partitioning,
		Export: f.Export, Tables: f.Tables, Retention: f.Retention, Component: component}
}

// maxWindows is the --max-range limit in windows of a grid step.
func (f pipelineFlags) maxWindows(t *pipeline.Table) int64 {
	if f.MaxRange <= 0 {
		return 0
	}
	return int64(f.MaxRange.D() / t.Export.Grid().Length())
}
