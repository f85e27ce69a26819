// Package logtable is a log table on the MySQL side, as its spec declares it: it checks the
// table's columns and window index against the spec, streams the rows of a time window in
// (time, id) order into batches, counts rows per window, finds where rows are, and deletes
// exported rows by id for retention. Every query goes through the window index: nothing here
// scans a table.
package logtable

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/logetl/logetl/internal/tablespec"
)

// ErrSchema marks a table that does not match its spec (a missing column, a changed type, no
// usable window index): retrying cannot fix it; the spec or the table must change.
var ErrSchema = errors.New("table does not match its spec")

// Table is one spec's MySQL table, checked against the spec.
type Table struct {
	spec  tablespec.Spec
	db    *sql.DB
	cols  []tablespec.Column // exported columns, in file order
	index string             // the window index
	// tsSession is set when a column is a TIMESTAMP: MySQL converts those to the session's
	// time zone, so every query runs on a connection set to UTC.
	tsSession bool
	selectSQL string
	timeCol   string // quoted
	idCol     string // quoted
	from      string // quoted table with FORCE INDEX
}

// Open checks that the table exists with every exported column of the spec at a compatible
// type, and that it has the window index; it returns the columns the table has that the spec
// does not name (never read, never exported). Errors wrap ErrSchema and say what to do.
func Open(ctx context.Context, db *sql.DB, spec tablespec.Spec) (*Table, []string, error) {
	info, err := Inspect(ctx, db, spec.Database(), spec.Table())
	if err != nil {
		return nil, nil, err
	}
	undeclared, err := CheckColumns(spec, info)
	if err != nil {
		return nil, nil, err
	}
	index, ok := info.WindowIndex(spec.TimeColumn, spec.IDColumn)
	if !ok {
		return nil, nil, fmt.Errorf("%w: table %s (%s) has no index that serves windows in (%s, %s) order, and logetl does not scan tables: add it with\n  %s",
			ErrSchema, spec.Name, spec.MySQLTable, spec.TimeColumn, spec.IDColumn, info.AlterTable(spec.TimeColumn, spec.IDColumn))
	}
	t := &Table{spec: spec, db: db, cols: spec.Exported(), index: index,
		timeCol: tablespec.Quote(spec.TimeColumn), idCol: tablespec.Quote(spec.IDColumn)}
	t.from = spec.QuotedTable() + " FORCE INDEX (" + tablespec.Quote(index) + ")"
	names := make([]string, len(t.cols))
	for i, c := range t.cols {
		names[i] = tablespec.Quote(c.Name)
		if c.MySQLType().Kind == tablespec.KindTimestamp {
			t.tsSession = true
		}
	}
	t.selectSQL = fmt.Sprintf("SELECT %s FROM %s WHERE %s >= ? AND %s < ? ORDER BY %s, %s",
		strings.Join(names, ", "), t.from, t.timeCol, t.timeCol, t.timeCol, t.idCol)
	return t, undeclared, nil
}

// Spec is the table's spec.
func (t *Table) Spec() tablespec.Spec { return t.spec }

// Index is the window index the table is read through.
func (t *Table) Index() string { return t.index }

// SelectWindow is the query that reads one window (binds: start, end), for the benchmark's
// plain-SELECT baseline.
func (t *Table) SelectWindow() string { return t.selectSQL }

// DB is the table's database handle.
func (t *Table) DB() *sql.DB { return t.db }

