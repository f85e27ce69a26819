//go:build integration

package synthetic_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/logetl/logetl/internal/synthetic"
	"github.com/logetl/logetl/internal/testenv"
)

var db *testenv.Database

func TestMain(m *testing.M) { testenv.RunWithDatabase(m, "synthetic", &db) }

func TestLoadInsertsTheGeneratedRows(t *testing.T) {
	ctx := context.Background()
	if err := db.Truncate(ctx, "activity_log"); err != nil {
		t.Fatal(err)
	}
	opts := synthetic.Options{Rows: 2345, Seed: 3, Start: start, End: end, BatchRows: 500}
	res, err := synthetic.Load(ctx, db.DB, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 2345 || res.LastID-res.FirstID+1 != 2345 {
		t.Fatalf("result = %+v", res)
	}
	var n int64
	if err := db.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM activity_log WHERE id BETWEEN ? AND ?", res.FirstID, res.LastID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2345 {
		t.Fatalf("table holds %d rows, want 2345", n)
	}
	// Row by row, MySQL holds what the generator makes, in id order.
	g := synthetic.NewGenerator(opts)
	rows, err := db.DB.QueryContext(ctx, "SELECT id, occurred_at, request_id, user_id, client_ip, user_agent, email, path FROM activity_log ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for rows.Next() {
		var (
			id       uint64
			at       time.Time
			rid, ip  string
			ua, path string
			user     *uint64
			email    *string
		)
		if err := rows.Scan(&id, &at, &rid, &user, &ip, &ua, &email, &path); err != nil {
			t.Fatal(err)
		}
		want := g.Next()
		if id != res.FirstID+uint64(i) || !at.Equal(want.OccurredAt) || rid != want.RequestID || ip != want.ClientIP ||
			ua != want.UserAgent || path != want.Path || fmt.Sprint(deref(user)) != fmt.Sprint(deref(want.UserID)) ||
			derefS(email) != derefS(want.Email) {
			t.Fatalf("row %d = id %d %v %s %v %s; want %+v", i, id, at, rid, deref(user), ip, want)
		}
		i++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkLoad measures the insert rate; run with -benchtime=1x and LOGETL_BENCH_ROWS=1000000
// for the million-row figure.
func BenchmarkLoad(b *testing.B) {
	ctx := context.Background()
	rows := 100000
	if s := os.Getenv("LOGETL_BENCH_ROWS"); s != "" {
		var err error
		if rows, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := db.Truncate(ctx, "activity_log"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := synthetic.Load(ctx, db.DB, synthetic.Options{Rows: rows, Seed: 1, Start: start, End: end}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
