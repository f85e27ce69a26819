//go:build integration

package export_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logetl/logetl/internal/export"
	"github.com/logetl/logetl/internal/lake"
	"github.com/logetl/logetl/internal/logtable"
	"github.com/logetl/logetl/internal/manifest"
	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/internal/tablespec"
)

func TestExportWindowRoundTripsEveryFieldAndLeavesNoClearPersonalData(t *testing.T) {
	for _, mode := range protect.Modes {
		t.Run(mode, func(t *testing.T) {
			truncate(t)
			ctx := context.Background()
			e := newEnv(t, envOpts{fieldEncryption: mode, rowGroupRows: 4})
			w := e.window("2026-11-24T10:00:00Z")
			var rows []row
			for i := 0; i < 23; i++ {
				r := row{at: w.Start.Add(time.Duration(i) * 17 * time.Second), ip: fmt.Sprintf("198.51.100.%d", i%5), ua: fmt.Sprintf("agent-%d/1.0", i%3)}
				if i%4 != 0 {
					r.user = u64(uint64(100 + i%6))
				}
				if i%7 == 0 {
					r.email = str(fmt.Sprintf("intruder%d@example.org", i))
				}
				rows = append(rows, r)
			}
			insert(t, rows...)
			insert(t, row{at: w.End}, row{at: w.Start.Add(-time.Microsecond)}) // outside

			res, err := e.exp.ExportWindow(ctx, w, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Manifests) != 1 || res.Rows() != 23 {
				t.Fatalf("result %+v", res)
			}
			m := res.Manifests[0]
			if m.Table != "activity_log" || m.ETag == "" || m.MinLogID == nil || *m.MinLogID != 1 || *m.MaxLogID != 23 {
				t.Fatalf("manifest %+v", m)
			}
			lines := e.decrypted(t, m.Object)
			if len(lines) != 23 {
				t.Fatalf("%d decrypted rows", len(lines))
			}
			for i, line := range lines {
				var got map[string]any
				if err := json.Unmarshal([]byte(line), &got); err != nil {
					t.Fatal(err)
				}
				want := rows[i]
				if got["client_ip"] != want.ip || got["user_agent"] != want.ua || got["log_id"] != float64(i+1) {
					t.Fatalf("row %d: %v", i, got)
				}
				if (got["email"] == nil) != (want.email == nil) || want.email != nil && got["email"] != *want.email {
					t.Fatalf("row %d email %v, want %v", i, got["email"], want.email)
				}
				if (got["user_pseudonym"] == nil) != (want.user == nil) {
					t.Fatalf("row %d pseudonym %v", i, got["user_pseudonym"])
				}
				if want.user != nil && got["user_pseudonym"] != e.prot.PseudonymUint64("user_id", *want.user) {
					t.Fatalf("row %d pseudonym %v", i, got["user_pseudonym"])
				}
			}
			// No clear value of a protected column anywhere in the lake's bytes.
			all := e.allBytes(t)
			for _, r := range rows {
				for _, clear := range []string{r.ip, r.ua} {
					if bytes.Contains(all, []byte(clear)) {
						t.Fatalf("clear %q found in the lake", clear)
					}
				}
				if r.email != nil && bytes.Contains(all, []byte(*r.email)) {
					t.Fatalf("clear email %q found in the lake", *r.email)
				}
			}
		})
	}
}

func TestAWindowWithoutRowsWritesNoObjectButIsCovered(t *testing.T) {
	truncate(t)
	ctx := context.Background()
	e := newEnv(t, envOpts{})
	w := e.window("2026-11-24T10:00:00Z")
	res, err := e.exp.ExportWindow(ctx, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Manifests) != 0 || len(e.parquetKeys(t)) != 0 {
		t.Fatalf("an empty window wrote %v", e.objects(t))
	}
	rep, err := e.exp.Verify(ctx, w.Start, w.End, export.VerifyOptions{})
	if err != nil || !rep.OK() || rep.Counts[export.StatusEmpty] != 1 {
		t.Fatalf("verify %+v %v", rep, err)
	}
	// The window next to it was never exported: uncovered, a problem unless allowed.
	next := nextWindow(w)
	rep, _ = e.exp.Verify(ctx, next.Start, next.End, export.VerifyOptions{})
	if rep.OK() || rep.Counts[export.StatusUncovered] != 1 || len(rep.Uncovered) != 1 {
		t.Fatalf("an unexported empty window verifies as %+v", rep)
	}
	rep, _ = e.exp.Verify(ctx, next.Start, next.End, export.VerifyOptions{AllowMissingEmpty: true})
	if !rep.OK() {
		t.Fatalf("allow-missing-empty: %+v", rep)
	}
}