// CheckColumns compares the spec's exported columns with the table's: each must exist with a
// compatible type (tablespec.Type.Compatible) and nullability the spec allows. It returns the
// table's columns that the spec does not name at all.
func CheckColumns(spec tablespec.Spec, info tablespec.TableInfo) ([]string, error) {
	if len(info.Columns) == 0 {
		return nil, fmt.Errorf("%w: table %s: MySQL table %s does not exist (or this user may not see it)", ErrSchema, spec.Name, spec.MySQLTable)
	}
	for _, c := range spec.Exported() {
		ci, ok := info.Column(c.Name)
		if !ok {
			return nil, fmt.Errorf("%w: table %s: column %s (%s in the spec) is not in MySQL table %s", ErrSchema, spec.Name, c.Name, c.Type, spec.MySQLTable)
		}
		got, err := ci.Type()
		if err != nil {
			return nil, fmt.Errorf("%w: table %s: column %s: MySQL type %s: %v", ErrSchema, spec.Name, c.Name, ci.ColumnType, err)
		}
		want := c.MySQLType()
		// MariaDB's JSON is a LONGTEXT; a spec that says json reads it as JSON text.
		if want.Kind == tablespec.KindJSON && got.Kind == tablespec.KindString && strings.HasSuffix(got.String(), "text") {
			got = want
		}
		if !got.Compatible(want) {
			return nil, fmt.Errorf("%w: table %s: column %s is %s in MySQL but %s in the spec; fix the spec (a new type changes the files: see docs/tables.md)",
				ErrSchema, spec.Name, c.Name, ci.ColumnType, c.Type)
		}
		if ci.Nullable && !c.Nullable {
			return nil, fmt.Errorf("%w: table %s: column %s is NULL-able in MySQL but not in the spec; add nullable: true", ErrSchema, spec.Name, c.Name)
		}
	}
	var undeclared []string
	for _, ci := range info.Columns {
		if _, ok := spec.Column(ci.Name); !ok {
			undeclared = append(undeclared, ci.Name)
		}
	}
	return undeclared, nil
}

// Inspect reads a table's columns, indexes and row estimate from information_schema. database
// "" means the connection's database. A missing table gives an empty Columns list.
func Inspect(ctx context.Context, db *sql.DB, database, table string) (tablespec.TableInfo, error) {
	info := tablespec.TableInfo{Database: database, Table: table}
	schema := "DATABASE()"
	args := []any{table}
	if database != "" {
		schema = "?"
		args = []any{database, table}
	}
	rows, err := db.QueryContext(ctx, `SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_KEY, EXTRA, DATA_TYPE
FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = `+schema+` AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, args...)
	if err != nil {
		return info, fmt.Errorf("inspect %s: columns: %w", table, err)
	}
	for rows.Next() {
		var c tablespec.ColumnInfo
		var nullable, dataType string
		if err := rows.Scan(&c.Name, &c.ColumnType, &nullable, &c.Key, &c.Extra, &dataType); err != nil {
			rows.Close()
			return info, fmt.Errorf("inspect %s: %w", table, err)
		}
		c.Nullable = nullable == "YES"
		c.JSON = strings.EqualFold(dataType, "json")
		info.Columns = append(info.Columns, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return info, fmt.Errorf("inspect %s: columns: %w", table, err)
	}
	if len(info.Columns) == 0 {
		return info, nil
	}
	// MariaDB's JSON type is LONGTEXT with a json_valid() check constraint.
	if jsonCols, err := mariaDBJSONColumns(ctx, db, schema, args); err == nil {
		for i := range info.Columns {
			if jsonCols[info.Columns[i].Name] {
				info.Columns[i].JSON = true
			}
		}
	}
	rows, err = db.QueryContext(ctx, `SELECT INDEX_NAME, NON_UNIQUE, COLUMN_NAME FROM information_schema.STATISTICS
WHERE TABLE_SCHEMA = `+schema+` AND TABLE_NAME = ? ORDER BY INDEX_NAME, SEQ_IN_INDEX`, args...)
	if err != nil {
		return info, fmt.Errorf("inspect %s: indexes: %w", table, err)
	}
	for rows.Next() {
		var name, col string
		var nonUnique int
		if err := rows.Scan(&name, &nonUnique, &col); err != nil {
			rows.Close()
			return info, fmt.Errorf("inspect %s: %w", table, err)
		}
		if n := len(info.Indexes); n == 0 || info.Indexes[n-1].Name != name {
			info.Indexes = append(info.Indexes, tablespec.IndexInfo{Name: name, Unique: nonUnique == 0})
		}
		ix := &info.Indexes[len(info.Indexes)-1]
		ix.Columns = append(ix.Columns, col)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return info, fmt.Errorf("inspect %s: indexes: %w", table, err)
	}
	var est sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = `+schema+` AND TABLE_NAME = ?`, args...).Scan(&est); err == nil {
		info.Rows = est.Int64
	}
	return info, nil
}

