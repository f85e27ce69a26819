//go:build integration

package logtable_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/logetl/logetl/internal/logtable"
	"github.com/logetl/logetl/internal/parquetlog"
	"github.com/logetl/logetl/internal/tablespec"
	"github.com/logetl/logetl/internal/testenv"
)

var db *testenv.Database

func TestMain(m *testing.M) { testenv.RunWithDatabase(m, "logtable", &db) }

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// seoul is the test database with every session in UTC+9, as a server whose time zone is
// not UTC: TIMESTAMPs must still be read and compared in UTC.
func seoul(t *testing.T) *sql.DB {
	t.Helper()
	h, err := sql.Open("mysql", db.DSN+"&time_zone=%27%2B09%3A00%27")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

var conn *sql.DB

func exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := conn.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// events is a log table with a column of every kind, a TIMESTAMP time column that may be NULL,
// and a column the spec does not name.
const eventsDDL = "CREATE TABLE events (" +
	"id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, at TIMESTAMP(6) NULL, n INT NOT NULL, " +
	"amount DECIMAL(10,2) NULL, ratio DOUBLE NULL, name VARCHAR(20) NOT NULL, kind ENUM('a','b') NOT NULL, " +
	"doc JSON NULL, raw VARBINARY(8) NULL, day DATE NULL, tod TIME(3) NULL, yr YEAR NULL, flag BIT(1) NULL, " +
	"secret VARCHAR(20) NULL, KEY events_at (at)) ENGINE=InnoDB"

const eventsSpec = `tables:
  - name: events
    mysql_table: events
    time_column: at
    id_column: id
    columns:
      - {name: id, type: bigint unsigned, treatment: clear}
      - {name: at, type: timestamp(6), nullable: true, treatment: clear}
      - {name: n, type: int, treatment: clear}
      - {name: amount, type: 'decimal(10,2)', nullable: true, treatment: clear}
      - {name: ratio, type: double, nullable: true, treatment: clear}
      - {name: name, type: varchar(20), treatment: seal}
      - {name: kind, type: "enum('a','b')", treatment: clear}
      - {name: doc, type: json, nullable: true, treatment: clear}
      - {name: raw, type: varbinary(8), nullable: true, treatment: clear}
      - {name: day, type: date, nullable: true, treatment: clear}
      - {name: tod, type: time(3), nullable: true, treatment: clear}
      - {name: yr, type: year, nullable: true, treatment: clear}
      - {name: flag, type: bit(1), nullable: true, treatment: clear}
`

func spec(t *testing.T, doc string) tablespec.Spec {
	t.Helper()
	f, err := tablespec.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return f.Tables[0]
}

func createEvents(t *testing.T) {
	t.Helper()
	conn = seoul(t)
	exec(t, "DROP TABLE IF EXISTS events")
	exec(t, eventsDDL)
}

func insertEvent(t *testing.T, at any, n int, null bool) {
	t.Helper()
	if null {
		exec(t, "INSERT INTO events (at, n, name, kind) VALUES (CONVERT_TZ(?, '+00:00', @@session.time_zone), ?, 'x', 'a')", at, n)
		return
	}
	exec(t, `INSERT INTO events (at, n, amount, ratio, name, kind, doc, raw, day, tod, yr, flag, secret)
VALUES (CONVERT_TZ(?, '+00:00', @@session.time_zone), ?, -12.30, 0.25, 'héllo', 'b', '{"k": [1, "x"]}', X'00FF', '2026-02-28', '-01:02:03.5', 2026, b'1', 'hidden')`, at, n)
}

func TestWindowReaderStreamsEveryKindInTimeThenIDOrderInUTC(t *testing.T) {
	ctx := context.Background()
	createEvents(t)
	s := spec(t, eventsSpec)
	insertEvent(t, "2026-11-24 09:59:59.999999", 0, false) // before
	insertEvent(t, "2026-11-24 10:10:00", 3, false)        // out of time order by id
	insertEvent(t, "2026-11-24 10:00:00", 1, false)        // at the start: in
	insertEvent(t, "2026-11-24 10:05:00.123456", 2, true)  // NULLs
	insertEvent(t, "2026-11-24 10:15:00", 4, false)        // at the end: out
	insertEvent(t, nil, 5, false)                          // NULL time: in no window

	tbl, undeclared, err := logtable.Open(ctx, conn, s)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(undeclared, []string{"secret"}) {
		t.Errorf("undeclared %v, want [secret]", undeclared)
	}
	if tbl.Index() != "events_at" {
		t.Errorf("window index %q, want events_at (time alone, id the primary key)", tbl.Index())
	}
	for _, size := range []int{1, 2, 10} {
		t.Run(fmt.Sprintf("batches of %d", size), func(t *testing.T) {
			r, err := tbl.OpenWindow(ctx, ts("2026-11-24T10:00:00Z"), ts("2026-11-24T10:15:00Z"))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var got []parquet.Row
			b := parquetlog.NewBatch(s, size)
			for {
				more, err := r.Next(b)
				if err != nil {
					t.Fatal(err)
				}
				for _, row := range b.Rows {
					got = append(got, row.Clone())
				}
				b.Reset()
				if !more {
					break
				}
			}
			if len(got) != 3 {
				t.Fatalf("%d rows, want 3", len(got))
			}
			cols := s.Exported()
			text := func(row parquet.Row, name string) string {
				i := s.Index(name)
				if row[i].IsNull() {
					return "NULL"
				}
				return string(tablespec.AppendText(nil, cols[i], row[i]))
			}
			if ns := []string{text(got[0], "n"), text(got[1], "n"), text(got[2], "n")}; !slices.Equal(ns, []string{"1", "2", "3"}) {
				t.Fatalf("order %v, want by time", ns)
			}
			want := map[string]string{"at": "2026-11-24T10:00:00Z", "amount": "-12.30", "ratio": "0.25", "name": "héllo", "kind": "b",
				"doc": `{"k": [1, "x"]}`, "raw": "\x00\xff", "day": "2026-02-28", "tod": "-01:02:03.5", "yr": "2026", "flag": "1"}
			for name, w := range want {
				if g := text(got[0], name); g != w {
					t.Errorf("%s = %q, want %q", name, g, w)
				}
			}
			for _, name := range []string{"amount", "ratio", "doc", "raw", "day", "tod", "yr", "flag"} {
				if g := text(got[1], name); g != "NULL" {
					t.Errorf("null row %s = %q", name, g)
				}
			}
			if g := text(got[1], "at"); g != "2026-11-24T10:05:00.123456Z" {
				t.Errorf("microseconds: %s", g)
			}
		})
	}

	counts, err := tbl.CountWindows(ctx, ts("2026-11-24T09:00:00Z"), ts("2026-11-24T11:00:00Z"), 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) != 3 || counts[1].Rows != 3 || !counts[1].Start.Equal(ts("2026-11-24T10:00:00Z")) {
		t.Errorf("counts %v", counts)
	}
	st, err := tbl.Stats(ctx, ts("2026-11-24T10:00:00Z"), ts("2026-11-24T10:15:00Z"))
	if err != nil || st.Rows != 3 || st.MinID != 2 || st.MaxID != 4 {
		t.Errorf("stats %+v %v", st, err)
	}
	ids, err := tbl.IDs(ctx, ts("2026-11-24T10:00:00Z"), ts("2026-11-24T10:15:00Z"))
	if err != nil || !slices.Equal(ids, []uint64{2, 3, 4}) {
		t.Errorf("ids %v %v", ids, err)
	}
	if n, err := tbl.NullTimes(ctx); err != nil || n != 1 {
		t.Errorf("NULL times %d %v", n, err)
	}
	first, ok, err := tbl.NextRow(ctx, ts("2026-11-24T10:00:00Z"), ts("2026-11-25T00:00:00Z"))
	if err != nil || !ok || !first.Equal(ts("2026-11-24T10:00:00Z")) {
		t.Errorf("next row %v %v %v", first, ok, err)
	}
	if _, ok, err := tbl.NextRow(ctx, ts("2026-11-25T00:00:00Z"), ts("2030-01-01T00:00:00Z")); ok || err != nil {
		t.Errorf("next row after the last: %v %v", ok, err)
	}
	last, ok, err := tbl.LastRow(ctx, ts("2000-01-01T00:00:00Z"), ts("2030-01-01T00:00:00Z"))
	if err != nil || !ok || !last.Equal(ts("2026-11-24T10:15:00Z")) {
		t.Errorf("last row %v %v %v", last, ok, err)
	}
	oldest, ok, err := tbl.Oldest(ctx)
	if err != nil || !ok || !oldest.Equal(ts("2026-11-24T09:59:59.999999Z")) {
		t.Errorf("oldest %v %v %v", oldest, ok, err)
	}

	// A delete removes only listed ids inside the window.
	n, err := tbl.DeleteIDs(ctx, ts("2026-11-24T10:00:00Z"), ts("2026-11-24T10:15:00Z"), []uint64{1, 2, 3, 5})
	if err != nil || n != 2 {
		t.Fatalf("deleted %d, %v; want 2 (ids 1 and 5 are outside the window)", n, err)
	}
	ids, _ = tbl.IDs(ctx, ts("2026-11-24T10:00:00Z"), ts("2026-11-24T10:15:00Z"))
	if !slices.Equal(ids, []uint64{4}) {
		t.Errorf("ids after delete %v, want [4]", ids)
	}
}

func TestOpenRefusesATableThatDoesNotMatchItsSpec(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		alter string
		spec  func(string) string
		want  string
	}{
		{"a missing column", "ALTER TABLE events DROP COLUMN ratio", nil, "column ratio (double in the spec) is not in MySQL"},
		{"a changed type", "ALTER TABLE events MODIFY n BIGINT NOT NULL", nil, "column n is bigint(20) in MySQL but int in the spec"},
		{"a column that became nullable", "ALTER TABLE events MODIFY n INT NULL", nil, "NULL-able in MySQL"},
		{"no window index", "ALTER TABLE events DROP INDEX events_at", nil, "ALTER TABLE `events` ADD INDEX `logetl_window` (`at`, `id`)"},
		{"a missing table", "DROP TABLE events", nil, "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			createEvents(t)
			exec(t, tt.alter)
			_, _, err := logtable.Open(ctx, conn, spec(t, eventsSpec))
			if !errors.Is(err, logtable.ErrSchema) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open = %v, want ErrSchema with %q", err, tt.want)
			}
		})
	}
}

