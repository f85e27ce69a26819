package worker

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/workflows"
)

func prodConfig() ScheduleConfig {
	return ScheduleConfig{Profile: ProfileProd, TaskQueue: "logetl", SafetyLag: time.Minute,
		Tables:         []TableSchedule{{Name: "activity_log", Window: 15 * time.Minute, Timezone: "Asia/Seoul"}, {Name: "audit", Window: 5 * time.Minute, Timezone: "UTC", Retention: 30 * 24 * time.Hour}},
		BotSignupCount: 1, BotActivityCount: 3}
}

func TestSchedulesDeriveCadencesFromTheProfile(t *testing.T) {
	dev := prodConfig()
	dev.Profile, dev.SafetyLag = ProfileDev, 10*time.Second
	dev.Tables = []TableSchedule{{Name: "activity_log", Window: time.Minute, Timezone: "UTC", Retention: 2 * time.Minute}}
	tests := []struct {
		name string
		cfg  ScheduleConfig
		want map[string]string // id → rendered spec
	}{
		{"prod", prodConfig(), map[string]string{
			"logetl-export-activity_log":       "every 15m0s offset 1m0s",
			"logetl-compact-week-activity_log": "calendar dow 1 00:11:00 Asia/Seoul",
			"logetl-verify-activity_log":       "every 1h0m0s offset 30m0s",
			"logetl-export-audit":              "every 5m0s offset 1m0s",
			"logetl-compact-week-audit":        "calendar dow 1 00:11:00 UTC",
			"logetl-verify-audit":              "every 1h0m0s offset 30m0s",
			"logetl-purge-audit":               "every 1h0m0s offset 45m0s",
			ScheduleBotSignup:                  "every 1h0m0s offset 0s",
			ScheduleBotActivity:                "every 5m0s offset 2m30s",
		}},
		{"dev", dev, map[string]string{
			"logetl-export-activity_log":       "every 1m0s offset 10s",
			"logetl-compact-week-activity_log": "every 2m0s offset 0s",
			"logetl-verify-activity_log":       "every 5m0s offset 30s",
			"logetl-purge-activity_log":        "every 1m0s offset 40s",
			ScheduleBotSignup:                  "every 1m0s offset 0s",
			ScheduleBotActivity:                "every 1m0s offset 30s",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Schedules(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d schedules, want %d", len(got), len(tt.want))
			}
			for _, s := range got {
				if r := renderSpec(s.Spec); r != tt.want[s.ID] {
					t.Errorf("%s: spec %q, want %q", s.ID, r, tt.want[s.ID])
				}
				if s.Action.TaskQueue != "logetl" || s.Action.ID != s.ID {
					t.Errorf("%s: action %+v", s.ID, s.Action)
				}
			}
		})
	}
}

func renderSpec(s client.ScheduleSpec) string {
	if len(s.Intervals) == 1 {
		return fmt.Sprintf("every %s offset %s", s.Intervals[0].Every, s.Intervals[0].Offset)
	}
	c := s.Calendars[0]
	return fmt.Sprintf("calendar dow %d %02d:%02d:%02d %s", c.DayOfWeek[0].Start, c.Hour[0].Start, c.Minute[0].Start, c.Second[0].Start, s.TimeZoneName)
}

func TestExportScheduleTicksMapToTheWindowThatJustClosed(t *testing.T) {
	for _, cfg := range []ScheduleConfig{prodConfig(), {Profile: ProfileDev, TaskQueue: "q", SafetyLag: 10 * time.Second,
		Tables: []TableSchedule{{Name: "t", Window: time.Minute, Timezone: "UTC"}}, BotSignupCount: 1, BotActivityCount: 1}} {
		scheds, err := Schedules(cfg)
		if err != nil {
			t.Fatal(err)
		}
		exp := scheds[0]
		in := exp.Action.Args[0].(workflows.ScheduledExportInput)
		iv := exp.Spec.Intervals[0]
		// A tick of the interval spec: epoch + n*every + offset.
		tick := time.Unix(0, 0).UTC().Add(time.Duration(1_900_000_000/iv.Every.Seconds())*iv.Every + iv.Offset)
		w := workflows.ScheduledWindow(tick, in.Window, in.SafetyLag)
		if !w.End.Equal(tick.Add(-iv.Offset)) || w.End.Sub(w.Start) != cfg.Tables[0].Window || in.Table != cfg.Tables[0].Name {
			t.Errorf("tick %s exports %s; want the window ending at %s", tick, w, tick.Add(-iv.Offset))
		}
		if exp.Overlap != enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL || exp.CatchupWindow != 24*time.Hour {
			t.Errorf("export policies %v %s", exp.Overlap, exp.CatchupWindow)
		}
	}
}

