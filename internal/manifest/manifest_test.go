package manifest

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func u64(v uint64) *uint64 { return &v }

func daily() Manifest {
	return Manifest{
		Table:           "activity_log",
		Granularity:     GranularityDay,
		WindowStart:     time.Date(2026, 11, 24, 19, 0, 0, 0, time.FixedZone("KST", 9*3600)),
		WindowEnd:       time.Date(2026, 11, 24, 10, 15, 0, 0, time.UTC),
		Partition:       "dt=2026-11-24",
		TimeZone:        "UTC",
		Object:          "logs/activity_log/daily/dt=2026-11-24/part-20261124T1000Z-20261124T1015Z.parquet",
		Rows:            3,
		Bytes:           1234,
		SHA256:          strings.Repeat("ab", 32),
		MinLogID:        u64(10),
		MaxLogID:        u64(12),
		SchemaVersion:   1,
		Compression:     "zstd",
		FieldEncryption: "per-value",
		HMACKeyID:       "h1",
		AEADKeyID:       "a1",
		WriterVersion:   "logetl test",
		CreatedAt:       time.Date(2026, 11, 24, 10, 16, 0, 0, time.UTC),
	}
}

func TestManifestRoundTripsAsUTCJSON(t *testing.T) {
	m := daily()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"window_start": "2026-11-24T10:00:00Z"`, `"window_end": "2026-11-24T10:15:00Z"`,
		`"rows": 3`, `"min_log_id": 10`, `"manifest_version": 1`, `"hmac_key_id": "h1"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s:\n%s", want, b)
		}
	}
	if strings.Contains(string(b), "sources") {
		t.Errorf("daily manifest lists sources:\n%s", b)
	}
	got, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if !got.WindowStart.Equal(m.WindowStart) || got.Rows != 3 || *got.MaxLogID != 12 || got.Object != m.Object {
		t.Errorf("parsed = %+v", got)
	}
}

func TestEmptyWindowManifestHasNoLogIDs(t *testing.T) {
	m := daily()
	m.Rows, m.MinLogID, m.MaxLogID = 0, nil, nil
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"min_log_id": null`) {
		t.Errorf("empty manifest:\n%s", b)
	}
	if _, err := Parse(b); err != nil {
		t.Error(err)
	}
}

func TestInvalidManifestsAreRejected(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Manifest)
	}{
		{"reversed window", func(m *Manifest) { m.WindowEnd = m.WindowStart.Add(-time.Minute) }},
		{"bad sha", func(m *Manifest) { m.SHA256 = "xyz" }},
		{"rows without ids", func(m *Manifest) { m.MinLogID = nil }},
		{"ids without rows", func(m *Manifest) { m.Rows = 0 }},
		{"min above max", func(m *Manifest) { m.MinLogID = u64(99) }},
		{"bad partition", func(m *Manifest) { m.Partition = "2026-11-24" }},
		{"unknown granularity", func(m *Manifest) { m.Granularity = "hourly" }},
		{"zero bytes", func(m *Manifest) { m.Bytes = 0 }},
		{"weekly sources do not add up", func(m *Manifest) {
			m.Granularity, m.Partition = GranularityWeek, "week=2026-W48"
			m.Sources = []Source{{Object: "a", Rows: 1}, {Object: "b", Rows: 1}}
		}},
	}
	for _, tt := range tests {
		m := daily()
		tt.mutate(&m)
		if _, err := m.Marshal(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Marshal err = %v, want ErrInvalid", tt.name, err)
		}
	}
	for _, bad := range []string{`{`, `{"manifest_version": 2}`, `[]`} {
		if _, err := Parse([]byte(bad)); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%s) err = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestWeeklyManifestListsItsSources(t *testing.T) {
	m := daily()
	m.Granularity, m.Partition = GranularityWeek, "week=2026-W48"
	m.Sources = []Source{{Object: "d1", Rows: 1, SHA256: strings.Repeat("0", 64)}, {Object: "d2", Rows: 2, SHA256: strings.Repeat("1", 64)}}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Sources) != 2 || got.Sources[1].Rows != 2 {
		t.Errorf("sources = %+v", got.Sources)
	}
}
