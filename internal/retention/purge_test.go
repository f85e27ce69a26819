//go:build integration

package retention_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/logetl/logetl/internal/export"
	"github.com/logetl/logetl/internal/lake"
	"github.com/logetl/logetl/internal/manifest"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/internal/retention"
	"github.com/logetl/logetl/internal/s3store"
	"github.com/logetl/logetl/internal/tablespec"
	"github.com/logetl/logetl/internal/testenv"
)

var db *testenv.Database

func TestMain(m *testing.M) { testenv.RunWithDatabase(m, "retention", &db) }

type env struct {
	exp   *export.Exporter
	p     *retention.Purger
	store *s3store.Store
	w     partition.Window
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	if _, err := db.DB.ExecContext(ctx, "DELETE FROM activity_log"); err != nil {
		t.Fatal(err)
	}
	srv := testenv.StartS3(ctx, t)
	store, err := s3store.New(ctx, srv.Config(), s3store.WithStaticCredentials(srv.AccessKey, srv.SecretKey))
	if err != nil {
		t.Fatal(err)
	}
	k, _ := protect.GenerateKeyring()
	prot, _ := protect.NewProtector(k)
	spec, _ := tablespec.Builtin().Table(tablespec.BuiltinName)
	grid, _ := partition.NewGrid(time.Minute, time.UTC)
	exp, err := export.New(export.Config{Spec: spec, Layout: lake.Layout{Prefix: "logs", Table: spec.Name}, Grid: grid}, db.DB, store, prot)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	return &env{exp: exp, p: retention.New(exp, retention.Config{ChunkRows: 3, Pause: -1}), store: store, w: partition.Window{Start: start, End: start.Add(time.Minute)}}
}