func TestSchedulesRejectBadConfig(t *testing.T) {
	for name, mutate := range map[string]func(*ScheduleConfig){
		"window not whole minutes": func(c *ScheduleConfig) { c.Tables[0].Window = 90 * time.Second },
		"negative lag":             func(c *ScheduleConfig) { c.SafetyLag = -time.Second },
		"unknown profile":          func(c *ScheduleConfig) { c.Profile = "staging" },
		"unknown zone":             func(c *ScheduleConfig) { c.Tables[1].Timezone = "Mars/Olympus" },
		"no bots":                  func(c *ScheduleConfig) { c.BotActivityCount = 0 },
		"no task queue":            func(c *ScheduleConfig) { c.TaskQueue = "" },
	} {
		cfg := prodConfig()
		mutate(&cfg)
		if _, err := Schedules(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestMetricsExposeRowsBytesLagAndStartAtZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	now := time.Date(2026, 11, 24, 10, 20, 0, 0, time.UTC)
	m, err := NewMetrics(reg, []string{"activity_log", "audit"}, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := series(t, reg, "logetl_export_lag_seconds", "activity_log"); ok {
		t.Fatal("a lag before any export is known")
	}
	if v, ok := series(t, reg, "logetl_export_failures_total", "audit"); !ok || v.GetCounter().GetValue() != 0 {
		t.Fatal("failure counters do not start at zero, so a first failure would not show as an increase")
	}
	w := func(h, min int) partition.Window {
		s := time.Date(2026, 11, 24, h, min, 0, 0, time.UTC)
		return partition.Window{Start: s, End: s.Add(15 * time.Minute)}
	}
	m.Exported("activity_log", partition.Daily, w(10, 0), 100, 4000, time.Second)
	m.Exported("activity_log", partition.Daily, w(8, 0), 50, 2000, time.Second) // a backfill of an older window
	m.Exported("audit", partition.Daily, w(9, 0), 1, 10, time.Second)
	if v, _ := series(t, reg, "logetl_export_rows_total", "activity_log"); v.GetCounter().GetValue() != 150 {
		t.Errorf("rows %v", v)
	}
	if v, _ := series(t, reg, "logetl_export_lag_seconds", "activity_log"); v.GetGauge().GetValue() != 300 {
		t.Errorf("lag %v, want 300 s (newest window ended 10:15, now 10:20)", v)
	}
	if v, _ := series(t, reg, "logetl_export_lag_seconds", "audit"); v.GetGauge().GetValue() != 65*60 {
		t.Errorf("audit lag %v", v)
	}
	m.Purged("audit", "refused", "the files hold 3 rows, their manifests say 2", 0)
	if v, _ := series(t, reg, "logetl_purge_refused_windows_total", "audit"); v.GetCounter().GetValue() != 1 {
		t.Errorf("refusals %v", v)
	}
}

// series finds the series of metric name whose table label is table.
func series(t *testing.T, reg *prometheus.Registry, name, table string) (*dto.Metric, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "table" && l.GetValue() == table {
					return m, true
				}
			}
		}
	}
	return nil, false
}

// sampleSum adds up the samples of name (all its series) in the exposition text.
func sampleSum(body, name string) float64 {
	sum := 0.0
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
			sum += v
		}
	}
	return sum
}

// hasSeries reports whether the exposition text has a sample of name.
func hasSeries(body, name string) bool {
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			return true
		}
	}
	return false
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(b)
}