func TestAWindowThatLostItsRowsLosesItsFile(t *testing.T) {
	truncate(t)
	ctx := context.Background()
	e := newEnv(t, envOpts{})
	w := e.window("2026-11-24T10:00:00Z")
	insert(t, row{at: w.Start})
	if _, err := e.exp.ExportWindow(ctx, w, nil); err != nil {
		t.Fatal(err)
	}
	truncate(t)
	res, err := e.exp.ExportWindow(ctx, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Removed) != 1 || len(e.parquetKeys(t)) != 0 {
		t.Fatalf("removed %v, objects %v", res.Removed, e.objects(t))
	}
	if rep, _ := e.exp.Verify(ctx, w.Start, w.End, export.VerifyOptions{}); !rep.OK() {
		t.Fatalf("verify %+v", rep)
	}
}

func TestARerunRewritesTheSameKeysAndTheManifestNamesItsObjectsETag(t *testing.T) {
	truncate(t)
	ctx := context.Background()
	e := newEnv(t, envOpts{})
	w := e.window("2026-11-24T10:00:00Z")
	insert(t, row{at: w.Start}, row{at: w.Start.Add(time.Minute)})
	first, err := e.exp.ExportWindow(ctx, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := e.objects(t)
	second, err := e.exp.ExportWindow(ctx, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	after := e.objects(t)
	if len(before) != len(after) || second.Manifests[0].Object != first.Manifests[0].Object || second.Rows() != 2 {
		t.Fatalf("rerun changed the keys: %v → %v", before, after)
	}
	info, err := e.store.Stat(ctx, second.Manifests[0].Object)
	if err != nil || info.ETag != second.Manifests[0].ETag {
		t.Fatalf("object ETag %q, manifest %q (%v)", info.ETag, second.Manifests[0].ETag, err)
	}
}

func TestAWindowAcrossLocalMidnightIsSplitIntoItsDays(t *testing.T) {
	truncate(t)
	ctx := context.Background()
	e := newEnv(t, envOpts{zone: "Asia/Seoul", window: 2 * time.Hour})
	w := e.window("2026-11-24T14:00:00Z") // 23:00–01:00 in Seoul
	insert(t, row{at: ts("2026-11-24T14:30:00Z")}, row{at: ts("2026-11-24T15:30:00Z")}, row{at: ts("2026-11-24T15:45:00Z")})
	res, err := e.exp.ExportWindow(ctx, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range res.Manifests {
		got = append(got, fmt.Sprintf("%s:%d", m.Partition, m.Rows))
	}
	if fmt.Sprint(got) != "[dt=2026-11-24:1 dt=2026-11-25:2]" {
		t.Fatalf("pieces %v", got)
	}
	if rep, err := e.exp.Verify(ctx, w.Start, w.End, export.VerifyOptions{}); err != nil || !rep.OK() {
		t.Fatalf("verify %+v %v", rep, err)
	}
}

// The lake records its layout on the first export; a writer of another grid, zone or policy is
// refused before it writes anything.
func TestAnotherLayoutIsRefusedBeforeWritingAnything(t *testing.T) {
	truncate(t)
	ctx := context.Background()
	e := newEnv(t, envOpts{window: time.Minute})
	w := e.window("2026-11-24T10:00:00Z")
	insert(t, row{at: w.Start})
	if _, err := e.exp.ExportWindow(ctx, w, nil); err != nil {
		t.Fatal(err)
	}
	before := e.objects(t)
	seoul, _ := time.LoadLocation("Asia/Seoul")
	tests := map[string]func(*export.Config){
		"window":    func(c *export.Config) { c.Grid = mustGrid(t, 15*time.Minute, time.UTC) },
		"time zone": func(c *export.Config) { c.Grid = mustGrid(t, time.Minute, seoul) },
		"policy": func(c *export.Config) {
			s := builtin()
			s.Columns = slices.Clone(s.Columns)
			s.Columns[10].Treatment, s.Columns[10].As = tablespec.Clear, ""
			if err := s.Validate(); err != nil {
				t.Fatal(err)
			}
			c.Spec = s
		},
	}
	for name, change := range tests {
		t.Run(name, func(t *testing.T) {
			x := e.again(t, change)
			start := x.Grid().Floor(w.Start)
			_, err := x.ExportWindow(ctx, partitionOf(start, x.Grid().Length()), nil)
			if !errors.Is(err, lake.ErrLayout) || !strings.Contains(err.Error(), name) {
				t.Fatalf("export = %v, want ErrLayout naming the %s", err, name)
			}
			if !export.IsPermanent(err) {
				t.Fatal("a layout mismatch is retryable")
			}
			if _, err := x.CompactWeek(ctx, x.Grid().WeekOf(w.Start), w.End, nil); !errors.Is(err, lake.ErrLayout) {
				t.Fatalf("compaction = %v, want ErrLayout", err)
			}
			if got := e.objects(t); len(got) != len(before) {
				t.Fatalf("a refused writer wrote objects: %v", got)
			}
		})
	}
}

func TestVerifyNamesStraysAndDeletesThemOnlyWhenTold(t *testing.T) {
	truncate(t)
	ctx := context.Background()
	e := newEnv(t, envOpts{window: time.Minute})
	w := e.window("2026-11-24T10:00:00Z")
	insert(t, row{at: w.Start})
	res, err := e.exp.ExportWindow(ctx, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := e.store.Get(ctx, res.Manifests[0].Object)
	strays := []string{
		"logs/activity_log/daily/dt=2026-11-24/copy-of-part.parquet",
		"logs/activity_log/daily/dt=2026-11-24/part-20261124T1000Z-20261124T1015Z.parquet", // a 15-minute file on a 1-minute grid
		"logs/activity_log/daily/dt=2026-11-25/part-20261124T1000Z-20261124T1001Z.parquet", // another zone's day
	}
	for _, k := range strays {
		if err := e.store.Put(ctx, k, data, ""); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := e.exp.Verify(ctx, w.Start, w.End, export.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(strays)
	got := slices.Clone(rep.Strays)
	slices.Sort(got)
	if rep.OK() || !slices.Equal(got, strays) || rep.ProblemCount != 0 {
		t.Fatalf("strays %v (want %v), problems %d", rep.Strays, strays, rep.ProblemCount)
	}
	if _, err := e.exp.Verify(ctx, w.Start, w.End, export.VerifyOptions{Repair: true}); err != nil {
		t.Fatal(err)
	}
	if len(e.parquetKeys(t)) != 4 {
		t.Fatal("a repair deleted strays it was not told to")
	}
	rep, err = e.exp.Verify(ctx, w.Start, w.End, export.VerifyOptions{DeleteStrays: true})
	if err != nil || !rep.OK() || rep.StraysDeleted != 3 || len(e.parquetKeys(t)) != 1 {
		t.Fatalf("delete strays: %+v %v; objects %v", rep, err, e.objects(t))
	}
}

func TestVerifyFindsALateRowAndRepairsIt(t *testing.T) {
	truncate(t)
	ctx := context.Background()
	e := newEnv(t, envOpts{})
	w := e.window("2026-11-24T10:00:00Z")
	insert(t, row{at: w.Start})
	if _, err := e.exp.ExportWindow(ctx, w, nil); err != nil {
		t.Fatal(err)
	}
	insert(t, row{at: w.Start.Add(time.Minute)})
	rep, err := e.exp.Verify(ctx, w.Start, w.End, export.VerifyOptions{})
	if err != nil || rep.OK() || rep.Problems[0].Status != export.StatusMismatch {
		t.Fatalf("verify after a late row: %+v %v", rep, err)
	}
	rep, err = e.exp.Verify(ctx, w.Start, w.End, export.VerifyOptions{Repair: true})
	if err != nil || !rep.OK() || rep.Repaired() != 1 {
		t.Fatalf("repair: %+v %v", rep, err)
	}
}

// A re-export keeps a readable manifest at every moment: a verify running beside it sees the
// old complete state or the new one, never a missing or corrupt window.
func TestRewritingAWindowWhileVerifyingItNeverShowsItMissingOrCorrupt(t *testing.T) {
	truncate(t)
	ctx := context.Background()
	e := newEnv(t, envOpts{window: time.Minute})
	w := e.window("2026-11-24T10:00:00Z")
	insert(t, row{at: w.Start})
	if _, err := e.exp.ExportWindow(ctx, w, nil); err != nil {
		t.Fatal(err)
	}
	verifier := e.again(t, func(*export.Config) {}) // another process
	stop := make(chan struct{})
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		verdicts = map[export.Status]int{}
		details  []string
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			rep, err := verifier.Verify(ctx, w.Start, w.End, export.VerifyOptions{})
			mu.Lock()
			if err != nil {
				details = append(details, err.Error())
			}
			for s, n := range rep.Counts {
				verdicts[s] += int(n)
			}
			for _, p := range rep.Problems {
				// A mismatch is true between a row's insert and its window's re-export.
				if p.Status != export.StatusMismatch {
					details = append(details, fmt.Sprintf("%s %s", p.Status, p.Detail))
				}
			}
			mu.Unlock()
		}
	}()
	root := repoRoot(t)
	for round := 0; round < 50; round++ {
		insert(t, row{at: w.Start.Add(time.Duration(round+1) * time.Second)})
		if _, err := e.exp.ExportWindow(ctx, w, nil); err != nil {
			t.Fatal(err)
		}
		got := duckCount(t, root, e, "daily")
		if want := int64(round + 2); got != want {
			t.Fatalf("round %d: DuckDB counts %d rows, MySQL has %d", round, got, want)
		}
	}
	close(stop)
	wg.Wait()
	if verdicts[export.StatusMissing]+verdicts[export.StatusCorrupt] > 0 || len(details) > 0 {
		t.Fatalf("concurrent verdicts %v, problems %v", verdicts, details[:min(len(details), 5)])
	}
	if verdicts[export.StatusOK]+verdicts[export.StatusMismatch] == 0 {
		t.Fatal("the verifier never ran")
	}
	t.Logf("verdicts while rewriting: %v", verdicts)
}

func TestConcurrentWritersOfOneWindowTakeTurns(t *testing.T) {
	truncate(t)
	ctx := context.Background()
	e := newEnv(t, envOpts{})
	w := e.window("2026-11-24T10:00:00Z")
	for i := 0; i < 200; i++ {
		insert(t, row{at: w.Start.Add(time.Duration(i) * time.Second)})
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.again(t, func(*export.Config) {}).ExportWindow(ctx, w, nil)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if rep, err := e.exp.Verify(ctx, w.Start, w.End, export.VerifyOptions{}); err != nil || !rep.OK() {
		t.Fatalf("after concurrent writers: %+v %v", rep, err)
	}
}

func TestATableThatChangesUnderTheSpecFailsTheWindowForGood(t *testing.T) {
	ctx := context.Background()
	sqlExec(t, "DROP TABLE IF EXISTS audit")
	sqlExec(t, "CREATE TABLE audit (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, at DATETIME(6) NOT NULL, kind VARCHAR(20) NOT NULL, amount INT NULL, KEY audit_at (at, id))")
	f, err := tablespec.Parse([]byte(`tables:
  - name: audit
    mysql_table: audit
    time_column: at
    id_column: id
    columns:
      - {name: id, type: bigint unsigned, treatment: clear}
      - {name: at, type: datetime(6), treatment: clear}
      - {name: kind, type: varchar(20), treatment: clear}
      - {name: amount, type: int, nullable: true, treatment: clear}
`))
	if err != nil {
		t.Fatal(err)
	}
	spec := f.Tables[0]
	e := newEnv(t, envOpts{spec: &spec})
	var reported [][]string
	e.exp.OnUndeclaredColumns(func(_ string, cols []string) { reported = append(reported, cols) })
	w := e.window("2026-11-24T10:00:00Z")
	sqlExec(t, "INSERT INTO audit (at, kind, amount) VALUES (?, 'login', 1)", w.Start)
	if _, err := e.exp.ExportWindow(ctx, w, nil); err != nil {
		t.Fatal(err)
	}
	// A column added while the table is exported is not exported, and said so once.
	sqlExec(t, "ALTER TABLE audit ADD COLUMN email VARCHAR(100) NULL")
	sqlExec(t, "INSERT INTO audit (at, kind, amount, email) VALUES (?, 'logout', 2, 'someone@example.org')", w.Start.Add(time.Second))
	for i := 0; i < 2; i++ {
		res, err := e.exp.ExportWindow(ctx, w, nil)
		if err != nil || res.Rows() != 2 {
			t.Fatalf("export after ADD COLUMN: %+v %v", res, err)
		}
	}
	if len(reported) != 1 || !slices.Equal(reported[0], []string{"email"}) {
		t.Fatalf("undeclared columns reported %v, want [email] once", reported)
	}
	if bytes.Contains(e.allBytes(t), []byte("someone@example.org")) || strings.Contains(strings.Join(e.decrypted(t, e.parquetKeys(t)[0]), ""), "email") {
		t.Fatal("the added column was exported")
	}
	// A changed type fails the window, naming table, column and both types, for good.
	sqlExec(t, "ALTER TABLE audit MODIFY amount BIGINT NULL")
	_, err = e.exp.ExportWindow(ctx, w, nil)
	if !errors.Is(err, logtable.ErrSchema) || !export.IsPermanent(err) || !strings.Contains(err.Error(), "table audit: column amount is bigint(20) in MySQL but int in the spec") {
		t.Fatalf("export after MODIFY = %v", err)
	}
}

// A purged window's file is the record of its rows: a row committed into it after the purge
// is merged into the file, never replacing what MySQL no longer has.
func TestAPurgedWindowIsMergedNotReplaced(t *testing.T) {
	truncate(t)
	ctx := context.Background()
	e := newEnv(t, envOpts{})
	w := e.window("2026-11-24T10:00:00Z")
	insert(t, row{at: w.Start.Add(time.Minute)}, row{at: w.Start.Add(3 * time.Minute)})
	res, err := e.exp.ExportWindow(ctx, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := res.Manifests[0]
	m.Purge = &manifest.Purge{State: manifest.PurgeDone, StartedAt: time.Now().UTC(), DoneAt: time.Now().UTC(), Deleted: 2}
	data, _ := m.Marshal()
	if err := e.store.Put(ctx, lake.ManifestKey(m.Object), data, "application/json"); err != nil {
		t.Fatal(err)
	}
	sqlExec(t, "DELETE FROM activity_log")           // the purge deleted them (ids are never reused)
	insert(t, row{at: w.Start.Add(2 * time.Minute)}) // a late row between them
	rep, _ := e.exp.Verify(ctx, w.Start, w.End, export.VerifyOptions{})
	if rep.OK() || rep.Problems[0].Status != export.StatusMismatch {
		t.Fatalf("a late row after a purge verifies as %+v", rep)
	}
	res, err = e.exp.ExportWindow(ctx, w, nil)
	if err != nil || !res.Merged || res.Rows() != 3 {
		t.Fatalf("merge: %+v %v", res, err)
	}
	lines := e.decrypted(t, m.Object)
	var ids []string
	for _, l := range lines {
		var r map[string]any
		_ = json.Unmarshal([]byte(l), &r)
		ids = append(ids, fmt.Sprint(r["log_id"]))
	}
	if fmt.Sprint(ids) != "[1 3 2]" {
		t.Fatalf("merged rows by time are ids %v, want [1 3 2] (the late row, id 3, between them)", ids)
	}
	if res.Manifests[0].Purge == nil {
		t.Fatal("the merged file lost its purge record")
	}
}
