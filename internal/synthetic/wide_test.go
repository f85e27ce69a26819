package synthetic

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// The wide generator is reproducible, gives one value per inserted column, and keeps its times
// in order inside the window.
func TestWideGeneratorIsReproducible(t *testing.T) {
	start := time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)
	opts := Options{Rows: 200, Seed: 7, Start: start, End: start.Add(time.Hour)}
	a, b := NewWideGenerator(opts), NewWideGenerator(opts)
	var last time.Time
	nulls := 0
	for i := 0; i < opts.Rows; i++ {
		ra, rb := a.Next(), b.Next()
		if !reflect.DeepEqual(ra, rb) {
			t.Fatalf("row %d differs between two generators of one seed", i)
		}
		if len(ra) != len(wideColumns) {
			t.Fatalf("row %d has %d values for %d columns", i, len(ra), len(wideColumns))
		}
		at := ra[0].(time.Time)
		if at.Before(last) || at.Before(opts.Start) || !at.Before(opts.End) {
			t.Fatalf("row %d at %v after %v", i, at, last)
		}
		last = at
		for _, v := range ra {
			if v == nil {
				nulls++
			}
		}
	}
	if nulls == 0 {
		t.Error("no NULL in 200 rows")
	}
	if q := wideInsertSQL(2); strings.Count(q, "?") != 2*len(wideColumns) {
		t.Errorf("insert has %d placeholders", strings.Count(q, "?"))
	}
}
