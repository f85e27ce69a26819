//go:build integration

package export_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logetl/logetl/internal/decrypt"
	"github.com/logetl/logetl/internal/export"
	"github.com/logetl/logetl/internal/lake"
	"github.com/logetl/logetl/internal/parquetlog"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/internal/s3store"
	"github.com/logetl/logetl/internal/tablespec"
	"github.com/logetl/logetl/internal/testenv"
)

var db *testenv.Database

func TestMain(m *testing.M) { testenv.RunWithDatabase(m, "export", &db) }

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func sqlExec(t testing.TB, q string, args ...any) {
	t.Helper()
	if _, err := db.DB.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func truncate(t testing.TB) {
	t.Helper()
	if err := db.Truncate(context.Background(), "activity_log"); err != nil {
		t.Fatal(err)
	}
}

// row is an activity_log row to insert; zero pointers are NULL.
type row struct {
	at     time.Time
	user   *uint64
	email  *string
	ip, ua string
}

func u64(v uint64) *uint64 { return &v }
func str(v string) *string { return &v }

func insert(t testing.TB, rows ...row) {
	t.Helper()
	for _, f := range rows {
		ip, ua := f.ip, f.ua
		if ip == "" {
			ip = "192.0.2.1"
		}
		if ua == "" {
			ua = "fixture-agent/1.0"
		}
		action, status := "post.view", 200
		if f.email != nil {
			action, status = "user.login_failed", 401
		}
		sqlExec(t, `INSERT INTO activity_log
(occurred_at, request_id, user_id, action, method, route, path, status, post_id, client_ip, user_agent, email, message)
VALUES (?, 'req-fixture', ?, ?, 'GET', '/blog/:id/', '/blog/7/', ?, 7, ?, ?, ?, 'fixture')`, f.at, f.user, action, status, ip, ua, f.email)
	}
}

// env is an exporter of one table over a versitygw of its own.
type env struct {
	srv   *testenv.S3Server
	store *s3store.Store
	prot  *protect.Protector
	exp   *export.Exporter
	cfg   export.Config
}

type envOpts struct {
	spec            *tablespec.Spec // default: the built-in activity_log
	zone            string
	window          time.Duration
	compression     string
	rowGroupRows    int
	fieldEncryption string
	prot            *protect.Protector
	srv             *testenv.S3Server
	prefix          string
}

func builtin() tablespec.Spec {
	s, _ := tablespec.Builtin().Table(tablespec.BuiltinName)
	return s
}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	ctx := context.Background()
	if o.zone == "" {
		o.zone = "UTC"
	}
	if o.window == 0 {
		o.window = 15 * time.Minute
	}
	if o.prefix == "" {
		o.prefix = "logs"
	}
	spec := builtin()
	if o.spec != nil {
		spec = *o.spec
	}
	loc, err := time.LoadLocation(o.zone)
	if err != nil {
		t.Fatal(err)
	}
	grid, err := partition.NewGrid(o.window, loc)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{srv: o.srv, prot: o.prot}
	if e.srv == nil {
		e.srv = testenv.StartS3(ctx, t)
	}
	e.store, err = s3store.New(ctx, e.srv.Config(), s3store.WithStaticCredentials(e.srv.AccessKey, e.srv.SecretKey), s3store.WithMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	if e.prot == nil {
		k, err := protect.GenerateKeyring()
		if err != nil {
			t.Fatal(err)
		}
		if e.prot, err = protect.NewProtector(k); err != nil {
			t.Fatal(err)
		}
	}
	e.cfg = export.Config{
		Spec: spec, Layout: lake.Layout{Prefix: o.prefix, Table: spec.Name}, Grid: grid,
		Compression: o.compression, RowGroupRows: o.rowGroupRows, FieldEncryption: o.fieldEncryption,
		BatchRows: 7, ProgressEvery: 3, Component: "test",
	}
	if e.exp, err = export.New(e.cfg, db.DB, e.store, e.prot); err != nil {
		t.Fatal(err)
	}
	return e
}

// again is another exporter over the same store with cfg changed: another process.
func (e *env) again(t testing.TB, change func(*export.Config)) *export.Exporter {
	t.Helper()
	cfg := e.cfg
	change(&cfg)
	x, err := export.New(cfg, db.DB, e.store, e.prot)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func (e *env) window(start string) partition.Window {
	s := ts(start)
	return partition.Window{Start: s, End: s.Add(e.cfg.Grid.Length())}
}

// objects lists every object of the bucket, key → size.
func (e *env) objects(t testing.TB) map[string]int64 {
	t.Helper()
	objs, err := e.store.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, o := range objs {
		out[o.Key] = o.Size
	}
	return out
}

// parquetKeys lists the Parquet objects under the table's partitions.
func (e *env) parquetKeys(t testing.TB) []string {
	var out []string
	for k := range e.objects(t) {
		if strings.HasSuffix(k, ".parquet") {
			out = append(out, k)
		}
	}
	return out
}

// decrypted reads an object back as decrypted JSON lines.
func (e *env) decrypted(t testing.TB, key string) []string {
	t.Helper()
	data, err := e.store.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	r, err := parquetlog.OpenReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := decrypt.WriteJSONLines(context.Background(), r, e.prot, &out); err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(out.String()), "\n")
}

// rowsIn counts the rows of an object.
func (e *env) rowsIn(t testing.TB, key string) int64 {
	t.Helper()
	data, err := e.store.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	r, err := parquetlog.OpenReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	return r.NumRows()
}

// allBytes concatenates every object, for searching clear values.
func (e *env) allBytes(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	for k := range e.objects(t) {
		data, err := e.store.Get(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
		b.WriteByte(0)
	}
	return b.Bytes()
}

func nextWindow(w partition.Window) partition.Window {
	return partition.Window{Start: w.End, End: w.End.Add(w.End.Sub(w.Start))}
}

func mustGrid(t testing.TB, length time.Duration, loc *time.Location) partition.Grid {
	t.Helper()
	g, err := partition.NewGrid(length, loc)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func partitionOf(start time.Time, length time.Duration) partition.Window {
	return partition.Window{Start: start, End: start.Add(length)}
}

func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// duckCount counts the rows DuckDB reads from a copy of the lake's granularity on disk, through
// read_parquet(…/<table>/<granularity>/*/*.parquet, hive_partitioning=true), as a user would.
func duckCount(t testing.TB, root string, e *env, granularity string) int64 {
	t.Helper()
	dir := t.TempDir()
	for k := range e.objects(t) {
		if !strings.HasSuffix(k, ".parquet") {
			continue
		}
		data, err := e.store.Get(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(k))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	glob := filepath.Join(dir, e.cfg.Layout.Root(), granularity, "*", "*.parquet")
	if matches, _ := filepath.Glob(glob); len(matches) == 0 {
		return 0
	}
	out, err := exec.Command("node", filepath.Join(root, "tools/duckdb/query.mjs"),
		fmt.Sprintf("SELECT count(*) AS n FROM read_parquet('%s', hive_partitioning=true)", glob)).CombinedOutput()
	if err != nil {
		t.Fatalf("duckdb: %v: %s", err, out)
	}
	var r struct {
		N json.Number `json:"n"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &r); err != nil {
		t.Fatalf("duckdb output %q: %v", out, err)
	}
	n, _ := r.N.Int64()
	return n
}
