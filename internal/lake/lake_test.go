package lake

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/s3store"
)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestDesignLayoutKeysAreExact(t *testing.T) {
	g, err := partition.NewGrid(15*time.Minute, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	l := Layout{Prefix: "logs", Table: "activity_log"}
	p := g.Pieces(g.WindowAt(ts("2026-11-24T10:07:00Z")))[0]
	wk := g.WeekOf(p.Window.Start)
	for got, want := range map[string]string{
		l.DailyKey(p):                "logs/activity_log/daily/dt=2026-11-24/part-20261124T1000Z-20261124T1015Z.parquet",
		ManifestKey(l.DailyKey(p)):   "logs/activity_log/daily/dt=2026-11-24/part-20261124T1000Z-20261124T1015Z.manifest.json",
		l.WeeklyKey(wk):              "logs/activity_log/weekly/week=2026-W48/part-2026-W48.parquet",
		ManifestKey(l.WeeklyKey(wk)): "logs/activity_log/weekly/week=2026-W48/part-2026-W48.manifest.json",
		l.DescriptorKey():            "logs/activity_log/_logetl/layout.json",
		l.CoverageKey():              "logs/activity_log/_logetl/coverage.json",
	} {
		if got != want {
			t.Errorf("key %q, want %q", got, want)
		}
	}
}

func TestParseKeyReadsPartFilesAndRefusesOthers(t *testing.T) {
	l := Layout{Prefix: "logs", Table: "t"}
	tests := []struct {
		key      string
		ok       bool
		manifest bool
		window   string
	}{
		{"logs/t/daily/dt=2026-11-24/part-20261124T1000Z-20261124T1015Z.parquet", true, false, "20261124T1000Z-20261124T1015Z"},
		{"logs/t/daily/dt=2026-11-24/part-20261124T1000Z-20261124T1015Z.manifest.json", true, true, "20261124T1000Z-20261124T1015Z"},
		{"logs/t/weekly/week=2026-W48/part-2026-W48.parquet", true, false, ""},
		{"logs/t/weekly/week=2026-W48/part-2026-W47.parquet", false, false, ""},
		{"logs/t/daily/dt=2026-11-24/copy.parquet", false, false, ""},
		{"logs/t/daily/dt=2026-11-24/part-20261124T1015Z-20261124T1000Z.parquet", false, false, ""},
		{"logs/t/daily/dt=2026-11-24/sub/part-20261124T1000Z-20261124T1015Z.parquet", false, false, ""},
		{"logs/t/daily/dt=2026-11-24/part-20261124T1000Z-20261124T1015Z.csv", false, false, ""},
		{"logs/other/daily/dt=2026-11-24/part-20261124T1000Z-20261124T1015Z.parquet", false, false, ""},
	}
	for _, tt := range tests {
		k, ok := l.ParseKey(tt.key)
		if ok != tt.ok || ok && (k.Manifest != tt.manifest || tt.window != "" && k.Window.String() != tt.window) {
			t.Errorf("ParseKey(%q) = %+v %v", tt.key, k, ok)
		}
		if ok && !strings.HasSuffix(k.Parquet, ".parquet") {
			t.Errorf("ParseKey(%q).Parquet = %q", tt.key, k.Parquet)
		}
	}
}

func TestCoverageMergesIntervalsAndAnswersCovers(t *testing.T) {
	var c Coverage
	h := func(n int) time.Time { return ts("2026-11-24T00:00:00Z").Add(time.Duration(n) * time.Hour) }
	for _, iv := range []Interval{{h(0), h(1)}, {h(3), h(4)}, {h(1), h(2)}, {h(6), h(8)}, {h(5), h(7)}} {
		c.Add(iv)
	}
	want := "[0-2 3-4 5-8]"
	var got []string
	for _, iv := range c.Intervals {
		got = append(got, fmt.Sprintf("%d-%d", int(iv.Start.Sub(h(0)).Hours()), int(iv.End.Sub(h(0)).Hours())))
	}
	if fmt.Sprint(got) != want {
		t.Fatalf("intervals %v, want %s", got, want)
	}
	if c.Add(Interval{h(0), h(1)}) {
		t.Error("adding a covered interval changed the record")
	}
	for _, tt := range []struct {
		a, b int
		want bool
	}{{0, 2, true}, {1, 2, true}, {0, 3, false}, {2, 3, false}, {3, 4, true}, {5, 8, true}, {7, 9, false}, {9, 10, false}} {
		if got := c.Covers(h(tt.a), h(tt.b)); got != tt.want {
			t.Errorf("Covers(%d, %d) = %v", tt.a, tt.b, got)
		}
	}
	c.Add(Interval{h(2), h(3)})
	if len(c.Intervals) != 2 {
		t.Errorf("filling the gap left %d intervals, want 2", len(c.Intervals))
	}
}

// memStore is an in-memory Store with S3's conditional-write semantics, for the pure tests.
type memStore struct {
	mu   sync.Mutex
	objs map[string][]byte
	tags map[string]string
	n    int
}

func newMemStore() *memStore { return &memStore{objs: map[string][]byte{}, tags: map[string]string{}} }

func (m *memStore) GetETag(_ context.Context, key string) ([]byte, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.objs[key]
	if !ok {
		return nil, "", fmt.Errorf("get %s: %w", key, s3store.ErrNotFound)
	}
	return append([]byte(nil), d...), m.tags[key], nil
}

func (m *memStore) PutIfAbsent(_ context.Context, key string, data []byte, _ string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objs[key]; ok {
		return false, nil
	}
	m.put(key, data)
	return true, nil
}

func (m *memStore) PutIfMatch(_ context.Context, key string, data []byte, _, etag string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tags[key] != etag {
		return "", fmt.Errorf("put %s: %w", key, s3store.ErrChanged)
	}
	return m.put(key, data), nil
}

func (m *memStore) put(key string, data []byte) string {
	m.n++
	m.objs[key] = append([]byte(nil), data...)
	m.tags[key] = fmt.Sprintf(`"%d"`, m.n)
	return m.tags[key]
}

func TestConcurrentCoverageUpdatesLoseNoInterval(t *testing.T) {
	s := newMemStore()
	l := Layout{Prefix: "p", Table: "t"}
	start := ts("2026-11-24T00:00:00Z")
	var wg sync.WaitGroup
	for i := 0; i < 60; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := start.Add(time.Duration(i) * time.Minute)
			if err := AddCoverage(context.Background(), s, l, time.Now(), Interval{w, w.Add(time.Minute)}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	c, _, err := ReadCoverage(context.Background(), s, l)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Intervals) != 1 || !c.Covers(start, start.Add(time.Hour)) {
		t.Fatalf("coverage %+v, want the whole hour in one interval", c.Intervals)
	}
}

func TestTheFirstDescriptorWinsAndOthersAreRefusedByName(t *testing.T) {
	s := newMemStore()
	l := Layout{Prefix: "p", Table: "t"}
	one := Descriptor{Window: "1m0s", TimeZone: "UTC", Granularities: []string{"daily", "weekly"}, SchemaVersion: 1, Fingerprint: "sha256:aaaa", CreatedBy: "worker"}
	got, err := EnsureDescriptor(context.Background(), s, l, one, hasFiles(true))
	if err != nil || got.Window != "1m0s" {
		t.Fatalf("first writer: %+v %v", got, err)
	}
	if _, err := EnsureDescriptor(context.Background(), s, l, one, hasFiles(true)); err != nil {
		t.Fatalf("same layout again: %v", err)
	}
	for name, change := range map[string]func(*Descriptor){
		"window":    func(d *Descriptor) { d.Window = "15m0s" },
		"time zone": func(d *Descriptor) { d.TimeZone = "Asia/Seoul" },
		"policy":    func(d *Descriptor) { d.Fingerprint = "sha256:bbbb" },
	} {
		t.Run(name, func(t *testing.T) {
			d := one
			change(&d)
			_, err := EnsureDescriptor(context.Background(), s, l, d, hasFiles(true))
			if !errors.Is(err, ErrLayout) || !strings.Contains(err.Error(), name) {
				t.Fatalf("EnsureDescriptor = %v, want ErrLayout naming the %s", err, name)
			}
		})
	}
}

func hasFiles(v bool) func(context.Context) (bool, error) {
	return func(context.Context) (bool, error) { return v, nil }
}

func TestADescriptorWithoutFilesUnderItMayBeReplaced(t *testing.T) {
	s := newMemStore()
	l := Layout{Prefix: "p", Table: "t"}
	one := Descriptor{Window: "1m0s", TimeZone: "UTC", SchemaVersion: 1, Fingerprint: "sha256:aaaa"}
	if _, err := EnsureDescriptor(context.Background(), s, l, one, hasFiles(false)); err != nil {
		t.Fatal(err)
	}
	two := one
	two.Fingerprint = "sha256:bbbb" // the spec was edited before any file was written
	got, err := EnsureDescriptor(context.Background(), s, l, two, hasFiles(false))
	if err != nil || got.Fingerprint != "sha256:bbbb" {
		t.Fatalf("replace without files: %+v %v", got, err)
	}
	if d, _, _ := ReadDescriptor(context.Background(), s, l); d.Fingerprint != "sha256:bbbb" {
		t.Fatalf("stored %+v", d)
	}
	if _, err := EnsureDescriptor(context.Background(), s, l, one, hasFiles(true)); !errors.Is(err, ErrLayout) {
		t.Fatalf("replace with files: %v", err)
	}
}
