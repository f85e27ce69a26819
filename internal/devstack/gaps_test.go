package devstack

import "testing"

func TestGapLineKeepsOnlyTheWorkersStartUpGapReport(t *testing.T) {
	for _, c := range []struct {
		line, want string
		ok         bool
	}{
		{`time=2026-01-02T03:04:05.000Z level=WARN msg="rows in MySQL the lake has never exported: backfilling them" table=activity_log rows=42`,
			`level=WARN msg="rows in MySQL the lake has never exported: backfilling them" table=activity_log rows=42`, true},
		{`time=2026-01-02T03:04:05.000Z level=WARN msg="cannot check the lake for gaps" table=t error=x`,
			`level=WARN msg="cannot check the lake for gaps" table=t error=x`, true},
		{`{"level":"WARN","msg":"rows in MySQL the lake has never exported","table":"t"}`,
			`{"level":"WARN","msg":"rows in MySQL the lake has never exported","table":"t"}`, true},
		{`time=2026-01-02T03:04:05.000Z level=INFO msg="worker polling"`, "", false},
	} {
		got, ok := gapLine(c.line)
		if got != c.want || ok != c.ok {
			t.Errorf("gapLine(%q) = %q, %v; want %q, %v", c.line, got, ok, c.want, c.ok)
		}
	}
}
