package export_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logetl/logetl/internal/activitylog"
	"github.com/logetl/logetl/internal/export"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/synthetic"
)

func countMySQL(t testing.TB, from, to time.Time) int64 {
	t.Helper()
	var n int64
	if err := db.DB.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM activity_log WHERE occurred_at >= ? AND occurred_at < ?", from, to).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCompactWeekBuildsTheWeekFromItsDailies(t *testing.T) {
	truncate(t)
	ctx := context.Background()
	// Seoul, 4h windows: the grid (…12:00Z, 16:00Z…) does not meet local midnight (15:00Z), so
	// the week's first and last windows are split, and the week starts mid-window.
	e := newEnv(t, envOpts{zone: "Asia/Seoul", window: 4 * time.Hour})
	week := partition.Week{Year: 2026, Week: 48}
	ws, we, err := e.cfg.Grid.WeekRange(week)
	if err != nil {
		t.Fatal(err)
	}
	// Rows from the day before the week to the day after, so the week's edges matter.
	if _, err := synthetic.Load(ctx, db.DB, synthetic.Options{Rows: 6000, Seed: 21, Start: ws.Add(-24 * time.Hour), End: we.Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	insert(t, fixture{at: ws}, fixture{at: we.Add(-time.Microsecond)}, fixture{at: we})
	gridFrom, gridTo := e.cfg.Grid.Floor(ws), e.cfg.Grid.Floor(we).Add(4*time.Hour)
	dailies := e.exportRange(t, gridFrom, gridTo)

	m, err := e.exp.CompactWeek(ctx, week, we.Add(48*time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := countMySQL(t, ws, we)
	var sum int64
	var sources int
	for _, d := range dailies {
		if !d.WindowStart.Before(ws) && !d.WindowEnd.After(we) {
			sum += d.Rows
			sources++
		}
	}
	if m.Rows != want || sum != want || len(m.Sources) != sources {
		t.Fatalf("weekly rows %d, dailies' sum %d, MySQL %d; sources %d of %d", m.Rows, sum, want, len(m.Sources), sources)
	}
	if m.Object != "logs/activity_log/weekly/week=2026-W48/part-2026-W48.parquet" || !m.WindowStart.Equal(ws) || !m.WindowEnd.Equal(we) {
		t.Errorf("weekly manifest = %+v", m)
	}
	rows, _ := e.readObject(t, m.Object)
	e.compareRows(t, mysqlRecords(t, ws, we), rows)
	stored := e.getManifest(t, m.Object)
	if stored.Rows != want || len(stored.Sources) != sources {
		t.Errorf("stored weekly manifest = %+v", stored)
	}

	t.Run("week to date rewrites the same key", func(t *testing.T) {
		upTo := ws.Add(3 * 24 * time.Hour).Add(30 * time.Minute) // floored to the grid
		m, err := e.exp.CompactWeek(ctx, week, upTo, nil)
		if err != nil {
			t.Fatal(err)
		}
		to := e.cfg.Grid.Floor(upTo)
		if m.Object != stored.Object || !m.WindowEnd.Equal(to) || m.Rows != countMySQL(t, ws, to) {
			t.Errorf("week-to-date manifest = %+v, want end %s and %d rows", m, to, countMySQL(t, ws, to))
		}
	})

	t.Run("a missing daily is a clear coverage error", func(t *testing.T) {
		var victim string
		for _, d := range dailies {
			if d.Rows > 0 && d.WindowStart.After(ws) && d.WindowEnd.Before(we) {
				victim = d.Object
				break
			}
		}
		if err := e.store.Delete(ctx, partition.ManifestKey(victim)); err != nil {
			t.Fatal(err)
		}
		_, err := e.exp.CompactWeek(ctx, week, we, nil)
		var ce *export.CoverageError
		if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Status != export.StatusMissing || export.IsPermanent(err) {
			t.Fatalf("err = %v, want a retryable coverage error naming one missing window", err)
		}
		if !strings.Contains(err.Error(), "missing") || !strings.Contains(err.Error(), "2026-W48") {
			t.Errorf("error message unclear: %v", err)
		}
	})

	t.Run("a late row is a mismatch", func(t *testing.T) {
		e.exportRange(t, gridFrom, gridTo) // heal the previous subtest
		insert(t, fixture{at: ws.Add(36 * time.Hour)})
		_, err := e.exp.CompactWeek(ctx, week, we, nil)
		var ce *export.CoverageError
		if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Status != export.StatusMismatch ||
			ce.Problems[0].MySQLRows != ce.Problems[0].FileRows+1 {
			t.Fatalf("err = %v, want one mismatched window", err)
		}
	})
}

func TestVerifyFindsLateRowsAndMissingWindowsAndRepairsThem(t *testing.T) {
	truncate(t)
	ctx := context.Background()
	from, to := winStart, winStart.Add(time.Hour)
	if _, err := synthetic.Load(ctx, db.DB, synthetic.Options{Rows: 2000, Seed: 8, Start: from, End: to}); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOpts{})
	e.exportRange(t, from, to)

	rep, err := e.exp.Verify(ctx, from, to, export.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || len(rep.Windows) != 4 {
		t.Fatalf("fresh export does not verify: %+v", rep)
	}

	// A transaction slower than the safety lag commits a row into an exported window.
	insert(t, fixture{at: from.Add(20 * time.Minute)})
	// A window the schedule skipped, though empty, is still found.
	if err := e.store.Delete(ctx, partition.ManifestKey(e.cfg.Layout.DailyKey(partition.Piece{
		Window: partition.Window{Start: from.Add(45 * time.Minute), End: to}, Day: "2026-11-24"}))); err != nil {
		t.Fatal(err)
	}
	// And a truncated object.
	third := e.cfg.Layout.DailyKey(partition.Piece{Window: partition.Window{Start: from.Add(30 * time.Minute), End: from.Add(45 * time.Minute)}, Day: "2026-11-24"})
	if err := e.store.Put(ctx, third, []byte("PAR1"), ""); err != nil {
		t.Fatal(err)
	}

	rep, err = e.exp.Verify(ctx, from, to, export.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]export.Status{}
	for _, w := range rep.Windows {
		got[w.Window.Start.Format("15:04")] = w.Status
	}
	want := map[string]export.Status{"10:00": export.StatusOK, "10:15": export.StatusMismatch, "10:30": export.StatusCorrupt, "10:45": export.StatusMissing}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("statuses = %v, want %v", got, want)
	}
	if p := rep.Problems(); len(p) != 3 || p[0].MySQLRows != p[0].FileRows+1 {
		t.Errorf("problems = %+v", p)
	}

	rep, err = e.exp.Verify(ctx, from, to, export.VerifyOptions{Repair: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Repaired() != 3 {
		t.Fatalf("after repair: %+v", rep)
	}
	rep, err = e.exp.Verify(ctx, from, to, export.VerifyOptions{})
	if err != nil || !rep.OK() || rep.Repaired() != 0 {
		t.Fatalf("verify after repair: %+v, %v", rep, err)
	}
	rows, _ := e.readObject(t, e.cfg.Layout.DailyKey(partition.Piece{Window: partition.Window{Start: from.Add(15 * time.Minute), End: from.Add(30 * time.Minute)}, Day: "2026-11-24"}))
	e.compareRows(t, mysqlRecords(t, from.Add(15*time.Minute), from.Add(30*time.Minute)), rows)

	t.Run("empty windows without files", func(t *testing.T) {
		before, after := from.Add(-time.Hour), from
		strict, err := e.exp.Verify(ctx, before, after, export.VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		lenient, err := e.exp.Verify(ctx, before, after, export.VerifyOptions{AllowMissingEmpty: true})
		if err != nil {
			t.Fatal(err)
		}
		if strict.OK() || len(strict.Problems()) != 4 || !lenient.OK() || lenient.Windows[0].Status != export.StatusNoFile {
			t.Errorf("strict %+v, lenient %+v", strict.Problems(), lenient.Windows)
		}
	})
}

// TestDuckDBCountsTheExportedDayPartition reads the downloaded daily files the way analysts
// will: DuckDB with Hive partitioning, filtered on dt.
func TestDuckDBCountsTheExportedDayPartition(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(root, "tools", "duckdb", "query.mjs")
	if _, err := os.Stat(filepath.Join(root, "tools", "duckdb", "node_modules", "@duckdb", "node-api")); err != nil {
		t.Fatal("DuckDB node package missing: run scripts/services.sh duckdb")
	}
	truncate(t)
	ctx := context.Background()
	// Two days, so the dt filter has something to exclude.
	from, to := ts("2026-11-24T23:00:00Z"), ts("2026-11-25T01:00:00Z")
	if _, err := synthetic.Load(ctx, db.DB, synthetic.Options{Rows: 3000, Seed: 13, Start: from, End: to}); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOpts{})
	e.exportRange(t, from, to)

	dir := t.TempDir()
	for _, k := range e.keys(t, "logs/activity_log/daily/") {
		if !strings.HasSuffix(k, ".parquet") {
			continue
		}
		data, err := e.store.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, strings.TrimPrefix(k, "logs/activity_log/"))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, day := range []string{"2026-11-24", "2026-11-25"} {
		start, end, err := e.cfg.Grid.DayRange(day)
		if err != nil {
			t.Fatal(err)
		}
		want := countMySQL(t, start, end)
		sql := fmt.Sprintf("SELECT count(*) AS n, count(DISTINCT user_pseudonym) AS users FROM read_parquet('%s/daily/*/*.parquet', hive_partitioning=true) WHERE dt = '%s'", dir, day)
		out, err := exec.CommandContext(ctx, "node", script, sql).CombinedOutput()
		if err != nil {
			t.Fatalf("duckdb: %v: %s", err, out)
		}
		var res struct {
			N     json.Number `json:"n"`
			Users json.Number `json:"users"`
		}
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("duckdb output %q: %v", out, err)
		}
		if res.N.String() != strconv.FormatInt(want, 10) || want == 0 {
			t.Errorf("DuckDB counts %s rows on dt=%s, MySQL %d", res.N, day, want)
		}
		if u, _ := res.Users.Int64(); u < 100 {
			t.Errorf("DuckDB sees only %d distinct pseudonyms on dt=%s", u, day)
		}
	}
}

// BenchmarkExportWindow exports one window end to end (MySQL → protect → Parquet → versitygw)
// and reports rows/s and the peak heap. LOGETL_BENCH_ROWS sets the window's size (default
// 100000); the 1M-row figure is LOGETL_BENCH_ROWS=1000000 go test -bench ExportWindow -benchtime=1x.
func BenchmarkExportWindow(b *testing.B) {
	rows := 100000
	if s := os.Getenv("LOGETL_BENCH_ROWS"); s != "" {
		var err error
		if rows, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	truncate(b)
	if _, err := synthetic.Load(ctx, db.DB, synthetic.Options{Rows: rows, Seed: 1, Start: winStart, End: winEnd}); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{export.PerValue, export.PerRowGroup} {
		b.Run(mode, func(b *testing.B) {
			e := newEnv(b, envOpts{fieldEncryption: mode, production: true})
			runtime.GC()
			// HeapInuse includes garbage not yet collected; /gc/heap/live is what the last GC
			// found reachable. Both are sampled while the export runs.
			var peakInuse, peakLive atomic.Uint64
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				var ms runtime.MemStats
				live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
				for {
					runtime.ReadMemStats(&ms)
					metrics.Read(live)
					if ms.HeapInuse > peakInuse.Load() {
						peakInuse.Store(ms.HeapInuse)
					}
					if v := live[0].Value.Uint64(); v > peakLive.Load() {
						peakLive.Store(v)
					}
					select {
					case <-stop:
						return
					case <-time.After(20 * time.Millisecond):
					}
				}
			}()
			b.ResetTimer()
			var bytes int64
			for i := 0; i < b.N; i++ {
				ms, err := e.exp.ExportWindow(ctx, partition.Window{Start: winStart, End: winEnd}, nil)
				if err != nil {
					b.Fatal(err)
				}
				if ms[0].Rows != int64(rows) {
					b.Fatalf("exported %d rows of %d", ms[0].Rows, rows)
				}
				bytes = ms[0].Bytes
			}
			b.StopTimer()
			close(stop)
			<-done
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(peakInuse.Load())/(1<<20), "peak-heap-inuse-MiB")
			b.ReportMetric(float64(peakLive.Load())/(1<<20), "peak-live-heap-MiB")
			b.ReportMetric(float64(bytes)/float64(rows), "bytes/row")
		})
	}
}

// BenchmarkExtractOnly is the extract limit: the same window streamed and discarded.
func BenchmarkExtractOnly(b *testing.B) {
	ctx := context.Background()
	var n int
	for i := 0; i < b.N; i++ {
		r, err := activitylog.OpenWindow(ctx, db.DB, winStart, winEnd)
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]activitylog.Record, 2048)
		n = 0
		for {
			k, err := r.Next(buf)
			n += k
			if err != nil {
				break
			}
		}
		r.Close()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