func (e *env) insert(t *testing.T, n int, at time.Time) {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := db.DB.Exec(`INSERT INTO activity_log (occurred_at, request_id, action, method, route, path, status, client_ip, user_agent, message)
VALUES (?, 'r', 'post.view', 'GET', '/blog/:id/', '/blog/1/', 200, '192.0.2.7', 'ua', 'm')`, at.Add(time.Duration(i)*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *env) mysqlRows(t *testing.T) int64 {
	t.Helper()
	var n int64
	if err := db.DB.QueryRow("SELECT COUNT(*) FROM activity_log WHERE occurred_at >= ? AND occurred_at < ?", e.w.Start, e.w.End).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *env) manifest(t *testing.T) manifest.Manifest {
	t.Helper()
	ms, err := e.exp.WindowManifests(context.Background(), e.w)
	if err != nil || len(ms) != 1 {
		t.Fatalf("manifests %v %v", ms, err)
	}
	return ms[0]
}

func (e *env) verify(t *testing.T) export.Report {
	t.Helper()
	rep, err := e.exp.Verify(context.Background(), e.w.Start, e.w.End, export.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestAVerifiedWindowIsPurgedAndStaysProvenInTheLake(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.insert(t, 10, e.w.Start)
	if _, err := e.exp.ExportWindow(ctx, e.w, nil); err != nil {
		t.Fatal(err)
	}
	var beats []retention.Progress
	res, err := e.p.PurgeWindow(ctx, e.w, false, func(p retention.Progress) { beats = append(beats, p) })
	if err != nil || res.Verdict != retention.VerdictPurged || res.Deleted != 10 || res.MySQLRows != 10 || res.FileRows != 10 {
		t.Fatalf("purge %+v %v", res, err)
	}
	if len(beats) != 4 { // 10 rows in chunks of 3
		t.Errorf("%d progress reports, want one per chunk (4)", len(beats))
	}
	if n := e.mysqlRows(t); n != 0 {
		t.Fatalf("%d rows left in MySQL", n)
	}
	if m := e.manifest(t); m.Purge == nil || m.Purge.State != manifest.PurgeDone || m.Purge.Deleted != 10 || m.Rows != 10 {
		t.Fatalf("manifest %+v", m)
	}
	if rep := e.verify(t); !rep.OK() || rep.Counts[export.StatusPurged] != 1 {
		t.Fatalf("verify after the purge: %s", rep.Summary())
	}
	// Purging again is a no-op.
	if res, err := e.p.PurgeWindow(ctx, e.w, false, nil); err != nil || res.Verdict != retention.VerdictEmpty || res.Deleted != 0 {
		t.Fatalf("second purge %+v %v", res, err)
	}
}

func TestALateRowIsExportedBeforeItsWindowIsPurged(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.insert(t, 4, e.w.Start)
	if _, err := e.exp.ExportWindow(ctx, e.w, nil); err != nil {
		t.Fatal(err)
	}
	e.insert(t, 2, e.w.Start.Add(30*time.Second)) // committed after the export
	res, err := e.p.PurgeWindow(ctx, e.w, false, nil)
	if err != nil || res.Verdict != retention.VerdictRepairedPurged || res.Deleted != 6 {
		t.Fatalf("purge %+v %v", res, err)
	}
	if m := e.manifest(t); m.Rows != 6 {
		t.Fatalf("the lake holds %d rows, want the 6 that existed", m.Rows)
	}
	// A row committed after the purge: verify sees it, the export merges it into the file.
	e.insert(t, 1, e.w.Start.Add(50*time.Second))
	if rep := e.verify(t); rep.OK() {
		t.Fatalf("verify misses a row committed after the purge: %s", rep.Summary())
	}
	res, err = e.p.PurgeWindow(ctx, e.w, false, nil)
	if err != nil || res.Verdict != retention.VerdictRepairedPurged || res.Deleted != 1 {
		t.Fatalf("purge of the late row %+v %v", res, err)
	}
	if m := e.manifest(t); m.Rows != 7 || m.Purge.Deleted != 7 {
		t.Fatalf("manifest %+v: want 7 rows, 7 deleted", m)
	}
	if rep := e.verify(t); !rep.OK() {
		t.Fatalf("verify: %s", rep.Summary())
	}
}

// Killed between its chunks, a purge leaves its intent in the manifest; the next run finishes
// and nothing is lost or deleted twice.
func TestAnInterruptedPurgeIsFinishedByTheNextRun(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.insert(t, 9, e.w.Start)
	if _, err := e.exp.ExportWindow(ctx, e.w, nil); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	_, err := e.p.PurgeWindow(cctx, e.w, false, func(p retention.Progress) {
		if p.Deleted >= 3 {
			cancel() // the worker dies after the first chunk
		}
	})
	if err == nil {
		t.Fatal("the cancelled purge reported success")
	}
	if m := e.manifest(t); m.Purge == nil || m.Purge.State != manifest.PurgeDeleting {
		t.Fatalf("manifest after the interruption: %+v", m.Purge)
	}
	if rep := e.verify(t); !rep.OK() || rep.Counts[export.StatusPurging] != 1 {
		t.Fatalf("verify of a half-purged window: %s", rep.Summary())
	}
	// An export in between (the verify schedule's repair) must merge, not replace.
	if res, err := e.exp.ExportWindow(ctx, e.w, nil); err != nil || res.Rows() != 9 {
		t.Fatalf("export of a half-purged window: %+v %v", res, err)
	}
	res, err := e.p.PurgeWindow(ctx, e.w, false, nil)
	if err != nil || res.Verdict != retention.VerdictPurged || e.mysqlRows(t) != 0 {
		t.Fatalf("finishing purge %+v %v", res, err)
	}
	if m := e.manifest(t); m.Rows != 9 || m.Purge.State != manifest.PurgeDone {
		t.Fatalf("manifest %+v", m)
	}
}

func TestTwoPurgesAtOnceDeleteEachRowOnce(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.insert(t, 30, e.w.Start)
	if _, err := e.exp.ExportWindow(ctx, e.w, nil); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([]retention.Result, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if results[i], err = e.p.PurgeWindow(ctx, e.w, false, nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if results[0].Deleted+results[1].Deleted != 30 || e.mysqlRows(t) != 0 {
		t.Fatalf("results %+v %+v", results[0], results[1])
	}
}

func TestAWindowWhoseFilesDisagreeIsRefusedAndKept(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.insert(t, 5, e.w.Start)
	if _, err := e.exp.ExportWindow(ctx, e.w, nil); err != nil {
		t.Fatal(err)
	}
	m := e.manifest(t)
	hi := *m.MaxLogID + 100
	m.MaxLogID = &hi // the manifest no longer describes its file
	if err := e.exp.PutManifest(ctx, m); err != nil {
		t.Fatal(err)
	}
	res, err := e.p.PurgeWindow(ctx, e.w, false, nil)
	if err != nil || res.Verdict != retention.VerdictRefused || res.Reason == "" || e.mysqlRows(t) != 5 {
		t.Fatalf("purge %+v %v; rows left %d", res, err, e.mysqlRows(t))
	}
}

func TestADryRunDeletesNothing(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.insert(t, 5, e.w.Start)
	if _, err := e.exp.ExportWindow(ctx, e.w, nil); err != nil {
		t.Fatal(err)
	}
	res, err := e.p.PurgeWindow(ctx, e.w, true, nil)
	if err != nil || res.Verdict != retention.VerdictDryRun || res.Deleted != 5 || e.mysqlRows(t) != 5 || e.manifest(t).Purge != nil {
		t.Fatalf("dry run %+v %v", res, err)
	}
}
