package partition

import (
	"errors"
	"testing"
	"time"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return loc
}

func mustGrid(t *testing.T, length time.Duration, zone string) Grid {
	t.Helper()
	g, err := NewGrid(length, mustLoc(t, zone))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestGridIsAlignedToTheUnixEpoch(t *testing.T) {
	tests := []struct {
		length time.Duration
		at     string
		want   string
	}{
		{15 * time.Minute, "2026-11-24T10:14:59.999999Z", "2026-11-24T10:00:00Z"},
		{15 * time.Minute, "2026-11-24T10:15:00Z", "2026-11-24T10:15:00Z"},
		{time.Minute, "2026-11-24T10:15:30Z", "2026-11-24T10:15:00Z"},
		// 7 minutes does not divide an hour: the grid still counts from the epoch.
		{7 * time.Minute, "1970-01-01T00:15:00Z", "1970-01-01T00:14:00Z"},
		{7 * time.Minute, "1969-12-31T23:59:00Z", "1969-12-31T23:53:00Z"},
		{2 * time.Hour, "2026-11-24T15:30:00+09:00", "2026-11-24T06:00:00Z"},
	}
	for _, tt := range tests {
		g := mustGrid(t, tt.length, "UTC")
		if got := g.Floor(ts(tt.at)); !got.Equal(ts(tt.want)) {
			t.Errorf("Floor(%s, %s) = %s, want %s", tt.at, tt.length, got.Format(time.RFC3339Nano), tt.want)
		}
	}
}

func TestNewGridRejectsBadLengths(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Minute, 90 * time.Second, 25 * time.Hour} {
		if _, err := NewGrid(d, time.UTC); !errors.Is(err, ErrInvalid) {
			t.Errorf("NewGrid(%s) err = %v, want ErrInvalid", d, err)
		}
	}
}

func TestWindowIsHalfOpen(t *testing.T) {
	w := Window{Start: ts("2026-11-24T10:00:00Z"), End: ts("2026-11-24T10:15:00Z")}
	tests := []struct {
		at   string
		want bool
	}{
		{"2026-11-24T10:00:00Z", true},
		{"2026-11-24T10:14:59.999999Z", true},
		{"2026-11-24T10:15:00Z", false},
		{"2026-11-24T09:59:59.999999Z", false},
	}
	for _, tt := range tests {
		if got := w.Contains(ts(tt.at)); got != tt.want {
			t.Errorf("Contains(%s) = %v, want %v", tt.at, got, tt.want)
		}
	}
}

