//go:build integration

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/internal/tablespec"
	"github.com/logetl/logetl/internal/testenv"
)

// laravelActivityLogDDL is spatie/laravel-activitylog's table as its published migrations
// create it on MySQL (create_activity_log_table: bigIncrements id, string log_name nullable,
// text description, nullableMorphs subject and causer, json properties nullable, timestamps,
// index log_name; add_event_column: string event nullable after subject_type;
// add_batch_uuid_column: uuid batch_uuid nullable after properties), in Laravel's MySQL
// grammar: varchar(255), bigint unsigned, TIMESTAMP NULL, and no index on created_at.
const laravelActivityLogDDL = "CREATE TABLE `activity_log` (" +
	"`id` bigint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY, " +
	"`log_name` varchar(255) NULL, " +
	"`description` text NOT NULL, " +
	"`subject_type` varchar(255) NULL, " +
	"`event` varchar(255) NULL, " +
	"`subject_id` bigint unsigned NULL, " +
	"`causer_type` varchar(255) NULL, " +
	"`causer_id` bigint unsigned NULL, " +
	"`properties` json NULL, " +
	"`batch_uuid` char(36) NULL, " +
	"`created_at` timestamp NULL, " +
	"`updated_at` timestamp NULL, " +
	"INDEX `activity_log_log_name_index` (`log_name`), " +
	"INDEX `subject` (`subject_type`, `subject_id`), " +
	"INDEX `causer` (`causer_type`, `causer_id`)" +
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"

// shop is an application's own database with the audit package's table, filled.
type shop struct {
	db      *testenv.Database
	srv     *testenv.S3Server
	keyring string
	dir     string
}

func newShop(t *testing.T, rows int) *shop {
	t.Helper()
	ctx := context.Background()
	d, err := testenv.NewEmptyDatabase(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Drop(context.Background()) })
	if _, err := d.DB.ExecContext(ctx, laravelActivityLogDDL); err != nil {
		t.Fatal(err)
	}
	// Laravel writes TIMESTAMPs in the application's zone; the session zone must not matter.
	if _, err := d.DB.ExecContext(ctx, "SET time_zone = '+00:00'"); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	start := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	const batch = 1000
	for i := 0; i < rows; i += batch {
		var b strings.Builder
		b.WriteString("INSERT INTO activity_log (log_name, description, subject_type, event, subject_id, causer_type, causer_id, properties, batch_uuid, created_at, updated_at) VALUES ")
		args := make([]any, 0, batch*11)
		for j := 0; j < batch && i+j < rows; j++ {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString("(?,?,?,?,?,?,?,?,?,?,?)")
			n := i + j
			event := []string{"created", "updated", "deleted"}[n%3]
			var created any = start.Add(time.Duration(n) * 24 * time.Hour / time.Duration(rows)).Format("2006-01-02 15:04:05")
			if n%10007 == 5 {
				created = nil // a row the framework logged without a time: in no window
			}
			var causer any = uint64(1 + rng.IntN(500))
			if n%17 == 0 {
				causer = nil // a system action
			}
			props := fmt.Sprintf(`{"attributes": {"title": "Post %d", "ip": "203.0.113.%d"}, "old": {"title": "Draft %d"}}`, n, n%250, n)
			args = append(args, "default", event, `App\Models\Post`, event, uint64(n%3000), `App\Models\User`, causer, props,
				fmt.Sprintf("%08x-0000-4000-8000-%012x", n, n), created, created)
		}
		if _, err := d.DB.ExecContext(ctx, b.String(), args...); err != nil {
			t.Fatal(err)
		}
	}
	srv := testenv.StartS3(ctx, t)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	kr, err := protect.GenerateKeyring()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "keyring.json")
	if err := kr.Save(path); err != nil {
		t.Fatal(err)
	}
	return &shop{db: d, srv: srv, keyring: path, dir: dir}
}

// run runs logetl with the shop's MySQL, S3 and keyring.
func (s *shop) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	common := []string{"--mysql-dsn", s.db.DSN, "--s3-endpoint", s.srv.Endpoint, "--s3-bucket", s.srv.Bucket, "--s3-region", s.srv.Region,
		"--keyring", s.keyring, "--data-dir", s.dir}
	switch args[0] {
	case "tables":
		if args[1] == "inspect" {
			return runCLI(t, append(args, "--mysql-dsn", s.db.DSN)...)
		}
		return runCLI(t, append(args, common...)...)
	case "decrypt":
		return runCLI(t, append(args, "--keyring", s.keyring, "--data-dir", s.dir)...)
	}
	return runCLI(t, append(args, common...)...)
}

