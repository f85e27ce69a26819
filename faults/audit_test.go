package faults

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/logetl/logetl/internal/export"
	"github.com/logetl/logetl/internal/manifest"
	"github.com/logetl/logetl/internal/parquetlog"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/workflows"
)

// audit compares, for a range of windows, the ids of MySQL's rows with the ids in the daily
// Parquet objects, object by object. It reads the objects themselves, not only the manifests:
// a manifest could be right about a wrong file.
type audit struct {
	Windows   int
	MySQLRows int64
	S3Rows    int64 // rows read from the Parquet objects (a duplicated row counts twice)
	Missing   int   // MySQL rows absent from S3
	Extra     int   // S3 rows absent from MySQL
	Objects   int   // Parquet objects of the range
	// Duplicated counts the objects holding a log id that another object (or another row of
	// the same object) also holds.
	Duplicated int
	// Unexpected counts Parquet objects at keys no window maps to, objects without a manifest
	// and manifests that do not describe their object (rows, size, sha256).
	Unexpected int
	// Pending counts multipart uploads left behind under the range's day prefixes (parts of an
	// upload that never completed: invisible to readers, reclaimed by a lifecycle rule).
	Pending int
	Details []string
}

// OK reports whether S3 holds exactly MySQL's rows once each, in the expected objects.
func (a audit) OK() bool {
	return a.MySQLRows == a.S3Rows && a.Missing == 0 && a.Extra == 0 && a.Duplicated == 0 && a.Unexpected == 0
}

func (a audit) String() string {
	s := fmt.Sprintf("%d windows: MySQL %d rows, S3 %d rows in %d objects; missing %d, extra %d, duplicated objects %d, unexpected objects %d, pending uploads %d",
		a.Windows, a.MySQLRows, a.S3Rows, a.Objects, a.Missing, a.Extra, a.Duplicated, a.Unexpected, a.Pending)
	if len(a.Details) > 0 {
		d := a.Details
		if len(d) > 10 {
			d = append(d[:10:10], fmt.Sprintf("... %d more", len(a.Details)-10))
		}
		s += "\n  " + strings.Join(d, "\n  ")
	}
	return s
}

// audit checks [from, to), a range of whole grid windows.
func (st *stack) audit(ctx context.Context, from, to time.Time) (audit, error) {
	windows, err := st.grid.Windows(from, to)
	if err != nil {
		return audit{}, err
	}
	a := audit{Windows: len(windows)}

	inMySQL := make(map[int64]bool)
	rows, err := st.db.DB.QueryContext(ctx, "SELECT id FROM activity_log WHERE occurred_at >= ? AND occurred_at < ?", from, to)
	if err != nil {
		return a, fmt.Errorf("mysql ids: %w", err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return a, err
		}
		inMySQL[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return a, fmt.Errorf("mysql ids: %w", err)
	}
	a.MySQLRows = int64(len(inMySQL))

	expected := make(map[string]bool)
	for _, w := range windows {
		for _, p := range st.grid.Pieces(w) {
			expected[st.layout.DailyKey(p)] = true
		}
	}
	keys := make(map[string]bool)
	for _, day := range st.grid.Days(from, to) {
		dp := st.layout.DayPrefix(day)
		objs, err := st.store.List(ctx, dp)
		if err != nil {
			return a, err
		}
		for _, o := range objs {
			keys[o.Key] = true
		}
		pending, err := st.store.PendingUploads(ctx, dp)
		if err != nil {
			return a, err
		}
		a.Pending += len(pending)
	}

	owner := make(map[int64]string) // log id -> first object holding it
	dupObjects := make(map[string]bool)
	for key := range keys {
		if !strings.HasSuffix(key, ".parquet") {
			if strings.HasSuffix(key, ".manifest.json") && expected[strings.TrimSuffix(key, ".manifest.json")+".parquet"] && !keys[strings.TrimSuffix(key, ".manifest.json")+".parquet"] {
				a.Unexpected++
				a.Details = append(a.Details, "manifest without its object: "+key)
			}
			continue
		}
		data, err := st.store.Get(ctx, key)
		if err != nil {
			return a, err
		}
		r, err := parquetlog.OpenReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			a.Unexpected++
			a.Details = append(a.Details, fmt.Sprintf("%s: not a readable Parquet file: %v", key, err))
			continue
		}
		meta := r.Metadata()
		ws, _ := time.Parse(time.RFC3339, meta[parquetlog.MetaWindowStart])
		we, _ := time.Parse(time.RFC3339, meta[parquetlog.MetaWindowEnd])
		if !ws.Before(to) || !we.After(from) {
			r.Close()
			continue // another range's object in the same day
		}
		a.Objects++
		if !expected[key] {
			a.Unexpected++
			a.Details = append(a.Details, "object at a key no window maps to: "+key)
		}
		ids, err := readIDs(r)
		r.Close()
		if err != nil {
			return a, fmt.Errorf("read %s: %w", key, err)
		}
		for _, id := range ids {
			a.S3Rows++
			if prev, ok := owner[id]; ok {
				dupObjects[key], dupObjects[prev] = true, true
				a.Details = append(a.Details, fmt.Sprintf("log id %d in %s and %s", id, prev, key))
				continue
			}
			owner[id] = key
			if !inMySQL[id] {
				a.Extra++
			}
		}
		if problem := st.checkManifest(ctx, key, data, int64(len(ids))); problem != "" {
			a.Unexpected++
			a.Details = append(a.Details, problem)
		}
	}
	a.Duplicated = len(dupObjects)
	for id := range inMySQL {
		if _, ok := owner[id]; !ok {
			a.Missing++
			if a.Missing <= 5 {
				a.Details = append(a.Details, fmt.Sprintf("log id %d is in MySQL, not in S3", id))
			}
		}
	}
	return a, nil
}