func mariaDBJSONColumns(ctx context.Context, db *sql.DB, schema string, args []any) (map[string]bool, error) {
	rows, err := db.QueryContext(ctx, `SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS
WHERE CONSTRAINT_SCHEMA = `+schema+` AND TABLE_NAME = ?`, args...)
	if err != nil {
		return nil, err // MySQL has no TABLE_NAME there; its JSON columns say json already
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var clause string
		if err := rows.Scan(&clause); err != nil {
			return nil, err
		}
		if c, ok := strings.CutPrefix(strings.TrimSpace(clause), "json_valid(`"); ok {
			if name, ok := strings.CutSuffix(c, "`)"); ok {
				out[strings.ReplaceAll(name, "``", "`")] = true
			}
		}
	}
	return out, rows.Err()
}

// conn returns a connection whose session reads TIMESTAMPs in UTC when the table has any.
func (t *Table) conn(ctx context.Context) (*sql.Conn, error) {
	c, err := t.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if t.tsSession {
		if _, err := c.ExecContext(ctx, "SET SESSION time_zone = '+00:00'"); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// query runs a statement on a UTC session and hands its rows to each.
func (t *Table) query(ctx context.Context, what, q string, args []any, each func(*sql.Rows) error) error {
	c, err := t.conn(ctx)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, t.spec.Name, t.classify(err))
	}
	defer c.Close()
	rows, err := c.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, t.spec.Name, t.classify(err))
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return fmt.Errorf("%s %s: %w", what, t.spec.Name, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", what, t.spec.Name, t.classify(err))
	}
	return nil
}

// classify turns MySQL's answers to a changed table into ErrSchema with the fix.
func (t *Table) classify(err error) error {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return err
	}
	switch me.Number {
	case 1054: // unknown column
		return fmt.Errorf("%w: %v (the table changed since its spec was written; run `logetl tables inspect %s`)", ErrSchema, err, t.spec.MySQLTable)
	case 1176: // key doesn't exist
		return fmt.Errorf("%w: %v: the window index %s is gone; add it back with the ALTER TABLE that `logetl tables inspect %s` prints", ErrSchema, err, t.index, t.spec.MySQLTable)
	case 1146: // table doesn't exist
		return fmt.Errorf("%w: %v", ErrSchema, err)
	}
	return err
}

func utc(ts ...time.Time) []any {
	out := make([]any, len(ts))
	for i, x := range ts {
		out[i] = x.UTC()
	}
	return out
}

// WindowCount is the number of rows of one grid window.
type WindowCount struct {
	Start time.Time // the grid window's start (UTC)
	Rows  int64
}

// CountWindows counts the rows of [from, to) per window of the grid of the given length
// (aligned to the Unix epoch), in one GROUP BY over the window index. Windows without rows are
// absent. from and to need not be aligned: the first and last windows then count only their
// part inside [from, to).
func (t *Table) CountWindows(ctx context.Context, from, to time.Time, window time.Duration) ([]WindowCount, error) {
	if window < time.Second || window%time.Second != 0 {
		return nil, fmt.Errorf("count windows: window %s must be whole seconds", window)
	}
	secs := int64(window / time.Second)
	// TIMESTAMPDIFF on DATETIME involves no session time zone, unlike UNIX_TIMESTAMP; for a
	// TIMESTAMP column the session is UTC.
	q := fmt.Sprintf(`SELECT TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', %s) DIV ? AS w, COUNT(*) FROM %s WHERE %s >= ? AND %s < ? GROUP BY w ORDER BY w`,
		t.timeCol, t.from, t.timeCol, t.timeCol)
	var out []WindowCount
	err := t.query(ctx, "count windows of", q, append([]any{secs}, utc(from, to)...), func(r *sql.Rows) error {
		var w, n int64
		if err := r.Scan(&w, &n); err != nil {
			return err
		}
		out = append(out, WindowCount{Start: time.Unix(w*secs, 0).UTC(), Rows: n})
		return nil
	})
	return out, err
}

// NextRow returns the time of the first row at or after from and before to.
func (t *Table) NextRow(ctx context.Context, from, to time.Time) (time.Time, bool, error) {
	q := fmt.Sprintf("SELECT MIN(%s) FROM %s WHERE %s >= ? AND %s < ?", t.timeCol, t.from, t.timeCol, t.timeCol)
	return t.oneTime(ctx, "find the next row of", q, utc(from, to))
}

