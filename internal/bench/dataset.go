package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/schema"
	"github.com/logetl/logetl/internal/synthetic"
)

// The data set lies in the past, far from the rows that the API phase appends at "now".
// 2025-03-03 is a Monday; midnight UTC is aligned with every grid length the bench uses.
var datasetDay = time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)

const (
	// smallWindowLen holds exactly Rows records: the window of the extract, export and size
	// phases and of the memory measurement at N.
	smallWindowLen = time.Hour
	// largeWindowLen holds all RowsLarge records (the first hour's N and the rest spread over
	// the next four hours): the memory measurement at 5N. 8h divides a day, so its windows start
	// at midnight and never cross it: one file, like the small window.
	largeWindowLen = 8 * time.Hour
	// largeChunks is how many hours after the first one the remaining rows fill.
	largeChunks = 4
)

// Dataset says what the bench database holds.
type Dataset struct {
	Seed      uint64 `json:"seed"`
	Rows      int    `json:"rows"`       // records in the small window
	RowsLarge int    `json:"rows_large"` // records in the large window (includes the small one)
	WideRows  int    `json:"wide_rows"`  // records of the wide table, all in the small window
	Users     int    `json:"users"`
	Agents    int    `json:"user_agents"`
}

// SmallWindow is the window of Rows records.
func (d Dataset) SmallWindow() partition.Window {
	return partition.Window{Start: datasetDay, End: datasetDay.Add(smallWindowLen)}
}

// LargeWindow is the window of RowsLarge records.
func (d Dataset) LargeWindow() partition.Window {
	return partition.Window{Start: datasetDay, End: datasetDay.Add(largeWindowLen)}
}

// PurgeWindow is the hour whose rows the purge phase loads and deletes, twice: outside both
// measured windows, so the data set stays whole.
func (d Dataset) PurgeWindow() partition.Window {
	start := datasetDay.Add(12 * time.Hour)
	return partition.Window{Start: start, End: start.Add(smallWindowLen)}
}

// chunk is one independent load of synthetic rows into one table.
type chunk struct {
	table Table
	synthetic.Options
}

// chunks splits the data set into independent loads: the small window with the base seed, and
// the rest over the following hours, each with a seed of its own (so they can load in parallel
// and the small window's rows do not depend on RowsLarge).
func (d Dataset) chunks(wide Table) []chunk {
	activity := ActivityLog()
	out := []chunk{{activity, synthetic.Options{
		Rows: d.Rows, Seed: d.Seed, Start: datasetDay, End: datasetDay.Add(smallWindowLen),
		Users: d.Users, UserAgents: d.Agents,
	}}}
	// The wide table's rows, in halves of the same window (two loads run at once).
	for k, n := range []int{d.WideRows / 2, d.WideRows - d.WideRows/2} {
		start := datasetDay.Add(smallWindowLen / 2 * time.Duration(k))
		out = append(out, chunk{wide, synthetic.Options{
			Rows: n, Seed: d.Seed + 100 + uint64(k), Start: start, End: start.Add(smallWindowLen / 2),
			Users: d.Users, UserAgents: d.Agents,
		}})
	}
	rest := d.RowsLarge - d.Rows
	for k := 0; k < largeChunks && rest > 0; k++ {
		n := rest / (largeChunks - k)
		rest -= n
		start := datasetDay.Add(smallWindowLen * time.Duration(1+k))
		out = append(out, chunk{activity, synthetic.Options{
			Rows: n, Seed: d.Seed + uint64(1+k), Start: start, End: start.Add(smallWindowLen),
			Users: d.Users, UserAgents: d.Agents,
		}})
	}
	return out
}

// benchDSN returns dsn pointing at database name, with the settings the pipeline requires.
func benchDSN(dsn, name string) (string, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", fmt.Errorf("parse MySQL DSN: %w", err)
	}
	cfg.DBName = name
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	return cfg.FormatDSN(), nil
}

// prepareDatabase makes the bench database hold the data set: reused as it is when reuse is
// set and it already holds exactly this data set, otherwise dropped, recreated, migrated and
// loaded. It reports whether it loaded, and how long that took.
func prepareDatabase(ctx context.Context, dsn string, d Dataset, reuse bool, logf func(string, ...any)) (*sql.DB, bool, time.Duration, error) {
	if reuse {
		db, ok, err := openExisting(ctx, dsn, d)
		if err != nil {
			return nil, false, 0, err
		}
		if ok {
			logf("reusing the data set in the bench database (%d + %d rows)", d.Rows, d.RowsLarge-d.Rows)
			return db, false, 0, nil
		}
		if db != nil {
			db.Close()
		}
	}
	if err := dropDatabase(ctx, dsn); err != nil {
		return nil, false, 0, err
	}
	if err := schema.EnsureDatabase(ctx, dsn); err != nil {
		return nil, false, 0, err
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return nil, false, 0, fmt.Errorf("open bench database: %w", err)
	}
	// The marker goes first, so that a run cut short still leaves a database the next run
	// recognises as the bench's own (and reloads: the marker says it is incomplete).
	if err := writeMarker(ctx, db, map[string]string{"state": "loading"}); err != nil {
		db.Close()
		return nil, false, 0, err
	}
	if err := schema.Migrate(ctx, db); err != nil {
		db.Close()
		return nil, false, 0, err
	}
	if _, err := db.ExecContext(ctx, synthetic.WideDDL); err != nil {
		db.Close()
		return nil, false, 0, fmt.Errorf("create %s: %w", synthetic.WideTable, err)
	}
	logf("loading %d activity_log and %d %s synthetic rows (seed %d) into the bench database", d.RowsLarge, d.WideRows, synthetic.WideTable, d.Seed)
	began := time.Now()
	if err := load(ctx, db, d); err != nil {
		db.Close()
		return nil, false, 0, err
	}
	took := time.Since(began)
	if err := writeMarker(ctx, db, d); err != nil {
		db.Close()
		return nil, false, 0, err
	}
	// Fresh statistics keep the optimizer on the (occurred_at, id) index plan it forces anyway,
	// and make the first measured read see a settled table.
	if _, err := db.ExecContext(ctx, "ANALYZE TABLE activity_log, "+synthetic.WideTable); err != nil {
		db.Close()
		return nil, false, 0, fmt.Errorf("analyze: %w", err)
	}
	return db, true, took, nil
}

