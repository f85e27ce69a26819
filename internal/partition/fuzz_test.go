package partition

import (
	"errors"
	"testing"
	"time"
)

// FuzzParseRange feeds arbitrary --from/--to strings: whatever is accepted is a non-empty,
// grid-aligned range that ends before now minus the lag, and every window of it maps to keys.
func FuzzParseRange(f *testing.F) {
	f.Add("2026-11-24T10:00:00Z", "2026-11-24T10:30:00Z")
	f.Add("2026-11-20", "2026-11-21")
	f.Add("2026-11-24T19:00:00+09:00", "2026-11-24T19:15:00.000+09:00")
	f.Add("0001-01-01", "9999-12-31")
	f.Add("", "-")
	seoul, err := time.LoadLocation("Asia/Seoul")
	if err != nil {
		f.Fatal(err)
	}
	g, err := NewGrid(15*time.Minute, seoul)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, from, to string) {
		a, b, err := g.ParseRange(from, to, now, time.Minute)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if !a.Before(b) || !g.Aligned(a) || !g.Aligned(b) || b.After(now.Add(-time.Minute)) {
			t.Fatalf("accepted %s..%s", a, b)
		}
		if b.Sub(a) > 48*time.Hour {
			return // listing windows of huge ranges is not what this target is about
		}
		ws, err := g.Windows(a, b)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range ws {
			ps := g.Pieces(w)
			if len(ps) == 0 || !ps[0].Window.Start.Equal(w.Start) || !ps[len(ps)-1].Window.End.Equal(w.End) {
				t.Fatalf("pieces of %s = %v", w, ps)
			}
		}
	})
}
