//go:build integration

package export_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/logetl/logetl/internal/export"
	"github.com/logetl/logetl/internal/lake"
	"github.com/logetl/logetl/internal/manifest"
	"github.com/logetl/logetl/internal/partition"
)

// lifecycleWeek exports and compacts a closed week with rows on every day and returns it.
func lifecycleWeek(t *testing.T, e *env) (partition.Week, time.Time, time.Time, int64) {
	t.Helper()
	ctx := context.Background()
	week := e.cfg.Grid.WeekOf(ts("2026-11-10T00:00:00Z"))
	ws, we, _ := e.cfg.Grid.WeekRange(week)
	var n int64
	for d := ws; d.Before(we); d = d.Add(25 * time.Hour) {
		insert(t, row{at: d.Add(time.Minute)}, row{at: d.Add(2 * time.Minute)})
		n += 2
	}
	if _, err := e.exp.ExportRange(ctx, ws, we, 0, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.exp.CompactWeek(ctx, week, we, nil); err != nil {
		t.Fatal(err)
	}
	return week, ws, we, n
}

func (e *env) dailyManifests(t *testing.T, ws, we time.Time) []manifest.Manifest {
	t.Helper()
	var out []manifest.Manifest
	for k := range e.objects(t) {
		if !strings.HasSuffix(k, ".manifest.json") || !strings.Contains(k, "/dt=") {
			continue
		}
		data, err := e.store.Get(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		m, err := manifest.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		if !m.WindowStart.Before(ws) && !m.WindowEnd.After(we) {
			out = append(out, m)
		}
	}
	return out
}

// Once the week's file holds their rows, the daily objects older than the cutoff are deleted;
// their manifests stay, marked, and verify, the purge's id reads and a repeat run all read the
// week's file; the record lists what went.
func TestTheLifecycleRemovesDailyFilesTheWeeklyFileProvablyHolds(t *testing.T) {
	truncate(t)
	ctx := context.Background()
	e := newEnv(t, envOpts{window: time.Hour, rowGroupRows: 3})
	week, ws, we, n := lifecycleWeek(t, e)
	dailies := e.dailyManifests(t, ws, we)

	dry, err := e.exp.RemoveCompactedDailies(ctx, we, 10, true, nil)
	if err != nil || dry.Removed != len(dailies) {
		t.Fatalf("dry run: %+v %v (want %d files)", dry, err, len(dailies))
	}
	if got := len(e.parquetKeys(t)); got != len(dailies)+1 {
		t.Fatalf("a dry run deleted files: %d parquet objects left of %d", got, len(dailies)+1)
	}

	// Mid-week cutoff: only the days before it go, and the week is not complete.
	mid := ws.Add(72 * time.Hour)
	res, err := e.exp.RemoveCompactedDailies(ctx, mid, 10, false, nil)
	if err != nil || res.Removed == 0 || res.Removed >= len(dailies) || len(res.Skipped) != 0 {
		t.Fatalf("cutoff mid-week: %+v %v", res, err)
	}
	for _, m := range e.dailyManifests(t, ws, we) {
		gone := m.ObjectRemoved != nil
		if gone != !m.WindowEnd.After(mid) {
			t.Fatalf("%s (ends %s) removed=%v with the cutoff at %s", m.Object, m.WindowEnd, gone, mid)
		}
		if gone && m.WeeklyObject != e.cfg.Layout.WeeklyKey(week) {
			t.Fatalf("%s names weekly %q", m.Object, m.WeeklyObject)
		}
	}

	res, err = e.exp.RemoveCompactedDailies(ctx, we, 10, false, nil)
	if err != nil || res.Removed != len(dailies)-res.Removed && res.Removed == 0 {
		t.Fatalf("second run: %+v %v", res, err)
	}
	if keys := e.parquetKeys(t); len(keys) != 1 || keys[0] != e.cfg.Layout.WeeklyKey(week) {
		t.Fatalf("parquet objects after the lifecycle: %v", keys)
	}
	data, err := e.store.Get(ctx, e.cfg.Layout.LifecycleKey(week))
	if err != nil {
		t.Fatal(err)
	}
	var rec export.LifecycleRecord
	if err := json.Unmarshal(data, &rec); err != nil || !rec.Complete || len(rec.Removed) != len(dailies) {
		t.Fatalf("record: %+v %v", rec, err)
	}
	again, err := e.exp.RemoveCompactedDailies(ctx, we, 10, false, nil)
	if err != nil || again.Done != 1 || again.Removed != 0 || again.Weeks != 0 {
		t.Fatalf("a complete week is examined again: %+v %v", again, err)
	}

	rep, err := e.exp.Verify(ctx, ws, we, export.VerifyOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("verify after the lifecycle: %s %v %+v", rep.Summary(), err, rep.Problems)
	}
	var ids int64
	for _, m := range e.dailyManifests(t, ws, we) {
		got, err := e.exp.PieceIDs(ctx, m)
		if err != nil || int64(len(got)) != m.Rows {
			t.Fatalf("ids of removed %s: %d %v", m.Object, len(got), err)
		}
		ids += int64(len(got))
	}
	if ids != n {
		t.Fatalf("the week's file gives %d ids, want %d", ids, n)
	}

	// A late row into a removed window: the re-export writes the daily file again, verify
	// passes, and the week compacts from old and new pieces alike.
	late := ws.Add(25*time.Hour + 30*time.Minute)
	insert(t, row{at: late})
	if _, err := e.exp.ExportWindow(ctx, e.cfg.Grid.WindowAt(late), nil); err != nil {
		t.Fatal(err)
	}
	if rep, err := e.exp.Verify(ctx, ws, we, export.VerifyOptions{}); err != nil || !rep.OK() {
		t.Fatalf("verify after a re-export: %s %v %+v", rep.Summary(), err, rep.Problems)
	}
	skipped, err := e.exp.RemoveCompactedDailies(ctx, we, 10, false, nil)
	if err != nil || len(skipped.Skipped) != 1 || !strings.Contains(skipped.Skipped[0], "another version") || skipped.Removed != 0 {
		t.Fatalf("a weekly file older than a daily one: %+v %v", skipped, err)
	}
	m, err := e.exp.CompactWeek(ctx, week, we, nil)
	if err != nil || m.Rows != n+1 {
		t.Fatalf("compaction over removed dailies: %+v %v", m, err)
	}
	if res, err := e.exp.RemoveCompactedDailies(ctx, we, 10, false, nil); err != nil || res.Removed != 1 {
		t.Fatalf("the re-exported day after compaction: %+v %v", res, err)
	}
	if got := e.rowsIn(t, e.cfg.Layout.WeeklyKey(week)); got != n+1 {
		t.Fatalf("weekly rows %d, want %d", got, n+1)
	}
}

// A week whose file covers part of it, or whose windows differ from MySQL, keeps its files.
func TestTheLifecycleKeepsDailyFilesItCannotProveAreInTheWeeklyFile(t *testing.T) {
	truncate(t)
	ctx := context.Background()
	e := newEnv(t, envOpts{window: time.Hour})
	week, ws, we, _ := lifecycleWeek(t, e)
	files := len(e.parquetKeys(t))

	if _, err := e.exp.CompactWeek(ctx, week, ws.Add(48*time.Hour), nil); err != nil { // week to date
		t.Fatal(err)
	}
	res, err := e.exp.RemoveCompactedDailies(ctx, we, 10, false, nil)
	if err != nil || res.Removed != 0 || len(res.Skipped) != 1 || !strings.Contains(res.Skipped[0], "not the whole week") {
		t.Fatalf("a partial weekly file: %+v %v", res, err)
	}
	if _, err := e.exp.CompactWeek(ctx, week, we, nil); err != nil {
		t.Fatal(err)
	}
	insert(t, row{at: ws.Add(5 * time.Hour)}) // a late row, not exported yet
	res, err = e.exp.RemoveCompactedDailies(ctx, we, 10, false, nil)
	if err != nil || res.Removed != 0 || len(res.Skipped) != 1 || !strings.Contains(res.Skipped[0], "differ from MySQL") {
		t.Fatalf("a week with a late row: %+v %v", res, err)
	}
	if got := len(e.parquetKeys(t)); got != files {
		t.Fatalf("%d parquet files left of %d", got, files)
	}
}

// Daily files carry the lake's file tag (a bucket rule selects them by it); a daily object
// expired by such a rule verifies while the week's file holds it, and is named when it does not.
func TestADailyObjectExpiredByABucketRuleIsReadFromItsWeek(t *testing.T) {
	truncate(t)
	ctx := context.Background()
	e := newEnv(t, envOpts{window: time.Hour})
	week, ws, we, _ := lifecycleWeek(t, e)
	daily := e.dailyManifests(t, ws, we)[0]
	for key, want := range map[string]string{daily.Object: "daily", e.cfg.Layout.WeeklyKey(week): "weekly"} {
		out, err := e.store.Client().GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(e.store.Bucket()), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.TagSet) != 1 || aws.ToString(out.TagSet[0].Key) != lake.FileTag || aws.ToString(out.TagSet[0].Value) != want {
			t.Fatalf("tags of %s: %+v", key, out.TagSet)
		}
	}
	if err := e.store.Delete(ctx, daily.Object); err != nil { // the bucket rule
		t.Fatal(err)
	}
	if rep, err := e.exp.Verify(ctx, ws, we, export.VerifyOptions{}); err != nil || !rep.OK() {
		t.Fatalf("verify of an expired daily file its week holds: %s %v %+v", rep.Summary(), err, rep.Problems)
	}
	if err := e.store.Delete(ctx, lake.ManifestKey(e.cfg.Layout.WeeklyKey(week))); err != nil {
		t.Fatal(err)
	}
	rep, err := e.exp.Verify(ctx, ws, we, export.VerifyOptions{})
	if err != nil || rep.OK() || rep.Problems[0].Status != export.StatusCorrupt || !strings.Contains(rep.Problems[0].Detail, daily.Object) {
		t.Fatalf("verify of an expired daily file no week holds: %s %v %+v", rep.Summary(), err, rep.Problems)
	}
}