// load runs the chunks two at a time: MariaDB's insert path and the generator each use about a
// core, and this machine has two.
func load(ctx context.Context, db *sql.DB, d Dataset) error {
	wide, err := WideLog()
	if err != nil {
		return err
	}
	chunks := d.chunks(wide)
	sem := make(chan struct{}, 2)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for _, c := range chunks {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			err := loadChunk(ctx, db, c)
			if err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("load synthetic rows %s..%s: %w", c.Start.Format(time.RFC3339), c.End.Format(time.RFC3339), err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

// loadChunk loads one chunk, and on a failure removes what it had committed and starts over, a
// few times: on a shared machine the database may be restarted in the middle of a load.
func loadChunk(ctx context.Context, db *sql.DB, c chunk) error {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 {
			time.Sleep(5 * time.Second)
			if _, derr := db.ExecContext(ctx, "DELETE FROM "+c.table.Spec.QuotedTable()+" WHERE occurred_at >= ? AND occurred_at < ?", c.Start, c.End); derr != nil {
				continue
			}
		}
		var res synthetic.Result
		res, err = c.table.load(ctx, db, c.Options)
		if err == nil && res.Rows != int64(c.Rows) {
			err = fmt.Errorf("loaded %d rows of %d", res.Rows, c.Rows)
		}
		if err == nil || ctx.Err() != nil {
			return err
		}
	}
	return err
}

const markerTable = "bench_dataset"

func writeMarker(ctx context.Context, db *sql.DB, d any) error {
	spec, err := json.Marshal(d)
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+markerTable+" (spec TEXT NOT NULL)"); err != nil {
		return fmt.Errorf("create %s: %w", markerTable, err)
	}
	if _, err := db.ExecContext(ctx, "DELETE FROM "+markerTable); err != nil {
		return fmt.Errorf("clear %s: %w", markerTable, err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO "+markerTable+" (spec) VALUES (?)", string(spec)); err != nil {
		return fmt.Errorf("write %s: %w", markerTable, err)
	}
	return nil
}

// openExisting opens the bench database if it exists, and reports whether it holds exactly d:
// the same recorded specification and the expected row counts in both windows.
func openExisting(ctx context.Context, dsn string, d Dataset) (*sql.DB, bool, error) {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return nil, false, fmt.Errorf("open bench database: %w", err)
	}
	var spec string
	err = db.QueryRowContext(ctx, "SELECT spec FROM "+markerTable+" LIMIT 1").Scan(&spec)
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) && (myErr.Number == 1049 || myErr.Number == 1146) { // no database / no table
		return db, false, nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return db, false, nil
	}
	if err != nil {
		db.Close()
		return nil, false, fmt.Errorf("read %s: %w", markerTable, err)
	}
	want, _ := json.Marshal(d)
	if spec != string(want) {
		return db, false, nil
	}
	if err := schema.Migrate(ctx, db); err != nil {
		db.Close()
		return nil, false, err
	}
	wide, err := WideLog()
	if err != nil {
		db.Close()
		return nil, false, err
	}
	for _, w := range []struct {
		table Table
		win   partition.Window
		rows  int
	}{{ActivityLog(), d.SmallWindow(), d.Rows}, {ActivityLog(), d.LargeWindow(), d.RowsLarge}, {wide, d.SmallWindow(), d.WideRows}} {
		tbl, err := openTable(ctx, db, w.table.Spec)
		if err != nil {
			return db, false, nil
		}
		counts, err := tbl.CountWindows(ctx, w.win.Start, w.win.End, w.win.End.Sub(w.win.Start))
		if err != nil {
			db.Close()
			return nil, false, err
		}
		var n int64
		for _, c := range counts {
			n += c.Rows
		}
		if n != int64(w.rows) {
			return db, false, nil
		}
	}
	return db, true, nil
}

// dropDatabase removes the database named in dsn, if it exists and is the bench's: it refuses
// to drop a database with tables but no bench marker, so that a mistyped --bench-db never
// removes real data.
func dropDatabase(ctx context.Context, dsn string) error {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return fmt.Errorf("parse MySQL DSN: %w", err)
	}
	name := cfg.DBName
	if name == "" {
		return errors.New("bench MySQL DSN names no database")
	}
	cfg.DBName = ""
	root, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return fmt.Errorf("open MySQL: %w", err)
	}
	defer root.Close()
	if err := root.PingContext(ctx); err != nil {
		return fmt.Errorf("MySQL at %s is not reachable: %w", cfg.Addr, err)
	}
	var tables, markers int
	if err := root.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(SUM(table_name = ?), 0) FROM information_schema.tables WHERE table_schema = ?",
		markerTable, name).Scan(&tables, &markers); err != nil {
		return fmt.Errorf("inspect database %s: %w", name, err)
	}
	if tables > 0 && markers == 0 {
		return fmt.Errorf("database %s exists and was not made by logetl bench (no %s table): refusing to drop it; choose another --bench-db", name, markerTable)
	}
	if _, err := root.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+strings.ReplaceAll(name, "`", "``")+"`"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}