func (s *shop) count(t *testing.T, where string) int64 {
	t.Helper()
	var n int64
	if err := s.db.DB.QueryRow("SELECT COUNT(*) FROM activity_log WHERE " + where).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestANewUsersAuditTableFromInspectToDuckDB is logetl tried as a new user would, on a table
// this repository did not create: inspect it, add the index it asks for, edit the starting
// spec, export a day, read it with DuckDB (types and MySQL's count), find no clear value of a
// protected column in any object, decrypt a file back, verify, then see verify fail after a
// late row.
func TestANewUsersAuditTableFromInspectToDuckDB(t *testing.T) {
	const rows = 100_000
	s := newShop(t, rows)

	// 1. inspect: a starting spec, the missing index and its ALTER TABLE, personal data flagged.
	out, err := s.run(t, "tables", "inspect", s.db.Name+".activity_log", "--name", "shop_activity")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"MISSING INDEX", "ALTER TABLE", "name: causer_id", "REVIEW: identifies a person", "name: properties, type: json", "name: created_at, type: timestamp, nullable: true, treatment: clear"} {
		if !strings.Contains(out, want) {
			t.Fatalf("inspect output lacks %q:\n%s", want, out)
		}
	}
	var alter string
	for _, line := range strings.Split(out, "\n") {
		if l := strings.TrimSpace(strings.TrimPrefix(line, "#")); strings.HasPrefix(l, "ALTER TABLE") {
			alter = l
		}
	}
	// Before the index exists the export refuses the table rather than scan it.
	specPath := filepath.Join(s.dir, "tables.yaml")
	if err := os.WriteFile(specPath, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = s.run(t, "export", "--tables", specPath, "--table", "shop_activity", "--window", "15m", "--from", "2026-11-23", "--to", "2026-11-24")
	if err == nil || !strings.Contains(err.Error(), "has no index that serves windows") || !strings.Contains(err.Error(), "ALTER TABLE") {
		t.Fatalf("export without the index: %v", err)
	}
	if _, err := s.db.DB.Exec(strings.TrimSuffix(alter, ";")); err != nil {
		t.Fatalf("%s: %v", alter, err)
	}

	// 2. edit the spec as its reviewer would: causer pseudonymized (joinable with the app's
	// users), properties and description sealed, the rest as suggested.
	spec := out
	spec = strings.Replace(spec, "- {name: causer_id, type: bigint unsigned, nullable: true, treatment: drop}", "- {name: causer_id, type: bigint unsigned, nullable: true, treatment: pseudonym, domain: user_id}", 1)
	spec = strings.Replace(spec, "- {name: properties, type: json, nullable: true, treatment: drop}", "- {name: properties, type: json, nullable: true, treatment: seal}", 1)
	spec = strings.Replace(spec, "- {name: description, type: text, treatment: drop}", "- {name: description, type: text, treatment: clear}", 1)
	spec = strings.Replace(spec, "- {name: subject_id, type: bigint unsigned, nullable: true, treatment: drop}", "- {name: subject_id, type: bigint unsigned, nullable: true, treatment: clear}", 1)
	if err := os.WriteFile(specPath, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := tablespec.Load(specPath); err != nil {
		t.Fatalf("edited spec: %v", err)
	}

	// 3. export the day.
	out, err = s.run(t, "export", "--tables", specPath, "--table", "shop_activity", "--window", "15m", "--from", "2026-11-23", "--to", "2026-11-24")
	if err != nil {
		t.Fatalf("export: %v\n%s", err, out)
	}
	inDay := s.count(t, "created_at >= '2026-11-23' AND created_at < '2026-11-24'")
	if inDay < rows-20 {
		t.Fatalf("only %d rows in the day", inDay)
	}

	// 4. DuckDB reads the day partitions with the right types and MySQL's count.
	lake := filepath.Join(s.dir, "lake")
	files := (&cliEnv{srv: s.srv}).download(t, "logs/", lake)
	glob := filepath.Join(lake, "shop_activity", "daily", "*", "*.parquet")
	if got := duckdbCount(t, fmt.Sprintf("SELECT count(*) AS n FROM read_parquet('%s', hive_partitioning=true)", glob)); got != inDay {
		t.Fatalf("DuckDB counts %d rows, MySQL %d", got, inDay)
	}
	types := duckdbRows(t, fmt.Sprintf("SELECT column_name AS c, column_type AS t FROM (DESCRIBE SELECT * FROM read_parquet('%s', hive_partitioning=true))", glob))
	want := map[string]string{"id": "BIGINT", "created_at": "TIMESTAMP WITH TIME ZONE", "event": "VARCHAR", "subject_id": "UBIGINT",
		"causer_id_pseudonym": "VARCHAR", "properties_enc": "BLOB", "description": "VARCHAR", "dt": "DATE"}
	for col, typ := range want {
		if types[col] != typ {
			t.Errorf("DuckDB reads %s as %q, want %q (all: %v)", col, types[col], typ, types)
		}
	}
	for _, dropped := range []string{"causer_id", "properties", "batch_uuid", "updated_at", "causer_type_pseudonym"} {
		if _, ok := types[dropped]; ok && dropped != "causer_type_pseudonym" {
			t.Errorf("column %s left MySQL in clear", dropped)
		}
	}

	// 5. no clear value of a sealed or pseudonymized column in any object's bytes.
	var all bytes.Buffer
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
	}
	for _, clearText := range []string{`"ip": "203.0.113.`, `"title": "Post 1234"`, `Draft 99`} {
		if bytes.Contains(all.Bytes(), []byte(clearText)) {
			t.Fatalf("sealed properties text %q found in the lake", clearText)
		}
	}

	// 6. decrypt restores the sealed values exactly as MySQL holds them.
	var parquet string
	for _, f := range files {
		if strings.HasSuffix(f, "part-20261123T1000Z-20261123T1015Z.parquet") {
			parquet = f
		}
	}
	out, err = s.run(t, "decrypt", parquet)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	checked := 0
	for sc.Scan() {
		var r map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		var id int64
		_ = json.Unmarshal(r["id"], &id)
		var props string
		if err := s.db.DB.QueryRow("SELECT properties FROM activity_log WHERE id = ?", id).Scan(&props); err != nil {
			t.Fatal(err)
		}
		if string(r["properties"]) != props {
			t.Fatalf("row %d: decrypted properties %s, MySQL %s", id, r["properties"], props)
		}
		if p := string(r["causer_id_pseudonym"]); p != "null" && !strings.HasPrefix(p, `"h1:`) {
			t.Fatalf("row %d: pseudonym %s", id, p)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("decrypt printed nothing")
	}

	// 7. verify --table passes; a late row makes it fail; rows without a time are counted.
	args := []string{"verify", "--tables", specPath, "--table", "shop_activity", "--window", "15m", "--from", "2026-11-23", "--to", "2026-11-24"}
	if out, err := s.run(t, args...); err != nil || !strings.Contains(out, "96 windows") || !strings.Contains(out, "NULL created_at") {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	if _, err := s.db.DB.Exec(`INSERT INTO activity_log (description, created_at, properties) VALUES ('late', '2026-11-23 10:05:00', '{"late": true}')`); err != nil {
		t.Fatal(err)
	}
	if out, err := s.run(t, args...); err == nil || !strings.Contains(out, "mismatch") {
		t.Fatalf("verify after a late row: %v\n%s", err, out)
	}
}

// With a lake recorded on one-minute windows in UTC, an export with another window or zone is
// refused before it writes anything, naming the difference; a stray file copied into a day
// partition makes verify fail naming its key.
func TestTheLakeRefusesAnotherLayoutAndNamesStrays(t *testing.T) {
	e := newCLIEnv(t)
	ctx := context.Background()
	if _, err := e.db.DB.Exec(`INSERT INTO activity_log (occurred_at, request_id, action, method, route, path, status, client_ip, user_agent, message)
VALUES ('2026-11-24 10:01:30', 'r', 'post.view', 'GET', '/blog/:id/', '/blog/1/', 200, '192.0.2.9', 'ua', 'm')`); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		return runCLI(t, append(args, "--mysql-dsn", e.dsn, "--s3-endpoint", e.srv.Endpoint, "--s3-bucket", e.srv.Bucket,
			"--s3-region", e.srv.Region, "--keyring", e.keyring, "--data-dir", e.dataDir.DataDir)...)
	}
	if _, err := run("export", "--window", "1m", "--timezone", "UTC", "--from", "2026-11-24T10:00:00Z", "--to", "2026-11-24T10:15:00Z"); err != nil {
		t.Fatal(err)
	}
	before := listKeys(t, e.srv, "logs/")
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--window", "15m"}, "the lake's windows are 1m, this configuration's 15m"},
		{[]string{"--timezone", "Asia/Seoul"}, "the lake's partitions are in time zone UTC, this configuration's in Asia/Seoul"},
	} {
		_, err := run(append([]string{"export", "--from", "2026-11-24T10:00:00Z", "--to", "2026-11-24T10:15:00Z"}, tc.flags...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("export %v: %v, want a refusal with %q", tc.flags, err, tc.want)
		}
		if after := listKeys(t, e.srv, "logs/"); !slices.Equal(after, before) {
			t.Fatalf("a refused export wrote objects: %v", after)
		}
	}
	// Without a window flag the lake's own grid applies: the export works.
	if _, err := run("export", "--from", "2026-11-24T10:00:00Z", "--to", "2026-11-24T10:15:00Z"); err != nil {
		t.Fatalf("export adopting the lake's layout: %v", err)
	}
	// A stray Parquet object in a day partition fails verify, named.
	stray := "logs/activity_log/daily/dt=2026-11-24/part-20261124T1000Z-20261124T1015Z.parquet"
	obj, err := e.srv.Client().GetObject(ctx, getInput(e.srv.Bucket, "logs/activity_log/daily/dt=2026-11-24/part-20261124T1001Z-20261124T1002Z.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(obj.Body); err != nil {
		t.Fatal(err)
	}
	obj.Body.Close()
	data := buf.Bytes()
	if _, err := e.srv.Client().PutObject(ctx, putInput(e.srv.Bucket, stray, data)); err != nil {
		t.Fatal(err)
	}
	out, err := run("verify", "--from", "2026-11-24T10:00:00Z", "--to", "2026-11-24T10:15:00Z")
	if err == nil || !strings.Contains(out, "stray "+stray) {
		t.Fatalf("verify with a stray: %v\n%s", err, out)
	}
}

// logetl purge deletes verified windows' rows from MySQL and prints a line per window.
func TestPurgePrintsEachWindowAndDeletesOnlyWhatTheLakeHolds(t *testing.T) {
	e := newCLIEnv(t)
	for i := 0; i < 30; i++ {
		if _, err := e.db.DB.Exec(`INSERT INTO activity_log (occurred_at, request_id, action, method, route, path, status, client_ip, user_agent, message)
VALUES (?, 'r', 'post.view', 'GET', '/blog/:id/', '/blog/1/', 200, '192.0.2.9', 'ua', 'm')`, time.Date(2026, 11, 20, 10, i, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.export("2026-11-20T10:00:00Z", "2026-11-20T10:15:00Z", "daily"); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	c := &purgeCmd{pipelineFlags: e.flags(), Before: "2026-11-20T10:30:00Z", DryRun: true, stdout: &out}
	if err := c.Run(context.Background()); err != nil {
		t.Fatalf("dry run: %v\n%s", err, out.String()) // see REASON
	}
	if !strings.Contains(out.String(), "would delete 30 rows, 0 refused") || e.count(t, time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)) != 30 {
		t.Fatalf("dry run:\n%s", out.String())
	}
	out.Reset()
	c.DryRun = false
	if err := c.Run(context.Background()); err != nil {
		t.Fatalf("purge: %v\n%s", err, out.String())
	}
	// The first window was exported: purged. The second was not: re-exported, then purged.
	if !strings.Contains(out.String(), "purged") || !strings.Contains(out.String(), "repaired-purged") || !strings.Contains(out.String(), "deleted 30 rows, 0 refused") {
		t.Fatalf("purge output:\n%s", out.String())
	}
	if n := e.count(t, time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)); n != 0 {
		t.Fatalf("%d rows left", n)
	}
	if out, err := e.verify("2026-11-20T10:00:00Z", "2026-11-20T10:30:00Z", false); err != nil || !strings.Contains(out, "2 purged") {
		t.Fatalf("verify after the purge: %v\n%s", err, out)
	}
}