func TestPiecesSplitAtLocalMidnight(t *testing.T) {
	tests := []struct {
		name   string
		zone   string
		length time.Duration
		start  string
		want   []string // keys under prefix "p"
	}{
		{
			name: "seoul 15m window right after local midnight is the next day",
			zone: "Asia/Seoul", length: 15 * time.Minute, start: "2026-11-24T15:00:00Z",
			want: []string{"p/activity_log/daily/dt=2026-11-25/part-20261124T1500Z-20261124T1515Z.parquet"},
		},
		{
			name: "seoul 15m window right before local midnight is the same day",
			zone: "Asia/Seoul", length: 15 * time.Minute, start: "2026-11-24T14:45:00Z",
			want: []string{"p/activity_log/daily/dt=2026-11-24/part-20261124T1445Z-20261124T1500Z.parquet"},
		},
		{
			name: "seoul 2h window crossing midnight splits in two",
			zone: "Asia/Seoul", length: 2 * time.Hour, start: "2026-11-24T14:00:00Z",
			want: []string{
				"p/activity_log/daily/dt=2026-11-24/part-20261124T1400Z-20261124T1500Z.parquet",
				"p/activity_log/daily/dt=2026-11-25/part-20261124T1500Z-20261124T1600Z.parquet",
			},
		},
		{
			name: "kolkata half-hour offset splits a 1h window",
			zone: "Asia/Kolkata", length: time.Hour, start: "2026-11-24T18:00:00Z",
			want: []string{
				"p/activity_log/daily/dt=2026-11-24/part-20261124T1800Z-20261124T1830Z.parquet",
				"p/activity_log/daily/dt=2026-11-25/part-20261124T1830Z-20261124T1900Z.parquet",
			},
		},
		{
			name: "utc window ending at midnight stays in its day",
			zone: "UTC", length: 15 * time.Minute, start: "2026-11-24T23:45:00Z",
			want: []string{"p/activity_log/daily/dt=2026-11-24/part-20261124T2345Z-20261125T0000Z.parquet"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := mustGrid(t, tt.length, tt.zone)
			ps := g.Pieces(g.WindowAt(ts(tt.start)))
			var got []string
			for _, p := range ps {
				got = append(got, "p/activity_log/daily/dt="+p.Day+"/part-"+p.Window.String()+".parquet")
			}
			if len(got) != len(tt.want) {
				t.Fatalf("keys = %q, want %q", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("key %d = %q, want %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestWeeksAreISOMondayStartInTheZone(t *testing.T) {
	tests := []struct {
		zone      string
		at        string
		week      string
		from, end string
	}{
		{"UTC", "2026-11-24T10:00:00Z", "2026-W48", "2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z"},
		// Sunday 23:30 UTC is already Monday in Seoul: next week there.
		{"Asia/Seoul", "2026-11-29T15:30:00Z", "2026-W49", "2026-11-29T15:00:00Z", "2026-12-06T15:00:00Z"},
		{"UTC", "2026-11-29T15:30:00Z", "2026-W48", "2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z"},
		// ISO years differ from calendar years at the edges.
		{"UTC", "2027-01-01T12:00:00Z", "2026-W53", "2026-12-28T00:00:00Z", "2027-01-04T00:00:00Z"},
		{"UTC", "2024-12-30T12:00:00Z", "2025-W01", "2024-12-30T00:00:00Z", "2025-01-06T00:00:00Z"},
	}
	for _, tt := range tests {
		g := mustGrid(t, 15*time.Minute, tt.zone)
		w := g.WeekOf(ts(tt.at))
		if w.String() != tt.week {
			t.Errorf("%s WeekOf(%s) = %s, want %s", tt.zone, tt.at, w, tt.week)
			continue
		}
		parsed, err := ParseWeek(tt.week)
		if err != nil || parsed != w {
			t.Errorf("ParseWeek(%s) = %v, %v", tt.week, parsed, err)
		}
		from, end, err := g.WeekRange(w)
		if err != nil {
			t.Fatal(err)
		}
		if !from.Equal(ts(tt.from)) || !end.Equal(ts(tt.end)) {
			t.Errorf("%s WeekRange(%s) = %s..%s, want %s..%s", tt.zone, w, from, end, tt.from, tt.end)
		}
	}
}

func TestWeekRangeRejectsWeeksThatDoNotExist(t *testing.T) {
	g := mustGrid(t, 15*time.Minute, "UTC")
	if _, _, err := g.WeekRange(Week{Year: 2025, Week: 53}); !errors.Is(err, ErrInvalid) {
		t.Errorf("2025-W53 err = %v, want ErrInvalid", err)
	}
	for _, s := range []string{"2026-48", "2026-W00", "2026-W54", "26-W01", "2026-W1"} {
		if _, err := ParseWeek(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseWeek(%q) err = %v, want ErrInvalid", s, err)
		}
	}
}

func TestDaysAndWeeksOfARange(t *testing.T) {
	g := mustGrid(t, 15*time.Minute, "Asia/Seoul")
	days := g.Days(ts("2026-11-24T14:00:00Z"), ts("2026-11-25T16:00:00Z"))
	want := []string{"2026-11-24", "2026-11-25", "2026-11-26"}
	if len(days) != len(want) {
		t.Fatalf("days = %v, want %v", days, want)
	}
	for i := range want {
		if days[i] != want[i] {
			t.Errorf("day %d = %s, want %s", i, days[i], want[i])
		}
	}
	weeks := g.Weeks(ts("2026-11-20T00:00:00Z"), ts("2026-12-01T00:00:00Z"))
	if len(weeks) != 3 || weeks[0].String() != "2026-W47" || weeks[2].String() != "2026-W49" {
		t.Errorf("weeks = %v, want W47..W49", weeks)
	}
}

func TestParseRange(t *testing.T) {
	now := ts("2026-11-24T12:00:00Z")
	tests := []struct {
		name     string
		zone     string
		from, to string
		wantFrom string
		wantTo   string
		wantErr  bool
	}{
		{name: "rfc3339", zone: "UTC", from: "2026-11-24T10:00:00Z", to: "2026-11-24T10:30:00Z", wantFrom: "2026-11-24T10:00:00Z", wantTo: "2026-11-24T10:30:00Z"},
		{name: "offset", zone: "UTC", from: "2026-11-24T19:00:00+09:00", to: "2026-11-24T19:15:00+09:00", wantFrom: "2026-11-24T10:00:00Z", wantTo: "2026-11-24T10:15:00Z"},
		{name: "dates are local midnights", zone: "Asia/Seoul", from: "2026-11-20", to: "2026-11-21", wantFrom: "2026-11-19T15:00:00Z", wantTo: "2026-11-20T15:00:00Z"},
		{name: "reversed", zone: "UTC", from: "2026-11-24T10:30:00Z", to: "2026-11-24T10:00:00Z", wantErr: true},
		{name: "empty", zone: "UTC", from: "2026-11-24T10:00:00Z", to: "2026-11-24T10:00:00Z", wantErr: true},
		{name: "misaligned", zone: "UTC", from: "2026-11-24T10:05:00Z", to: "2026-11-24T10:30:00Z", wantErr: true},
		{name: "garbage", zone: "UTC", from: "yesterday", to: "2026-11-24T10:30:00Z", wantErr: true},
		{name: "inside the safety lag", zone: "UTC", from: "2026-11-24T11:45:00Z", to: "2026-11-24T12:00:00Z", wantErr: true},
		{name: "in the future", zone: "UTC", from: "2026-11-25T10:00:00Z", to: "2026-11-25T10:15:00Z", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := mustGrid(t, 15*time.Minute, tt.zone)
			f, to, err := g.ParseRange(tt.from, tt.to, now, time.Minute)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("err = %v, want ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !f.Equal(ts(tt.wantFrom)) || !to.Equal(ts(tt.wantTo)) {
				t.Errorf("range = %s..%s, want %s..%s", f, to, tt.wantFrom, tt.wantTo)
			}
		})
	}
}

func TestWindowsListsTheGrid(t *testing.T) {
	g := mustGrid(t, 15*time.Minute, "UTC")
	ws, err := g.Windows(ts("2026-11-24T10:00:00Z"), ts("2026-11-24T11:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 4 || !ws[3].End.Equal(ts("2026-11-24T11:00:00Z")) {
		t.Errorf("windows = %v", ws)
	}
	if _, err := g.Windows(ts("2026-11-24T10:01:00Z"), ts("2026-11-24T11:00:00Z")); !errors.Is(err, ErrInvalid) {
		t.Errorf("misaligned err = %v", err)
	}
}
