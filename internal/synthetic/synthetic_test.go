package synthetic_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/logetl/logetl/internal/activitylog"
	"github.com/logetl/logetl/internal/synthetic"
	"github.com/logetl/logetl/internal/testenv"
)

var db *testenv.Database

func TestMain(m *testing.M) { testenv.RunWithDatabase(m, "synthetic", &db) }

var (
	start = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	end   = start.Add(time.Hour)
)

func TestGeneratorIsReproducibleAndRealistic(t *testing.T) {
	opts := synthetic.Options{Rows: 20000, Seed: 7, Start: start, End: end}
	a, b := synthetic.NewGenerator(opts), synthetic.NewGenerator(opts)
	other := synthetic.NewGenerator(synthetic.Options{Rows: 20000, Seed: 8, Start: start, End: end})
	actions := map[string]int{}
	uas := map[string]bool{}
	users := map[uint64]bool{}
	var v4, v6, emails, differs int
	for i := 0; i < opts.Rows; i++ {
		ra, rb, ro := a.Next(), b.Next(), other.Next()
		if show(ra) != show(rb) {
			t.Fatalf("row %d differs between two generators of the same seed:\n%+v\n%+v", i, ra, rb)
		}
		if ra.RequestID != ro.RequestID {
			differs++
		}
		if ra.OccurredAt.Before(start) || !ra.OccurredAt.Before(end) || ra.OccurredAt.Nanosecond()%1000 != 0 {
			t.Fatalf("row %d occurred_at %v outside [start,end) or finer than microseconds", i, ra.OccurredAt)
		}
		actions[ra.Action]++
		uas[ra.UserAgent] = true
		if ra.UserID != nil {
			users[*ra.UserID] = true
		}
		ip, err := netip.ParseAddr(ra.ClientIP)
		if err != nil {
			t.Fatalf("row %d ip %q: %v", i, ra.ClientIP, err)
		}
		if ip.Is4() {
			v4++
		} else {
			v6++
		}
		if ra.Action == activitylog.ActionUserLoginFailed {
			if ra.Email == nil || ra.UserID != nil || ra.Status != 401 {
				t.Fatalf("failed login without email or with a user: %+v", ra)
			}
			emails++
		} else if ra.Email != nil {
			t.Fatalf("email on a %s row", ra.Action)
		}
	}
	if differs < opts.Rows*9/10 {
		t.Errorf("another seed gives mostly the same rows (%d of %d differ)", differs, opts.Rows)
	}
	for _, act := range []string{activitylog.ActionUserSignup, activitylog.ActionUserLogin, activitylog.ActionUserLoginFailed,
		activitylog.ActionUserWithdraw, activitylog.ActionPostCreate, activitylog.ActionPostUpdate, activitylog.ActionPostDelete,
		activitylog.ActionPostView, activitylog.ActionTokenRefresh} {
		if actions[act] == 0 {
			t.Errorf("no %s row", act)
		}
	}
	if len(uas) < 200 || len(users) < 2000 || v4 == 0 || v6 == 0 || emails == 0 {
		t.Errorf("mix too poor: %d user agents, %d users, %d IPv4, %d IPv6, %d emails", len(uas), len(users), v4, v6, emails)
	}
}

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

// show renders a record with its pointers dereferenced, for comparison.
func show(r activitylog.Record) string {
	return fmt.Sprintf("%v|%s|%s|%s|%s|%s|%s|%d|%s|%s|%s|%s|%s", r.OccurredAt, r.RequestID, deref(r.UserID), r.Action, r.Method,
		r.Route, r.Path, r.Status, deref(r.PostID), r.ClientIP, r.UserAgent, derefS(r.Email), r.Message)
}

func deref(p *uint64) string {
	if p == nil {
		return "null"
	}
	return strconv.FormatUint(*p, 10)
}

func derefS(p *string) string {
	if p == nil {
		return "null"
	}
	return *p
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
