package export

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/logetl/logetl/internal/activitylog"
	"github.com/logetl/logetl/internal/manifest"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/s3store"
)

// Status is the verdict on one window.
type Status string

// Verdicts of Verify and of the compaction's coverage check.
const (
	StatusOK       Status = "ok"       // the files hold exactly MySQL's rows
	StatusNoFile   Status = "no-file"  // no rows in MySQL and no file: accepted with AllowMissingEmpty
	StatusMissing  Status = "missing"  // a manifest is missing
	StatusMismatch Status = "mismatch" // the manifests' rows differ from MySQL's count
	StatusCorrupt  Status = "corrupt"  // a manifest is unreadable or its object is missing or of another size
	StatusRepaired Status = "repaired" // was wrong, re-exported, now ok
)

// WindowStatus compares one grid window of MySQL with its daily files.
type WindowStatus struct {
	Window    partition.Window
	MySQLRows int64
	FileRows  int64 // sum of the rows of the manifests found
	Files     int   // manifests found
	Pieces    int   // manifests expected (2 when the window crosses local midnight)
	Status    Status
	Detail    string
}

// Good reports whether the window needs no action.
func (s WindowStatus) Good() bool {
	return s.Status == StatusOK || s.Status == StatusNoFile || s.Status == StatusRepaired
}

// Report is the result of Verify.
type Report struct {
	From, To time.Time
	Windows  []WindowStatus
}

// OK reports whether every window is good.
func (r Report) OK() bool { return len(r.Problems()) == 0 }

// Problems lists the windows that are not good.
func (r Report) Problems() []WindowStatus {
	var out []WindowStatus
	for _, w := range r.Windows {
		if !w.Good() {
			out = append(out, w)
		}
	}
	return out
}

// Repaired counts the windows that Verify re-exported successfully.
func (r Report) Repaired() int {
	n := 0
	for _, w := range r.Windows {
		if w.Status == StatusRepaired {
			n++
		}
	}
	return n
}

// VerifyOptions tunes Verify.
type VerifyOptions struct {
	// Repair re-exports every window that is not good, then checks it again.
	Repair bool
	// AllowMissingEmpty accepts windows with no rows in MySQL and no file (for example before
	// the pipeline was deployed). By default every window must have its manifest, so that a
	// window the schedule skipped is found even when it was empty.
	AllowMissingEmpty bool
	// Progress is passed to the repairs' exports.
	Progress func(Progress)
}

// Verify compares, window by window over [from, to) (aligned to the grid), MySQL's row count
// with the rows of the daily manifests, and checks that each manifest's object exists with the
// manifest's size. With opts.Repair the bad windows are re-exported and checked again. The
// error is for failures to check (MySQL or S3 unreachable); a mismatch is in the report.
func (e *Exporter) Verify(ctx context.Context, from, to time.Time, opts VerifyOptions) (Report, error) {
	windows, err := e.cfg.Grid.Windows(from, to)
	if err != nil {
		return Report{}, fmt.Errorf("verify: %w", err)
	}
	rep := Report{From: from.UTC(), To: to.UTC()}
	rep.Windows, _, err = e.check(ctx, from, to, windows, opts.AllowMissingEmpty)
	if err != nil {
		return rep, fmt.Errorf("verify %s..%s: %w", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), err)
	}
	if !opts.Repair {
		return rep, nil
	}
	for i, ws := range rep.Windows {
		if ws.Good() {
			continue
		}
		if _, err := e.ExportWindow(ctx, ws.Window, opts.Progress); err != nil {
			return rep, fmt.Errorf("verify: repair: %w", err)
		}
		again, _, err := e.check(ctx, ws.Window.Start, ws.Window.End, []partition.Window{ws.Window}, opts.AllowMissingEmpty)
		if err != nil {
			return rep, fmt.Errorf("verify: re-check %s: %w", ws.Window, err)
		}
		if again[0].Good() {
			again[0].Status = StatusRepaired
			again[0].Detail = fmt.Sprintf("was %s", ws.Status)
		}
		rep.Windows[i] = again[0]
	}
	return rep, nil
}

