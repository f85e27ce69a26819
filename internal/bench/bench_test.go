//go:build ignore

package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/logetl/logetl/internal/testenv"
)

// childEnv makes the test binary an export child instead of running tests, so that the bench
// test measures a real separate process as `logetl bench` does.
const childEnv = "LOGETL_BENCH_TEST_EXPORT_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		if err := RunChild(context.Background(), os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func testChild(ctx context.Context) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=1")
	return cmd
}

// The whole bench at a tiny size against the real MariaDB and versitygw: every figure is there,
// consistent and sane (no timing is asserted, only that things were measured).
func TestRunMeasuresEveryFigure(t *testing.T) {
	if testing.Short() {
		t.Skip("loads MariaDB and runs export children: not under -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := "logetl_test_bench_" + hex.EncodeToString(rnd[:])
	var log bytes.Buffer
	opts := Options{
		MySQLDSN:       testenv.MySQLServerDSN(),
		Database:       name,
		Rows:           2000,
		RowsLarge:      6000,
		Seed:           5,
		Settings:       ExportSettings{RowGroupRows: 500}, // several row groups even at this size
		APIDuration:    time.Second,
		APIConcurrency: 4,
		ExportChild:    testChild,
		Log:            &log,
		Command:        "go test",
	}
	rep, err := Run(ctx, opts)
	if err != nil {
		t.Fatalf("bench: %v\nlog:\n%s", err, log.String())
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", log.String())
		}
	})

	// The database is the bench's own and is gone afterwards (Reuse is off).
	dsn, _ := benchDSN(testenv.MySQLServerDSN(), name)
	if db, ok, err := openExisting(ctx, dsn, rep.Dataset); err == nil && (ok || db == nil) {
		t.Errorf("bench database %s still holds the data set after the run", name)
	} else if db != nil {
		db.Close()
	}

	m := rep.Machine
	if m.Cores < 1 || m.MemoryGiB <= 0 || m.CPUModel == "" || !strings.HasPrefix(m.GoVersion, "go") || m.MySQLVersion == "" {
		t.Errorf("machine incomplete: %+v", m)
	}
	if rep.LoadSeconds <= 0 {
		t.Errorf("a fresh database was not loaded: load seconds %v", rep.LoadSeconds)
	}

	// 1 and 2: the same window, every row, positive rates.
	if rep.Extract.Rows != 2000 || rep.Reader.Rows != 2000 || rep.Export.Rows != 2000 {
		t.Errorf("rows: extract %d, reader %d, export %d; want 2000 each", rep.Extract.Rows, rep.Reader.Rows, rep.Export.Rows)
	}
	for name, r := range map[string]Rate{"extract": rep.Extract, "reader": rep.Reader, "export": rep.Export.Rate} {
		if !(r.RowsPerSec > 0) || !(r.Seconds > 0) {
			t.Errorf("%s rate not measured: %+v", name, r)
		}
	}
	// Source size: at least the fixed-width parts of every row (timestamp, 32-hex request id).
	if rep.Extract.SourceBytes < 2000*(26+32) || rep.Export.SourceBytes != rep.Extract.SourceBytes || !(rep.Export.SourceMBps > 0) {
		t.Errorf("source bytes: extract %d, export %d (%v MB/s)", rep.Extract.SourceBytes, rep.Export.SourceBytes, rep.Export.SourceMBps)
	}
	if rep.Export.Files != 1 || rep.Export.OutputBytes <= 0 {
		t.Errorf("export output: %+v", rep.Export)
	}
	if len(rep.ExtractPasses) != 2 || rep.Extract.RowsPerSec != max(rep.ExtractPasses[0], rep.ExtractPasses[1]) {
		t.Errorf("extract limit %v is not the better of its passes %v", rep.Extract.RowsPerSec, rep.ExtractPasses)
	}
	if want := rep.Export.RowsPerSec / rep.Extract.RowsPerSec; !approxEqual(rep.ExportRatio, want) {
		t.Errorf("export ratio %v, want %v", rep.ExportRatio, want)
	}

	// 3: both children exported their window and reported a plausible peak that the parent's
	// rusage confirms.
	for _, p := range []struct {
		name string
		p    MemoryPoint
		rows int64
	}{{"small", rep.Memory.Small, 2000}, {"large", rep.Memory.Large, 6000}} {
		if p.p.Rows != p.rows || p.p.Export.Rows != p.rows {
			t.Errorf("%s child exported %d rows, want %d", p.name, p.p.Rows, p.rows)
		}
		if p.p.PeakRSSMiB < 5 || p.p.PeakRSSMiB > 4096 || p.p.GoSysMiB <= 0 {
			t.Errorf("%s child peak RSS %.1f MiB, Go sys %.1f MiB: implausible", p.name, p.p.PeakRSSMiB, p.p.GoSysMiB)
		}
		if p.p.GCShare < 0 || p.p.GCShare >= 1 {
			t.Errorf("%s child: GC share of CPU %v, want a fraction", p.name, p.p.GCShare)
		}
		if p.p.RusageMaxRSSMiB < p.p.PeakRSSMiB-0.5 || p.p.PeakHeapMiB <= 0 || p.p.PeakHeapMiB > p.p.PeakRSSMiB {
			t.Errorf("%s child: VmHWM %.1f MiB, rusage %.1f MiB, heap peak %.1f MiB: inconsistent", p.name, p.p.PeakRSSMiB, p.p.RusageMaxRSSMiB, p.p.PeakHeapMiB)
		}
	}
	if !approxEqual(rep.Memory.Growth, rep.Memory.Large.PeakRSSMiB/rep.Memory.Small.PeakRSSMiB) {
		t.Errorf("memory growth %v", rep.Memory.Growth)
	}

	// 4: six Parquet variants and the old format over the same rows.
	s := rep.Size
	if s.Rows != 2000 || len(s.Variants) != len(sizeCodecs)*len(sizeModes) {
		t.Fatalf("size: %d rows, %d variants", s.Rows, len(s.Variants))
	}
	// A Fernet token of a JSON line is its base64 (4/3) of at least the line plus 57 bytes;
	// gzip cannot take random base64 much below 3/4: the old format is no smaller than its lines.
	if s.Legacy.PlainJSONBytesPerRow < 150 || s.Legacy.BytesPerRow < s.Legacy.PlainJSONBytesPerRow {
		t.Errorf("old format %.1f bytes/row for %.1f-byte JSON lines: implausible", s.Legacy.BytesPerRow, s.Legacy.PlainJSONBytesPerRow)
	}
	for _, v := range s.Variants {
		if v.Bytes <= 0 || !approxEqual(v.BytesPerRow, float64(v.Bytes)/2000) || !approxEqual(v.RatioToLegacy, float64(v.Bytes)/float64(s.Legacy.Bytes)) {
			t.Errorf("variant %s %s inconsistent: %+v", v.Compression, v.FieldEncryption, v)
		}
	}
	for _, codec := range sizeCodecs {
		pv, _ := s.Variant(codec, "per-value")
		pr, _ := s.Variant(codec, "per-rowgroup")
		if pr.Bytes >= pv.Bytes {
			t.Errorf("%s: per-rowgroup %d bytes not smaller than per-value %d", codec, pr.Bytes, pv.Bytes)
		}
	}
	if v, _ := s.Variant("zstd", "per-value"); math.Abs(float64(v.Bytes-rep.Export.OutputBytes)) > 0.02*float64(rep.Export.OutputBytes) {
		// Same rows, same settings, same writer: only the random nonces differ, which zstd
		// compresses by a few bytes more or less.
		t.Errorf("counted zstd per-value %d bytes, uploaded %d", v.Bytes, rep.Export.OutputBytes)
	}

	// 5: both loads ran without errors, with ordered percentiles.
	for name, l := range map[string]Load{"api": rep.API.API, "raw": rep.API.Raw} {
		if l.Requests <= 0 || l.Errors != 0 || l.Concurrency != 4 || !(l.PerSec > 0) {
			t.Errorf("%s load: %+v", name, l)
		}
		if !(0 < l.P50ms && l.P50ms <= l.P90ms && l.P90ms <= l.P99ms && l.P99ms <= l.MaxMs) {
			t.Errorf("%s latencies out of order: %+v", name, l)
		}
	}
	if !approxEqual(rep.API.Ratio, rep.API.API.PerSec/rep.API.Raw.PerSec) {
		t.Errorf("api ratio %v", rep.API.Ratio)
	}

	// Targets: every one present, with its verdict agreeing with its value.
	want := []string{"export_vs_extract", "peak_rss_large_mib", "peak_rss_growth", "size_ratio_zstd_per-value", "size_ratio_zstd_per-rowgroup", "api_vs_raw"}
	if len(rep.Targets) != len(want) {
		t.Fatalf("targets %+v, want %v", rep.Targets, want)
	}
	for i, tg := range rep.Targets {
		pass := tg.Value >= tg.Limit
		if tg.Op == "<=" {
			pass = tg.Value <= tg.Limit
		}
		if tg.Name != want[i] || tg.Pass != pass || math.IsNaN(tg.Value) || tg.Value <= 0 {
			t.Errorf("target %d: %+v", i, tg)
		}
	}

	// CPU use is recorded for every timed phase.
	for name, c := range map[string]*CPUUse{
		"extract": rep.Extract.CPU, "reader": rep.Reader.CPU, "export": rep.Export.CPU, "export without S3": rep.ExportNoS3.CPU,
		"upload alone": rep.UploadAlone.CPU, "small child": rep.Memory.Small.Export.CPU, "large child": rep.Memory.Large.Export.CPU,
		"api": rep.API.API.CPU, "raw": rep.API.Raw.CPU,
	} {
		if c == nil || !(c.WallSeconds > 0) || c.Bench < 0 || c.MySQL < 0 {
			t.Errorf("%s: CPU use %+v", name, c)
		}
	}
	if c := rep.Memory.Large.Export.CPU; c != nil && !(c.Children > 0) {
		t.Errorf("the large export child used no CPU: %+v", c)
	}
	if rep.UploadAlone.Bytes != rep.Export.OutputBytes || !(rep.UploadAlone.MBps > 0) || rep.ExportNoS3.Rows != 2000 {
		t.Errorf("decomposition: upload alone %+v, export without S3 %+v", rep.UploadAlone, rep.ExportNoS3)
	}

	// The JSON file carries every figure under its name, and the table every measure.
	data, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		"machine.cores", "machine.memory_gib", "machine.cpu_model", "machine.go_version",
		"extract.rows_per_sec", "extract.source_mb_per_sec", "export.rows_per_sec", "export.source_mb_per_sec", "export_ratio",
		"memory.small.peak_rss_mib", "memory.large.peak_rss_mib", "memory.growth",
		"size.legacy.bytes_per_row", "api.api.per_sec", "api.api.p50_ms", "api.api.p99_ms", "api.raw_transactions.per_sec",
		"api.raw_transactions.p99_ms", "api.ratio", "export_without_s3.rows_per_sec", "upload_alone.mb_per_sec",
		"extract.cpu.wall_seconds", "export.cpu.wall_seconds", "api.api.cpu.wall_seconds",
	} {
		if v, ok := lookup(doc, path).(float64); !ok || v == 0 {
			if _, isString := lookup(doc, path).(string); !isString {
				t.Errorf("JSON %s = %v", path, lookup(doc, path))
			}
		}
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"extract limit", "export to versitygw", "peak RSS", "old format", "Parquet gzip, per-rowgroup", "API POST /blog/create/", "raw post+log", "target >= 0.8"} {
		if !strings.Contains(table.String(), line) {
			t.Errorf("table lacks %q:\n%s", line, table.String())
		}
	}
}