func TestAColumnAddedLaterIsUndeclaredAndNeverRead(t *testing.T) {
	ctx := context.Background()
	createEvents(t)
	s := spec(t, eventsSpec)
	exec(t, "ALTER TABLE events ADD COLUMN email VARCHAR(100) NULL")
	insertEvent(t, "2026-11-24 10:00:00", 1, false)
	tbl, undeclared, err := logtable.Open(ctx, conn, s)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(undeclared, []string{"secret", "email"}) {
		t.Fatalf("undeclared %v", undeclared)
	}
	if strings.Contains(tbl.SelectWindow(), "email") || strings.Contains(tbl.SelectWindow(), "secret") {
		t.Fatalf("the window query reads undeclared columns: %s", tbl.SelectWindow())
	}
}

func TestInspectSeesMariaDBJSONAndIndexes(t *testing.T) {
	ctx := context.Background()
	createEvents(t)
	info, err := logtable.Inspect(ctx, conn, "", "events")
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := info.Column("doc")
	if !doc.JSON {
		t.Errorf("doc (JSON) is %+v", doc)
	}
	if ix, ok := info.WindowIndex("at", "id"); !ok || ix != "events_at" {
		t.Errorf("window index %q %v", ix, ok)
	}
	missing, err := logtable.Inspect(ctx, conn, db.Name, "no_such_table")
	if err != nil || len(missing.Columns) != 0 {
		t.Errorf("missing table: %+v %v", missing, err)
	}
}

func TestTheBuiltinSpecMatchesTheAPIsMigratedTable(t *testing.T) {
	s, _ := tablespec.Builtin().Table(tablespec.BuiltinName)
	tbl, undeclared, err := logtable.Open(context.Background(), db.DB, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(undeclared) != 0 {
		t.Errorf("the API's activity_log has columns the built-in spec does not name: %v", undeclared)
	}
	if tbl.Index() != "activity_log_window" {
		t.Errorf("window index %q", tbl.Index())
	}
}
