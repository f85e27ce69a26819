package launcher

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/logetl/logetl/apiserver"
	"github.com/logetl/logetl/internal/config"
)

var now = time.Date(2026, 11, 24, 10, 7, 30, 0, time.UTC)

func testConfig(addr string) Config {
	return Config{
		Temporal:  config.Temporal{TemporalAddress: addr, TemporalNamespace: "default", TaskQueue: "launcher-test", TemporalUIURL: "http://127.0.0.1:8233/"},
		SafetyLag: time.Minute, MaxRange: 100 * 365 * 24 * time.Hour,
		Tables: map[string]time.Duration{"activity_log": 15 * time.Minute},
		Now:    func() time.Time { return now },
	}
}

func req(from, to time.Time, g string) apiserver.BackfillRequest {
	return apiserver.BackfillRequest{From: from, To: to, Granularity: g}
}

func TestBackfillInputRejectsWhatTheCallerMustFix(t *testing.T) {
	l := New(testConfig("127.0.0.1:1"))
	day := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		from, to    time.Time
		granularity string
		wantErr     string
	}{
		{"a past day", day, day.AddDate(0, 0, 1), "daily", ""},
		{"granularity defaults to daily", day, day.Add(time.Hour), "", ""},
		{"weekly need not be aligned to windows", day.Add(7 * time.Minute), day.AddDate(0, 0, 1), "weekly", ""},
		{"unknown granularity", day, day.AddDate(0, 0, 1), "hourly", "not daily or weekly"},
		{"reversed", day.AddDate(0, 0, 1), day, "daily", "must be after"},
		{"not aligned", day.Add(7 * time.Minute), day.AddDate(0, 0, 1), "daily", "aligned to the 15m0s"},
		{"open window", now.Add(-37 * time.Minute).Truncate(15 * time.Minute), now.Add(-7*time.Minute - 30*time.Second).Add(15 * time.Minute), "daily", "last closed window"},
		{"56 years are accepted below the limit", time.Unix(0, 0).UTC(), day, "daily", ""},
		{"a range over the limit is refused naming it", time.Unix(0, 0).UTC().AddDate(-50, 0, 0), day, "daily", "longer than the limit of 36500d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := l.BackfillInput(req(tt.from, tt.to, tt.granularity))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if in.Table != "activity_log" || in.Granularity == "" {
					t.Fatalf("input %+v", in)
				}
				return
			}
			if !errors.Is(err, apiserver.ErrInvalidBackfill) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want ErrInvalidBackfill with %q", err, tt.wantErr)
			}
		})
	}
}
