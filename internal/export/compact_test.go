//go:build integration

package export_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/logetl/logetl/internal/export"
	"github.com/logetl/logetl/internal/lake"
	"github.com/logetl/logetl/internal/s3store"
)

func TestTheWeeklyFileIsTheUnionOfItsDailyFiles(t *testing.T) {
	truncate(t)
	ctx := context.Background()
	e := newEnv(t, envOpts{window: time.Hour, rowGroupRows: 3})
	week := e.cfg.Grid.WeekOf(ts("2026-11-24T00:00:00Z"))
	ws, we, _ := e.cfg.Grid.WeekRange(week)
	var n int64
	for d := ws; d.Before(we); d = d.Add(26 * time.Hour) {
		insert(t, row{at: d}, row{at: d.Add(time.Minute)})
		n += 2
	}
	if _, err := e.exp.ExportRange(ctx, ws, we, 0, nil); err != nil {
		t.Fatal(err)
	}
	m, err := e.exp.CompactWeek(ctx, week, we, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Rows != n || int64(len(m.Sources)) != n/2 || e.rowsIn(t, m.Object) != n || m.ETag == "" {
		t.Fatalf("weekly manifest rows %d sources %d (want %d, %d)", m.Rows, len(m.Sources), n, n/2)
	}
	if got := duckCount(t, repoRoot(t), e, "weekly"); got != n {
		t.Fatalf("DuckDB reads %d weekly rows, want %d", got, n)
	}
}

func TestACompactionRefusesAGapAndRepairFillsIt(t *testing.T) {
	truncate(t)
	ctx := context.Background()
	e := newEnv(t, envOpts{window: time.Hour})
	week := e.cfg.Grid.WeekOf(ts("2026-11-24T00:00:00Z"))
	ws, we, _ := e.cfg.Grid.WeekRange(week)
	insert(t, row{at: ws.Add(time.Hour)}, row{at: ws.Add(30 * time.Hour)}, row{at: ws.Add(50 * time.Hour)})
	if _, err := e.exp.ExportRange(ctx, ws, we, 0, nil); err != nil {
		t.Fatal(err)
	}
	// Delete one window's daily objects, as an outage or a lost lake would.
	w := e.window(ws.Add(30 * time.Hour).Format(time.RFC3339))
	key := e.cfg.Layout.DailyKey(e.cfg.Grid.Pieces(w)[0])
	for _, k := range []string{key, lake.ManifestKey(key)} {
		if err := e.store.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	_, err := e.exp.CompactWeek(ctx, week, we, nil)
	var cov *export.CoverageError
	if !errors.As(err, &cov) || len(cov.Problems) != 1 || cov.Problems[0].Window != w || export.IsPermanent(err) {
		t.Fatalf("compaction = %v, want a retryable CoverageError naming %s", err, w)
	}
	m, err := e.exp.RepairAndCompactWeek(ctx, week, we)
	if err != nil || m.Rows != 3 {
		t.Fatalf("repair and compact: %+v %v", m, err)
	}
}

func TestACompactionReadingADailyFileBeingReplacedStartsOver(t *testing.T) {
	truncate(t)
	ctx := context.Background()
	e := newEnv(t, envOpts{window: time.Hour})
	w := e.window("2026-11-24T10:00:00Z")
	insert(t, row{at: w.Start})
	res, err := e.exp.ExportWindow(ctx, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	old := res.Manifests[0]
	insert(t, row{at: w.Start.Add(time.Minute)})
	if _, err := e.exp.ExportWindow(ctx, w, nil); err != nil {
		t.Fatal(err)
	}
	// A reader holding the old manifest must not read the new object as if it were the old.
	if _, err := e.store.OpenVersion(ctx, old.Object, old.ETag); !errors.Is(err, s3store.ErrChanged) {
		t.Fatalf("open of the replaced version = %v, want ErrChanged", err)
	}
	m, err := e.exp.CompactWeek(ctx, e.cfg.Grid.WeekOf(w.Start), w.End, nil)
	if err != nil || m.Rows != 2 || !strings.HasSuffix(m.Object, ".parquet") {
		t.Fatalf("compaction: %+v %v", m, err)
	}
}