// check compares MySQL with the daily manifests for the given grid windows, counting only the
// parts of them inside [from, to), whose bounds must be grid boundaries or local midnights. It
// also returns the manifests found, by object key.
func (e *Exporter) check(ctx context.Context, from, to time.Time, windows []partition.Window, allowMissingEmpty bool) ([]WindowStatus, map[string]manifest.Manifest, error) {
	counts, err := activitylog.CountWindows(ctx, e.db, from, to, e.cfg.Grid.Length())
	if err != nil {
		return nil, nil, err
	}
	mysqlRows := make(map[int64]int64, len(counts))
	for _, c := range counts {
		mysqlRows[c.Start.Unix()] = c.Rows
	}

	objects := make(map[string]int64)
	for _, day := range e.cfg.Grid.Days(from, to) {
		objs, err := e.store.List(ctx, e.cfg.Layout.DayPrefix(day))
		if err != nil {
			return nil, nil, err
		}
		for _, o := range objs {
			objects[o.Key] = o.Size
		}
	}

	type want struct {
		window int
		piece  partition.Piece
		key    string
	}
	var wants []want
	var manifestKeys []string
	out := make([]WindowStatus, len(windows))
	for i, w := range windows {
		out[i] = WindowStatus{Window: w, MySQLRows: mysqlRows[w.Start.Unix()]}
		for _, p := range e.cfg.Grid.Pieces(w) {
			if p.Window.Start.Before(from) || p.Window.End.After(to) {
				continue
			}
			key := e.cfg.Layout.DailyKey(p)
			wants = append(wants, want{window: i, piece: p, key: key})
			out[i].Pieces++
			if _, ok := objects[partition.ManifestKey(key)]; ok {
				manifestKeys = append(manifestKeys, partition.ManifestKey(key))
			}
		}
	}
	manifests, bad, err := e.fetchManifests(ctx, manifestKeys)
	if err != nil {
		return nil, nil, err
	}

	found := make(map[string]manifest.Manifest)
	var details = make([][]string, len(windows))
	missing := make([]int, len(windows))
	corrupt := make([]bool, len(windows))
	for _, wt := range wants {
		s := &out[wt.window]
		mkey := partition.ManifestKey(wt.key)
		if perr, ok := bad[mkey]; ok {
			corrupt[wt.window] = true
			details[wt.window] = append(details[wt.window], fmt.Sprintf("%s: %v", mkey, perr))
			continue
		}
		m, ok := manifests[mkey]
		if !ok {
			missing[wt.window]++
			details[wt.window] = append(details[wt.window], "no "+mkey)
			continue
		}
		s.Files++
		s.FileRows += m.Rows
		size, exists := objects[wt.key]
		switch {
		case m.Object != wt.key || !m.WindowStart.Equal(wt.piece.Window.Start) || !m.WindowEnd.Equal(wt.piece.Window.End):
			corrupt[wt.window] = true
			details[wt.window] = append(details[wt.window], fmt.Sprintf("%s describes %s %s..%s", mkey, m.Object, m.WindowStart.Format(time.RFC3339), m.WindowEnd.Format(time.RFC3339)))
		case !exists:
			corrupt[wt.window] = true
			details[wt.window] = append(details[wt.window], "no object "+wt.key)
		case size != m.Bytes:
			corrupt[wt.window] = true
			details[wt.window] = append(details[wt.window], fmt.Sprintf("%s is %d bytes, manifest says %d", wt.key, size, m.Bytes))
		default:
			found[wt.key] = m
		}
	}
	for i := range out {
		s := &out[i]
		switch {
		case corrupt[i]:
			s.Status = StatusCorrupt
		case missing[i] > 0 && s.MySQLRows == 0 && s.Files == 0 && allowMissingEmpty:
			s.Status = StatusNoFile
			details[i] = nil
		case missing[i] > 0:
			s.Status = StatusMissing
		case s.FileRows != s.MySQLRows:
			s.Status = StatusMismatch
			details[i] = append(details[i], fmt.Sprintf("%+d rows in MySQL", s.MySQLRows-s.FileRows))
		default:
			s.Status = StatusOK
		}
		s.Detail = strings.Join(details[i], "; ")
	}
	return out, found, nil
}

// fetchManifests reads manifests in parallel. Unparsable or vanished ones are returned in bad;
// an S3 failure (network, permissions) is the error.
func (e *Exporter) fetchManifests(ctx context.Context, keys []string) (map[string]manifest.Manifest, map[string]error, error) {
	const workers = 8
	var (
		mu       sync.Mutex
		good     = make(map[string]manifest.Manifest, len(keys))
		bad      = make(map[string]error)
		firstErr error
		wg       sync.WaitGroup
	)
	ch := make(chan string)
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range ch {
				data, err := e.store.Get(ctx, k)
				var m manifest.Manifest
				if err == nil {
					m, err = manifest.Parse(data)
				}
				mu.Lock()
				switch {
				case err == nil:
					good[k] = m
				case errors.Is(err, manifest.ErrInvalid) || errors.Is(err, s3store.ErrNotFound):
					bad[k] = err
				case firstErr == nil:
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	for _, k := range keys {
		select {
		case ch <- k:
		case <-ctx.Done():
		}
	}
	close(ch)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return good, bad, firstErr
}