func readIDs(r *parquetlog.Reader) ([]int64, error) {
	ids := make([]int64, 0, r.NumRows())
	buf := make([]parquetlog.Row, 4096)
	for {
		n, err := r.Read(buf)
		for i := 0; i < n; i++ {
			ids = append(ids, buf[i].LogID)
		}
		if errors.Is(err, io.EOF) {
			return ids, nil
		}
		if err != nil {
			return ids, err
		}
	}
}

// checkManifest returns what is wrong with the commit marker of the object key, or "".
func (st *stack) checkManifest(ctx context.Context, key string, data []byte, rows int64) string {
	b, err := st.store.Get(ctx, partition.ManifestKey(key))
	if err != nil {
		return fmt.Sprintf("%s: no manifest: %v", key, err)
	}
	m, err := manifest.Parse(b)
	if err != nil {
		return fmt.Sprintf("%s: bad manifest: %v", key, err)
	}
	sum := sha256.Sum256(data)
	switch {
	case m.Object != key:
		return fmt.Sprintf("%s: manifest names %s", key, m.Object)
	case m.Rows != rows:
		return fmt.Sprintf("%s: manifest says %d rows, object has %d", key, m.Rows, rows)
	case m.Bytes != int64(len(data)):
		return fmt.Sprintf("%s: manifest says %d bytes, object has %d", key, m.Bytes, len(data))
	case m.SHA256 != hex.EncodeToString(sum[:]):
		return fmt.Sprintf("%s: sha256 differs from its manifest", key)
	}
	return ""
}

// waitExported polls the export library's Verify over [from, to) until every window has its
// files with MySQL's row count, or the deadline passes.
func (st *stack) waitExported(ctx context.Context, from, to time.Time, timeout time.Duration) error {
	if d := time.Until(to.Add(safetyLag)); d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	deadline := time.Now().Add(timeout)
	for {
		rep, err := st.exp.Verify(ctx, from, to, export.VerifyOptions{})
		if err == nil && rep.OK() {
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("windows %s..%s not verified within %s: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), timeout, err)
			}
			var bad []string
			for _, p := range rep.Problems() {
				bad = append(bad, fmt.Sprintf("%s %s (mysql %d, files %d) %s", p.Window, p.Status, p.MySQLRows, p.FileRows, p.Detail))
			}
			return fmt.Errorf("windows %s..%s not exported within %s: %s", from.Format(time.RFC3339), to.Format(time.RFC3339), timeout, strings.Join(bad, "; "))
		}
		select {
		case <-time.After(2 * time.Second):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// runs describes the ExportWindow runs of a window: how many runs Temporal has for its id and
// the highest activity attempt among them (1 = the first try succeeded).
type runs struct {
	Runs       int
	MaxAttempt int32
}

func (st *stack) windowRuns(ctx context.Context, w workflows.Window) (runs, error) {
	id := workflows.ExportWindowID(w)
	resp, err := st.tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: fmt.Sprintf("WorkflowId = '%s'", id)})
	if err != nil {
		return runs{}, fmt.Errorf("list runs of %s: %w", id, err)
	}
	var r runs
	for _, e := range resp.Executions {
		r.Runs++
		it := st.tc.GetWorkflowHistory(ctx, id, e.Execution.RunId, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return r, fmt.Errorf("history of %s: %w", id, err)
			}
			if a := ev.GetActivityTaskStartedEventAttributes(); a != nil && a.Attempt > r.MaxAttempt {
				r.MaxAttempt = a.Attempt
			}
		}
	}
	return r, nil
}

// retried counts the windows of [from, to) whose export needed more than one attempt, and the
// runs of all of them.
func (st *stack) retried(ctx context.Context, from, to time.Time) (windows, totalRuns int, err error) {
	for _, w := range workflows.GridWindows(from, to, window) {
		if !w.Start.Before(to) {
			break
		}
		r, err := st.windowRuns(ctx, w)
		if err != nil {
			return windows, totalRuns, err
		}
		totalRuns += r.Runs
		if r.MaxAttempt > 1 {
			windows++
		}
	}
	return windows, totalRuns, nil
}