// LastRow returns the time of the last row before to and at or after from.
func (t *Table) LastRow(ctx context.Context, from, to time.Time) (time.Time, bool, error) {
	q := fmt.Sprintf("SELECT MAX(%s) FROM %s WHERE %s >= ? AND %s < ?", t.timeCol, t.from, t.timeCol, t.timeCol)
	return t.oneTime(ctx, "find the last row of", q, utc(from, to))
}

// Oldest returns the time of the table's oldest row (NULL times aside).
func (t *Table) Oldest(ctx context.Context) (time.Time, bool, error) {
	q := fmt.Sprintf("SELECT MIN(%s) FROM %s WHERE %s IS NOT NULL", t.timeCol, t.from, t.timeCol)
	return t.oneTime(ctx, "find the oldest row of", q, nil)
}

func (t *Table) oneTime(ctx context.Context, what, q string, args []any) (time.Time, bool, error) {
	var v sql.NullTime
	err := t.query(ctx, what, q, args, func(r *sql.Rows) error { return r.Scan(&v) })
	return v.Time.UTC(), v.Valid, err
}

// NullTimes counts the rows whose time is NULL: they belong to no window and are never
// exported (the index holds NULLs first, so this reads no row).
func (t *Table) NullTimes(ctx context.Context) (int64, error) {
	if c, _ := t.spec.Column(t.spec.TimeColumn); !c.Nullable {
		return 0, nil
	}
	var n int64
	q := fmt.Sprintf("SELECT COUNT(*) FROM %s WHERE %s IS NULL", t.from, t.timeCol)
	err := t.query(ctx, "count NULL times of", q, nil, func(r *sql.Rows) error { return r.Scan(&n) })
	return n, err
}

// WindowStats is a window's row count and id range in MySQL.
type WindowStats struct {
	Rows         int64
	MinID, MaxID uint64 // 0 when Rows is 0
}

// Stats counts the rows of [start, end) and their id range.
func (t *Table) Stats(ctx context.Context, start, end time.Time) (WindowStats, error) {
	var s WindowStats
	var lo, hi sql.Null[uint64]
	q := fmt.Sprintf("SELECT COUNT(*), MIN(%s), MAX(%s) FROM %s WHERE %s >= ? AND %s < ?", t.idCol, t.idCol, t.from, t.timeCol, t.timeCol)
	err := t.query(ctx, "count rows of", q, utc(start, end), func(r *sql.Rows) error { return r.Scan(&s.Rows, &lo, &hi) })
	s.MinID, s.MaxID = lo.V, hi.V
	return s, err
}

// IDs lists the ids of the rows of [start, end), ascending.
func (t *Table) IDs(ctx context.Context, start, end time.Time) ([]uint64, error) {
	var out []uint64
	q := fmt.Sprintf("SELECT %s FROM %s WHERE %s >= ? AND %s < ?", t.idCol, t.from, t.timeCol, t.timeCol)
	err := t.query(ctx, "list ids of", q, utc(start, end), func(r *sql.Rows) error {
		var id uint64
		if err := r.Scan(&id); err != nil {
			return err
		}
		out = append(out, id)
		return nil
	})
	slices.Sort(out)
	return out, err
}

// DeleteIDs deletes, in one autocommitted statement, the rows of [start, end) whose ids are
// given, through the primary key. It returns how many rows went. The time bounds are a second
// guard: a row is deleted only if it is both in the window and in the list.
func (t *Table) DeleteIDs(ctx context.Context, start, end time.Time, ids []uint64) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "DELETE FROM %s WHERE %s >= ? AND %s < ? AND %s IN (", t.spec.QuotedTable(), t.timeCol, t.timeCol, t.idCol)
	args := append(make([]any, 0, len(ids)+2), start.UTC(), end.UTC())
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('?')
		args = append(args, id)
	}
	b.WriteByte(')')
	c, err := t.conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("delete from %s: %w", t.spec.Name, err)
	}
	defer c.Close()
	res, err := c.ExecContext(ctx, b.String(), args...)
	if err != nil {
		return 0, fmt.Errorf("delete from %s: %w", t.spec.Name, t.classify(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete from %s: %w", t.spec.Name, err)
	}
	return n, nil
}
