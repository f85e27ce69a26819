//go:build integration

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/internal/synthetic"
	"github.com/logetl/logetl/internal/testenv"
)

// cliEnv is a real MariaDB database, a real versitygw and a keyring file, with the settings the
// export and verify commands would get from flags.
type cliEnv struct {
	db      *testenv.Database
	srv     *testenv.S3Server
	dsn     string
	keyring string
	dataDir config.DataDir
}

func newCLIEnv(t *testing.T) *cliEnv {
	t.Helper()
	ctx := context.Background()
	d, err := testenv.NewDatabase(ctx, "cli_export")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Drop(context.Background()) })
	srv := testenv.StartS3(ctx, t)
	// The commands take credentials the standard SDK way.
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	kr, err := protect.GenerateKeyring()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "keyring.json")
	if err := kr.Save(path); err != nil {
		t.Fatal(err)
	}
	// A DSN without parseTime/loc: the commands must force them.
	dsn := strings.Replace(d.DSN, "parseTime=true", "parseTime=false", 1)
	return &cliEnv{db: d, srv: srv, dsn: dsn, keyring: path, dataDir: config.DataDir{DataDir: t.TempDir()}}
}

// flags are the pipeline settings every command of these tests runs with.
func (e *cliEnv) flags() pipelineFlags {
	return pipelineFlags{
		DataDir: e.dataDir, MySQL: config.MySQL{MySQLDSN: e.dsn}, S3: e.srv.Config(), Keyring: config.Keyring{KeyringPath: e.keyring},
		Partitioning: config.Partitioning{Timezone: "UTC"},
		Export:       config.Export{Compression: "zstd", RowGroupRows: 100000, SafetyLag: time.Minute, Window: 15 * time.Minute, FieldEncryption: "per-value"},
		Retention:    config.Retention{PurgeChunkRows: 100, PurgePause: time.Millisecond},
	}
}

func (e *cliEnv) export(from, to, granularity string) (string, error) {
	var out bytes.Buffer
	c := &exportCmd{pipelineFlags: e.flags(), From: from, To: to, Granularity: granularity, stdout: &out}
	err := c.Run(context.Background())
	return out.String(), err
}

func (e *cliEnv) verify(from, to string, repair bool) (string, error) {
	var out bytes.Buffer
	c := &verifyCmd{pipelineFlags: e.flags(), From: from, To: to, Repair: repair, stdout: &out}
	err := c.Run(context.Background())
	return out.String(), err
}

func (e *cliEnv) count(t *testing.T, from, to time.Time) int64 {
	t.Helper()
	var n int64
	if err := e.db.DB.QueryRow("SELECT COUNT(*) FROM activity_log WHERE occurred_at >= ? AND occurred_at < ?", from, to).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// download copies every object under prefix into dir, keeping the key's path below prefix.
func (e *cliEnv) download(t *testing.T, prefix, dir string) []string {
	t.Helper()
	ctx := context.Background()
	c := e.srv.Client()
	var files []string
	keys := listKeys(t, e.srv, prefix)
	for _, k := range keys {
		out, err := c.GetObject(ctx, getInput(e.srv.Bucket, k))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, strings.TrimPrefix(k, prefix))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.ReadFrom(out.Body); err != nil {
			t.Fatal(err)
		}
		out.Body.Close()
		f.Close()
		files = append(files, p)
	}
	return files
}

