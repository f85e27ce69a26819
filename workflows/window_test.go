package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
)

var mockAny = mock.Anything

func TestFloorGridIsAlignedToTheUnixEpoch(t *testing.T) {
	tests := []struct {
		in   string
		step time.Duration
		want string
	}{
		{"2026-11-24T10:14:59.999Z", 15 * time.Minute, "2026-11-24T10:00:00Z"},
		{"2026-11-24T10:15:00Z", 15 * time.Minute, "2026-11-24T10:15:00Z"},
		{"2026-11-24T10:15:00+09:00", time.Hour, "2026-11-24T01:00:00Z"},
		{"1969-12-31T23:59:30Z", time.Minute, "1969-12-31T23:59:00Z"},
		{"2026-11-24T10:21:00Z", 7 * time.Minute, "2026-11-24T10:19:00Z"}, // 7m cells count from 1970 (time.Truncate, from year 1, gives 10:18)
	}
	for _, tt := range tests {
		in, _ := time.Parse(time.RFC3339Nano, tt.in)
		want, _ := time.Parse(time.RFC3339, tt.want)
		if got := FloorGrid(in, tt.step); !got.Equal(want) {
			t.Errorf("FloorGrid(%s, %s) = %s, want %s", tt.in, tt.step, got, want)
		}
	}
}

func TestGridWindowsCoverARangeWithoutGaps(t *testing.T) {
	from := time.Date(2026, 11, 24, 10, 7, 0, 0, time.UTC)
	to := time.Date(2026, 11, 24, 11, 0, 0, 0, time.UTC)
	ws := GridWindows(from, to, 15*time.Minute)
	if len(ws) != 4 || !ws[0].Start.Equal(from.Add(-7*time.Minute)) || !ws[3].End.Equal(to) {
		t.Fatalf("windows %v", ws)
	}
	for i := 1; i < len(ws); i++ {
		if !ws[i].Start.Equal(ws[i-1].End) {
			t.Fatalf("gap between %s and %s", ws[i-1], ws[i])
		}
	}
	if got := GridWindows(to, to, time.Minute); len(got) != 0 {
		t.Fatalf("empty range gave %v", got)
	}
}

func TestWeekStartIsMondayMidnightInTheZone(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in   time.Time
		loc  *time.Location
		want time.Time
	}{
		{time.Date(2026, 11, 29, 23, 59, 0, 0, time.UTC), time.UTC, time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)},
		{time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), time.UTC, time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)},
		{time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC), time.UTC, time.Date(2026, 12, 28, 0, 0, 0, 0, time.UTC)},
		// the week of the DST change in New York (Nov 1, 2026)
		{time.Date(2026, 11, 4, 3, 0, 0, 0, time.UTC), ny, time.Date(2026, 11, 2, 0, 0, 0, 0, ny)},
	}
	for _, tt := range tests {
		if got := WeekStart(tt.in, tt.loc); !got.Equal(tt.want) {
			t.Errorf("WeekStart(%s, %s) = %s, want %s", tt.in, tt.loc, got, tt.want)
		}
	}
	if got := WeekLabel(time.Date(2026, 12, 28, 0, 0, 0, 0, time.UTC)); got != "2026-W53" {
		t.Errorf("label %s", got)
	}
}

func TestIDsAreDerivedFromTheWindow(t *testing.T) {
	w := Window{Start: time.Date(2026, 11, 24, 19, 0, 0, 0, time.FixedZone("KST", 9*3600)), End: time.Date(2026, 11, 24, 10, 15, 0, 0, time.UTC)}
	if got, want := ExportWindowID(w), "export/activity_log/daily/2026-11-24T10:00:00Z/2026-11-24T10:15:00Z"; got != want {
		t.Errorf("ExportWindowID = %s, want %s", got, want)
	}
	if got, want := CompactWeekID(time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)), "compact/activity_log/weekly/2026-W48"; got != want {
		t.Errorf("CompactWeekID = %s, want %s", got, want)
	}
	if got, want := BackfillID(w.Start, w.End, GranularityDaily), "backfill/daily/2026-11-24T10:00:00Z/2026-11-24T10:15:00Z"; got != want {
		t.Errorf("BackfillID = %s, want %s", got, want)
	}
}
