package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/logtable"
	"github.com/logetl/logetl/internal/mysqlconn"
	"github.com/logetl/logetl/internal/pipeline"
	"github.com/logetl/logetl/internal/tablespec"
)

// tablesCmd groups the table-spec commands.
type tablesCmd struct {
	Inspect tablesInspectCmd `cmd:"" name:"inspect" help:"Print a starting table spec for a MySQL table from information_schema: every column drop except the obvious ones, likely personal data flagged, the index the export needs."`
	List    tablesListCmd    `cmd:"" name:"list" help:"List the configured tables with their source, window, time zone and retention."`
	Check   tablesCheckCmd   `cmd:"" name:"check" help:"Check every configured table against MySQL: columns and types, the window index, columns the spec does not name."`
	Builtin tablesBuiltinCmd `cmd:"" name:"builtin" help:"Print the built-in spec (the API's activity_log), to start a spec file that keeps exporting it."`
}

type tablesBuiltinCmd struct {
	stdout io.Writer
}

func (c *tablesBuiltinCmd) Run() error {
	_, err := writerOr(c.stdout).Write(tablespec.BuiltinYAML())
	return err
}

type tablesInspectCmd struct {
	config.MySQL
	Table string `arg:"" name:"mysql-table" help:"The MySQL table, table or database.table."`
	Name  string `name:"name" help:"Lake name of the table (default: the MySQL table's name)."`

	stdout io.Writer
}

func (c *tablesInspectCmd) Run(ctx context.Context) error {
	opts := mysqlconn.Pipeline()
	opts.Ping = true
	db, err := mysqlconn.Open(ctx, c.MySQLDSN, opts)
	if err != nil {
		return err
	}
	defer db.Close()
	database, table, ok := strings.Cut(c.Table, ".")
	if !ok {
		database, table = "", c.Table
	}
	info, err := logtable.Inspect(ctx, db, database, table)
	if err != nil {
		return err
	}
	if len(info.Columns) == 0 {
		return fmt.Errorf("MySQL table %s does not exist (or this user may not see it)", c.Table)
	}
	sg := tablespec.Suggest(info, c.Name)
	fmt.Fprint(writerOr(c.stdout), sg.YAML())
	return nil
}

type tablesListCmd struct {
	config.Tables
	config.Export
	config.Partitioning

	stdout io.Writer
}

func (c *tablesListCmd) Run(context.Context) error {
	specs, err := pipeline.Specs(c.Tables)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(writerOr(c.stdout), 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tMYSQL TABLE\tSOURCE\tWINDOW\tTIME ZONE\tRETENTION\tCOLUMNS\tPROTECTED")
	for _, s := range specs.Tables {
		orDefault := func(v, d string) string {
			if v == "" || v == "0s" {
				return d
			}
			return v
		}
		source := orDefault(s.Source, "--mysql-dsn")
		window := orDefault(s.Window.String(), orDefault(c.Window.String(), "the lake's, else "+strings.TrimSuffix(config.DefaultWindow.String(), "0s")))
		zone := orDefault(s.Timezone, orDefault(c.Timezone, "the lake's, else UTC"))
		ret := orDefault(s.Retention.String(), "keep")
		var protected []string
		for _, col := range s.Protected() {
			protected = append(protected, col.Name+":"+string(col.Treatment))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", s.Name, s.MySQLTable, source, window, zone, ret, len(s.Exported()), strings.Join(protected, " "))
	}
	return tw.Flush()
}

type tablesCheckCmd struct {
	pipelineFlags

	stdout io.Writer
}

func (c *tablesCheckCmd) Run(ctx context.Context) error {
	p, err := c.openPipeline(ctx, "tables check", pipeline.Needs{ServicesNow: true})
	if err != nil {
		return err
	}
	defer p.Close()
	out := writerOr(c.stdout)
	failed := 0
	for _, t := range p.Tables {
		tbl, undeclared, err := logtable.Open(ctx, t.DB, t.Spec)
		if err != nil {
			failed++
			fmt.Fprintf(out, "FAIL %s: %v\n", t.Name(), err)
			continue
		}
		fmt.Fprintf(out, "ok   %s: %d columns exported through index %s", t.Name(), len(t.Spec.Exported()), tbl.Index())
		if len(undeclared) > 0 {
			fmt.Fprintf(out, "; not in the spec, never exported: %s", strings.Join(undeclared, ", "))
		}
		fmt.Fprintln(out)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d tables do not match their spec", failed, len(p.Tables))
	}
	return nil
}
