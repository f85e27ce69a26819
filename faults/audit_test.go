//go:build faults

package faults

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/logetl/logetl/internal/export"
	"github.com/logetl/logetl/internal/lake"
	"github.com/logetl/logetl/internal/manifest"
	"github.com/logetl/logetl/internal/parquetlog"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/s3store"
	"github.com/logetl/logetl/internal/tablespec"
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
	lk, err := st.readLake(ctx, from, to)
	if err != nil {
		return audit{}, err
	}
	a := audit{Windows: int(to.Sub(from) / window), Objects: lk.Objects, Duplicated: len(lk.Duplicated), Unexpected: len(lk.Unexpected),
		Pending: lk.Pending, Details: slices.Clone(lk.Unexpected)}
	inMySQL, err := st.mysqlIDs(ctx, from, to)
	if err != nil {
		return a, err
	}
	a.MySQLRows = int64(len(inMySQL))
	a.S3Rows = lk.Rows
	for id := range lk.Owner {
		if !inMySQL[id] {
			a.Extra++
			if a.Extra <= 5 {
				a.Details = append(a.Details, fmt.Sprintf("log id %d is in S3 (%s), not in MySQL", id, lk.Owner[id]))
			}
		}
	}
	for id := range inMySQL {
		if _, ok := lk.Owner[id]; !ok {
			a.Missing++
			if a.Missing <= 5 {
				a.Details = append(a.Details, fmt.Sprintf("log id %d is in MySQL, not in S3", id))
			}
		}
	}
	a.Details = append(a.Details, lk.DuplicateIDs...)
	return a, nil
}

// mysqlIDs are the ids of the table's rows in [from, to).
func (st *stack) mysqlIDs(ctx context.Context, from, to time.Time) (map[uint64]bool, error) {
	q := fmt.Sprintf("SELECT %s FROM %s WHERE %s >= ? AND %s < ?", st.spec.IDColumn, st.spec.QuotedTable(), st.spec.TimeColumn, st.spec.TimeColumn)
	rows, err := st.db.DB.QueryContext(ctx, q, from, to)
	if err != nil {
		return nil, fmt.Errorf("mysql ids: %w", err)
	}
	defer rows.Close()
	ids := make(map[uint64]bool)
	for rows.Next() {
		var id uint64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mysql ids: %w", err)
	}
	return ids, nil
}

// windowsWithRows counts the grid windows of [from, to) that hold rows in MySQL.
func (st *stack) windowsWithRows(ctx context.Context, from, to time.Time) (int, error) {
	var n int
	q := fmt.Sprintf("SELECT COUNT(DISTINCT FLOOR(UNIX_TIMESTAMP(%s) / ?)) FROM %s WHERE %s >= ? AND %s < ?",
		st.spec.TimeColumn, st.spec.QuotedTable(), st.spec.TimeColumn, st.spec.TimeColumn)
	if err := st.db.DB.QueryRowContext(ctx, q, int64(window/time.Second), from, to).Scan(&n); err != nil {
		return 0, fmt.Errorf("windows with rows: %w", err)
	}
	return n, nil
}

// lakeView is what the daily objects of a range hold, read object by object.
type lakeView struct {
	Objects int   // Parquet objects of the range's windows
	Rows    int64 // rows read from them (a duplicated row counts twice)
	// Owner maps each log id to the first object holding it.
	Owner map[uint64]string
	// Manifests are the manifests of the range's windows by Parquet key.
	Manifests map[string]manifest.Manifest
	// Duplicated are the objects holding a log id that another object (or another row of the
	// same object) also holds; DuplicateIDs say which (the first few).
	Duplicated   map[string]bool
	DuplicateIDs []string
	// Unexpected are Parquet objects at keys no window of the grid maps to, objects without a
	// manifest, manifests without their object and manifests that do not describe their
	// object (rows, size, sha256, ETag).
	Unexpected []string
	// Pending counts multipart uploads left behind under the range's keys (parts of an upload
	// that never completed: invisible to readers, reclaimed by a lifecycle rule).
	Pending int
}

