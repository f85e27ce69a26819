package synthetic_test

import (
	"fmt"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/logetl/logetl/internal/activitylog"
	"github.com/logetl/logetl/internal/synthetic"
)

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