func duckdbCount(t *testing.T, sql string) int64 {
	t.Helper()
	script, err := filepath.Abs("../../tools/duckdb/query.mjs")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(script), "node_modules", "@duckdb", "node-api")); err != nil {
		t.Fatal("DuckDB node package missing: run scripts/services.sh duckdb")
	}
	out, err := exec.Command("node", script, sql).CombinedOutput()
	if err != nil {
		t.Fatalf("duckdb: %v: %s", err, out)
	}
	var res struct {
		N json.Number `json:"n"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("duckdb output %q: %v", out, err)
	}
	n, _ := res.N.Int64()
	return n
}

// TestExportDecryptVerifyEndToEnd is the pipeline as an operator runs it: export a window with
// traffic, read the day partition with DuckDB, decrypt a file, verify, insert a late row,
// verify again (fails), repair, verify (passes), compact the week.
func TestExportDecryptVerifyEndToEnd(t *testing.T) {
	e := newCLIEnv(t)
	ctx := context.Background()
	start := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	end := start.Add(30 * time.Minute)
	// Traffic on both sides of the range, so the dt filter and the window bounds matter.
	if _, err := synthetic.Load(ctx, e.db.DB, synthetic.Options{Rows: 4000, Seed: 42, Start: start.Add(-15 * time.Minute), End: end.Add(15 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	from, to := "2026-11-24T10:00:00Z", "2026-11-24T10:30:00Z"
	out, err := e.export(from, to, "daily")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "logs/activity_log/daily/dt=2026-11-24/part-20261124T1000Z-20261124T1015Z.parquet") || strings.Count(out, "\n") != 3 {
		t.Errorf("export output:\n%s", out)
	}

	dir := t.TempDir()
	files := e.download(t, "logs/activity_log/", dir)
	want := e.count(t, start, end)
	got := duckdbCount(t, fmt.Sprintf("SELECT count(*) AS n FROM read_parquet('%s/daily/*/*.parquet', hive_partitioning=true) WHERE dt = '2026-11-24'", dir))
	if got != want || want == 0 {
		t.Errorf("DuckDB counts %d rows on dt=2026-11-24, MySQL %d", got, want)
	}

	// logetl decrypt gives back the original IPs and user agents.
	type clear struct{ ip, ua string }
	byID := map[int64]clear{}
	rows, err := e.db.DB.Query("SELECT id, client_ip, user_agent FROM activity_log WHERE occurred_at >= ? AND occurred_at < ?", start, start.Add(15*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var c clear
		if err := rows.Scan(&id, &c.ip, &c.ua); err != nil {
			t.Fatal(err)
		}
		byID[id] = c
	}
	rows.Close()
	n := len(byID)
	var parquetFile string
	for _, f := range files {
		if strings.HasSuffix(f, "part-20261124T1000Z-20261124T1015Z.parquet") {
			parquetFile = f
		}
	}
	var dec bytes.Buffer
	if err := (&decryptCmd{Keyring: config.Keyring{KeyringPath: e.keyring}, DataDir: e.dataDir, Source: parquetFile, stdout: &dec}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	lines := 0
	sc := bufio.NewScanner(&dec)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var row struct {
			LogID     int64  `json:"log_id"`
			ClientIP  string `json:"client_ip"`
			UserAgent string `json:"user_agent"`
		}
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatal(err)
		}
		rec, ok := byID[row.LogID]
		if !ok || row.ClientIP != rec.ip || row.UserAgent != rec.ua {
			t.Fatalf("decrypted row %d: ip %q ua %q; MySQL %+v", row.LogID, row.ClientIP, row.UserAgent, rec)
		}
		lines++
	}
	if lines != n || n == 0 {
		t.Errorf("decrypt printed %d rows, the window has %d", lines, n)
	}

	if out, err := e.verify(from, to, false); err != nil || !strings.Contains(out, "2 windows 2026-11-24T10:00:00Z..2026-11-24T10:30:00Z: 2 ok") {
		t.Fatalf("verify after export: %v\n%s", err, out)
	}
	if _, err := e.db.DB.Exec(`INSERT INTO activity_log (occurred_at, request_id, action, method, route, path, status, client_ip, user_agent, message)
VALUES ('2026-11-24 10:20:00.5', 'late', 'post.view', 'GET', '/blog/:id/', '/blog/1/', 200, '192.0.2.9', 'late/1', 'late commit')`); err != nil {
		t.Fatal(err)
	}
	out, err = e.verify(from, to, false)
	if err == nil || !strings.Contains(out, "mismatch") || !strings.Contains(err.Error(), "1 of 2 windows") {
		t.Fatalf("verify after a late row: err %v\n%s", err, out)
	}
	if out, err := e.verify(from, to, true); err != nil || !strings.Contains(out, "1 repaired") {
		t.Fatalf("verify --repair: %v\n%s", err, out)
	}
	if out, err := e.verify(from, to, false); err != nil {
		t.Fatalf("verify after repair: %v\n%s", err, out)
	}

	// The weekly file covers the week up to --to; the windows before and after the exported
	// range have rows but no files: the compaction repairs them first.
	out, err = e.export(from, "2026-11-24T10:45:00Z", "weekly")
	if err != nil {
		t.Fatal(err)
	}
	all := e.count(t, start.Add(-15*time.Minute), end.Add(15*time.Minute))
	if !strings.Contains(out, "logs/activity_log/weekly/week=2026-W48/part-2026-W48.parquet\t"+strconv.FormatInt(all, 10)+" rows") {
		t.Errorf("weekly export output:\n%s", out)
	}
	if out, err := e.verify("2026-11-24T09:45:00Z", "2026-11-24T10:45:00Z", false); err != nil {
		t.Fatalf("verify after the compaction's repairs: %v\n%s", err, out)
	}
}

func TestExportAndVerifyRejectBadInputWithOneLineReasons(t *testing.T) {
	e := newCLIEnv(t)
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"misaligned", func() error { _, err := e.export("2026-11-24T10:05:00Z", "2026-11-24T10:30:00Z", "daily"); return err }, "not on the 15m0s window grid"},
		{"reversed", func() error { _, err := e.export("2026-11-24T10:30:00Z", "2026-11-24T10:00:00Z", "daily"); return err }, "must be before"},
		{"future", func() error {
			_, err := e.verify(time.Now().Add(time.Hour).Truncate(time.Hour).Format(time.RFC3339), time.Now().Add(2*time.Hour).Truncate(time.Hour).Format(time.RFC3339), false)
			return err
		}, "safety lag"},
		{"not a time", func() error { _, err := e.export("yesterday", "2026-11-24T10:30:00Z", "daily"); return err }, "neither RFC 3339"},
		{"missing keyring", func() error {
			e2 := *e
			e2.keyring = filepath.Join(t.TempDir(), "none.json")
			_, err := e2.export("2026-11-24T10:00:00Z", "2026-11-24T10:15:00Z", "daily")
			return err
		}, "logetl keys generate"},
		{"missing bucket", func() error {
			c := &exportCmd{pipelineFlags: e.flags(), From: "2026-11-24", To: "2026-11-25", Granularity: "daily"}
			c.S3Bucket = "nope"
			return c.Run(context.Background())
		}, "does not exist"},
	}
	for _, tt := range tests {
		err := tt.run()
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: err = %v, want one line containing %q", tt.name, err, tt.want)
		}
	}
}

func listKeys(t *testing.T, srv *testenv.S3Server, prefix string) []string {
	t.Helper()
	out, err := srv.Client().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: &srv.Bucket, Prefix: &prefix})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, *o.Key)
	}
	return keys
}

func getInput(bucket, key string) *s3.GetObjectInput {
	return &s3.GetObjectInput{Bucket: &bucket, Key: &key}
}

func putInput(bucket, key string, data []byte) *s3.PutObjectInput {
	return &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(data)}
}

// duckdbRows runs a query of two string columns c and t and returns them as a map.
func duckdbRows(t *testing.T, sql string) map[string]string {
	t.Helper()
	script, err := filepath.Abs("../../tools/duckdb/query.mjs")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("node", script, sql).CombinedOutput()
	if err != nil {
		t.Fatalf("duckdb: %v: %s", err, out)
	}
	res := map[string]string{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var r struct{ C, T string }
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("duckdb output %q: %v", out, err)
		}
		res[r.C] = r.T
	}
	return res
}

// logetl export and verify over ten years of one-minute windows of a table whose rows are all
// from one day finish in seconds, write a handful of objects, and verify proves the whole
// range in a summary rather than five million lines.
func TestExportAndVerifyOfTenYearsCostWhatTheRowsCost(t *testing.T) {
	e := newCLIEnv(t)
	day := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Hour)
	for i := 0; i < 6; i++ {
		if _, err := e.db.DB.Exec(`INSERT INTO activity_log (occurred_at, request_id, action, method, route, path, status, client_ip, user_agent, message)
VALUES (?, 'r', 'post.view', 'GET', '/blog/:id/', '/blog/1/', 200, '192.0.2.9', 'ua', 'm')`, day.Add(time.Duration(i*9)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	from := day.AddDate(-10, 0, 0).Truncate(24 * time.Hour).Format(time.RFC3339)
	to := day.Add(time.Hour).Format(time.RFC3339)
	flags := e.flags()
	flags.Window = time.Minute
	run := func(c interface{ Run(context.Context) error }) {
		t.Helper()
		start := time.Now()
		if err := c.Run(context.Background()); err != nil {
			t.Fatalf("%T: %v", c, err)
		}
		t.Logf("%T took %s", c, time.Since(start).Round(time.Millisecond))
	}
	var out bytes.Buffer
	run(&exportCmd{pipelineFlags: flags, From: from, To: to, Granularity: "daily", stdout: &out})
	if keys := listKeys(t, e.srv, ""); len(keys) != 6*2+2 { // a file and a manifest per window with rows, descriptor, coverage
		t.Fatalf("%d objects after exporting ten years: %v", len(keys), keys)
	}
	out.Reset()
	run(&verifyCmd{pipelineFlags: flags, From: from, To: to, stdout: &out})
	lines := strings.Count(out.String(), "\n")
	if lines > 10 || !strings.Contains(out.String(), "6 ok") {
		t.Fatalf("verify of ten years printed %d lines:\n%s", lines, out.String())
	}
}