func lookup(doc map[string]any, path string) any {
	var cur any = doc
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

func approxEqual(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// A mistyped --bench-db must never cost real data: a database with tables but no bench marker
// is refused, and stays.
func TestDropDatabaseRefusesDatabasesNotMadeByTheBench(t *testing.T) {
	ctx := context.Background()
	other, err := testenv.NewDatabase(ctx, "bench_other")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Drop(ctx)
	dsn, err := benchDSN(testenv.MySQLServerDSN(), other.Name)
	if err != nil {
		t.Fatal(err)
	}
	if err := dropDatabase(ctx, dsn); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("dropDatabase of a foreign database: %v, want a refusal", err)
	}
	var n int
	if err := other.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM activity_log").Scan(&n); err != nil {
		t.Fatalf("the foreign database is damaged after the refusal: %v", err)
	}

	// Once marked as the bench's, it is dropped; dropping what does not exist is no error.
	if err := writeMarker(ctx, other.DB, map[string]string{"state": "loading"}); err != nil {
		t.Fatal(err)
	}
	if err := dropDatabase(ctx, dsn); err != nil {
		t.Fatalf("dropDatabase of a bench database: %v", err)
	}
	if err := dropDatabase(ctx, dsn); err != nil {
		t.Fatalf("dropDatabase of a missing database: %v", err)
	}
	if err := other.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM activity_log").Scan(&n); err == nil {
		t.Fatal("the bench database is still there after the drop")
	}
}
