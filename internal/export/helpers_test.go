package export_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/logetl/logetl/internal/activitylog"
	"github.com/logetl/logetl/internal/export"
	"github.com/logetl/logetl/internal/manifest"
	"github.com/logetl/logetl/internal/parquetlog"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/internal/s3store"
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

func truncate(t testing.TB) {
	t.Helper()
	if err := db.Truncate(context.Background(), "activity_log"); err != nil {
		t.Fatal(err)
	}
}

// fixture is a hand-written record; zero pointers mean NULL.
type fixture struct {
	at     time.Time
	user   *uint64
	email  *string
	ip, ua string
}

func u64(v uint64) *uint64 { return &v }
func str(v string) *string { return &v }

func insert(t testing.TB, rows ...fixture) {
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
		_, err := db.DB.ExecContext(context.Background(), `INSERT INTO activity_log
(occurred_at, request_id, user_id, action, method, route, path, status, post_id, client_ip, user_agent, email, message)
VALUES (?, 'req-fixture', ?, ?, 'GET', '/blog/:id/', '/blog/7/', ?, 7, ?, ?, ?, 'fixture')`, f.at, f.user, action, status, ip, ua, f.email)
		if err != nil {
			t.Fatal(err)
		}
	}
}

type env struct {
	srv   *testenv.S3Server
	store *s3store.Store
	prot  *protect.Protector
	kr    *protect.Keyring
	exp   *export.Exporter
	cfg   export.Config
}

type envOpts struct {
	zone            string
	window          time.Duration
	compression     string
	rowGroupRows    int
	fieldEncryption string
	keyring         *protect.Keyring
	srv             *testenv.S3Server
	// production keeps the exporter's default batch sizes (tests use small ones to exercise
	// more hand-offs between the stages).
	production bool
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
	loc, err := time.LoadLocation(o.zone)
	if err != nil {
		t.Fatal(err)
	}
	grid, err := partition.NewGrid(o.window, loc)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{srv: o.srv, kr: o.keyring}
	if e.srv == nil {
		e.srv = testenv.StartS3(ctx, t)
	}
	e.store, err = s3store.New(ctx, e.srv.Config(), s3store.WithStaticCredentials(e.srv.AccessKey, e.srv.SecretKey), s3store.WithMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	if e.kr == nil {
		if e.kr, err = protect.GenerateKeyring(); err != nil {
			t.Fatal(err)
		}
	}
	if e.prot, err = protect.NewProtector(e.kr); err != nil {
		t.Fatal(err)
	}
	e.cfg = export.Config{
		Layout:          partition.Layout{Prefix: "logs"},
		Grid:            grid,
		Compression:     o.compression,
		RowGroupRows:    o.rowGroupRows,
		FieldEncryption: o.fieldEncryption,
		BatchRows:       500,
		ProgressEvery:   1000,
	}
	if o.production {
		e.cfg.BatchRows, e.cfg.ProgressEvery = 0, 0
	}
	if e.exp, err = export.New(e.cfg, db.DB, e.store, e.prot); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) exportRange(t testing.TB, from, to time.Time) []manifest.Manifest {
	t.Helper()
	ws, err := e.cfg.Grid.Windows(from, to)
	if err != nil {
		t.Fatal(err)
	}
	var out []manifest.Manifest
	for _, w := range ws {
		ms, err := e.exp.ExportWindow(context.Background(), w, nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ms...)
	}
	return out
}

// mysqlRecords reads [from, to) straight from MySQL, the reference of every comparison.
func mysqlRecords(t testing.TB, from, to time.Time) []activitylog.Record {
	t.Helper()
	r, err := activitylog.OpenWindow(context.Background(), db.DB, from, to)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []activitylog.Record
	buf := make([]activitylog.Record, 1000)
	for {
		n, err := r.Next(buf)
		out = append(out, buf[:n]...)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func (e *env) readObject(t testing.TB, key string) ([]parquetlog.Row, map[string]string) {
	t.Helper()
	data, err := e.store.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	r, err := parquetlog.OpenReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	defer r.Close()
	var rows []parquetlog.Row
	buf := make([]parquetlog.Row, 333)
	for {
		n, err := r.Read(buf)
		for _, row := range buf[:n] {
			// Copy: the reader may reuse the buffers of later reads.
			row.ClientIPEnc = bytes.Clone(row.ClientIPEnc)
			row.UserAgentEnc = bytes.Clone(row.UserAgentEnc)
			row.EmailEnc = bytes.Clone(row.EmailEnc)
			rows = append(rows, row)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if int64(len(rows)) != r.NumRows() {
		t.Fatalf("%s: read %d rows, footer says %d", key, len(rows), r.NumRows())
	}
	return rows, r.Metadata()
}

func (e *env) getManifest(t testing.TB, parquetKey string) manifest.Manifest {
	t.Helper()
	data, err := e.store.Get(context.Background(), partition.ManifestKey(parquetKey))
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (e *env) keys(t testing.TB, prefix string) []string {
	t.Helper()
	objs, err := e.store.List(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	return keys
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// compareRows checks, field by field, that the exported rows are MySQL's records protected.
func (e *env) compareRows(t testing.TB, want []activitylog.Record, got []parquetlog.Row) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("exported %d rows, MySQL has %d", len(got), len(want))
	}
	open := func(field string, v []byte) string {
		p, err := e.prot.Open(field, v)
		if err != nil {
			t.Fatalf("open %s: %v", field, err)
		}
		return string(p)
	}
	for i, r := range want {
		g := got[i]
		var diffs []string
		check := func(name string, ok bool) {
			if !ok {
				diffs = append(diffs, name)
			}
		}
		check("log_id", g.LogID == int64(r.ID))
		check("occurred_at", g.OccurredAt.Equal(r.OccurredAt))
		check("request_id", g.RequestID == r.RequestID)
		check("user", (r.UserID == nil && g.UserPseudonym == nil) ||
			(r.UserID != nil && g.UserPseudonym != nil && *g.UserPseudonym == e.prot.Pseudonym(*r.UserID)))
		check("action", g.Action == r.Action)
		check("method", g.Method == r.Method)
		check("route", g.Route == r.Route)
		check("path", g.Path == r.Path)
		check("status", int(g.Status) == r.Status)
		check("post_id", (r.PostID == nil && g.PostID == nil) || (r.PostID != nil && g.PostID != nil && uint64(*g.PostID) == *r.PostID))
		check("client_ip", open(export.FieldClientIP, g.ClientIPEnc) == r.ClientIP)
		check("user_agent", open(export.FieldUserAgent, g.UserAgentEnc) == r.UserAgent)
		check("email", (r.Email == nil && g.EmailEnc == nil) || (r.Email != nil && g.EmailEnc != nil && open(export.FieldEmail, g.EmailEnc) == *r.Email))
		check("message", g.Message == r.Message)
		if len(diffs) > 0 {
			t.Fatalf("row %d (id %d) differs in %s", i, r.ID, strings.Join(diffs, ", "))
		}
	}
}