// readLake reads every daily object and manifest of the windows of [from, to). It lists the
// table's daily partitions once and keeps the keys whose window lies in the range, so a range
// of decades costs what its objects cost, not what its windows would.
func (st *stack) readLake(ctx context.Context, from, to time.Time) (lakeView, error) {
	lk := lakeView{Owner: map[uint64]string{}, Manifests: map[string]manifest.Manifest{}, Duplicated: map[string]bool{}}
	inRange := func(w partition.Window) bool { return w.Start.Before(to) && w.End.After(from) }
	objs, err := st.store.List(ctx, st.layout.PartitionsPrefix(partition.Daily))
	if err != nil {
		return lk, err
	}
	listed := map[string]s3store.ObjectInfo{}
	for _, o := range objs {
		k, ok := st.layout.ParseKey(o.Key)
		if !ok {
			lk.Unexpected = append(lk.Unexpected, "object that is no part file or manifest: "+o.Key)
			continue
		}
		if inRange(k.Window) {
			listed[o.Key] = o
		}
	}
	pending, err := st.store.PendingUploads(ctx, st.layout.PartitionsPrefix(partition.Daily))
	if err != nil {
		return lk, err
	}
	for _, key := range pending {
		if k, ok := st.layout.ParseKey(key); !ok || inRange(k.Window) {
			lk.Pending++
		}
	}

	keys := make([]string, 0, len(listed))
	for key := range listed {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	idCol := st.spec.Index(st.spec.IDColumn)
	idSpec, _ := st.spec.Column(st.spec.IDColumn)
	for _, key := range keys {
		k, _ := st.layout.ParseKey(key)
		if k.Manifest {
			b, err := st.store.Get(ctx, key)
			if err != nil {
				return lk, err
			}
			m, err := manifest.Parse(b)
			if err != nil {
				lk.Unexpected = append(lk.Unexpected, fmt.Sprintf("%s: bad manifest: %v", key, err))
				continue
			}
			lk.Manifests[k.Parquet] = m
			if _, ok := listed[k.Parquet]; !ok && m.ObjectRemoved == nil {
				lk.Unexpected = append(lk.Unexpected, "manifest without its object: "+key)
			}
			continue
		}
		lk.Objects++
		if want := st.layout.DailyKey(st.grid.Pieces(st.grid.WindowAt(k.Window.Start))[0]); key != want {
			lk.Unexpected = append(lk.Unexpected, "object at a key no window of the grid maps to: "+key)
		}
		data, err := st.store.Get(ctx, key)
		if err != nil {
			return lk, err
		}
		ids, err := readIDs(data, idCol, idSpec)
		if err != nil {
			lk.Unexpected = append(lk.Unexpected, fmt.Sprintf("%s: not a readable Parquet file: %v", key, err))
			continue
		}
		for _, id := range ids {
			lk.Rows++
			if prev, ok := lk.Owner[id]; ok {
				lk.Duplicated[key], lk.Duplicated[prev] = true, true
				if len(lk.DuplicateIDs) < 10 {
					lk.DuplicateIDs = append(lk.DuplicateIDs, fmt.Sprintf("log id %d in %s and %s", id, prev, key))
				}
				continue
			}
			lk.Owner[id] = key
		}
		if problem := st.checkManifest(ctx, key, listed[key], data, int64(len(ids))); problem != "" {
			lk.Unexpected = append(lk.Unexpected, problem)
		}
	}
	return lk, nil
}

// readIDs reads the id column of every row of a Parquet file.
func readIDs(data []byte, idCol int, idSpec tablespec.Column) ([]uint64, error) {
	r, err := parquetlog.OpenReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	ids := make([]uint64, 0, r.NumRows())
	buf := make([]parquet.Row, 4096)
	for {
		n, err := r.Read(buf)
		for _, row := range buf[:n] {
			ids = append(ids, tablespec.ID(idSpec, row[idCol]))
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
func (st *stack) checkManifest(ctx context.Context, key string, obj s3store.ObjectInfo, data []byte, rows int64) string {
	b, err := st.store.Get(ctx, lake.ManifestKey(key))
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
	case m.ETag == "" || m.ETag != obj.ETag:
		return fmt.Sprintf("%s: manifest records ETag %q, the object has %q", key, m.ETag, obj.ETag)
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
			for _, p := range rep.Problems {
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

func (st *stack) windowRuns(ctx context.Context, w partition.Window) (runs, error) {
	id := workflows.ExportWindowID(table, w)
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
	grid, err := st.grid.Windows(from, to)
	if err != nil {
		return 0, 0, err
	}
	for _, w := range grid {
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
