//go:build integration

package synthetic_test

import (
	"context"
	"testing"
	"time"

	"github.com/logetl/logetl/internal/synthetic"
)

// LoadWide creates the wide table and inserts exactly the rows asked for, ids contiguous.
func TestLoadWideInsertsTheGeneratedRows(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)
	res, err := synthetic.LoadWide(ctx, db.DB, synthetic.Options{Rows: 1234, Seed: 2, Start: start, End: start.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := db.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+synthetic.WideTable).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if res.Rows != 1234 || n != 1234 || res.LastID-res.FirstID+1 != 1234 {
		t.Fatalf("result %+v, %d rows in MySQL", res, n)
	}
}
