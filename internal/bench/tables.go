package bench

import (
	"context"
	"database/sql"
	_ "embed"
	"fmt"

	"github.com/logetl/logetl/internal/synthetic"
	"github.com/logetl/logetl/internal/tablespec"
)

// wideYAML is the table spec of the bench's wide table (synthetic.WideDDL).
//
//go:embed testdata/wide_log.yaml
var wideYAML []byte

// Table is one table the bench measures: its spec, and the loader of its synthetic rows.
type Table struct {
	Spec tablespec.Spec
	load func(ctx context.Context, db *sql.DB, o synthetic.Options) (synthetic.Result, error)
}

// Name is the table's name in the lake and in the report.
func (t Table) Name() string { return t.Spec.Name }

// ActivityLog is the built-in activity_log spec, loaded by synthetic.Load.
func ActivityLog() Table {
	return Table{Spec: tablespec.Builtin().Tables[0], load: synthetic.Load}
}

// WideLog is the wide table (testdata/wide_log.yaml), loaded by synthetic.LoadWide.
func WideLog() (Table, error) {
	f, err := tablespec.Parse(wideYAML)
	if err != nil {
		return Table{}, fmt.Errorf("wide table spec: %w", err)
	}
	return Table{Spec: f.Tables[0], load: synthetic.LoadWide}, nil
}

// tableNamed returns the bench table of that lake name.
func tableNamed(name string) (Table, error) {
	if name == tablespec.BuiltinName {
		return ActivityLog(), nil
	}
	w, err := WideLog()
	if err != nil {
		return Table{}, err
	}
	if name == w.Name() {
		return w, nil
	}
	return Table{}, fmt.Errorf("no bench table %q", name)
}
