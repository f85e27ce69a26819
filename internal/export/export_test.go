package export_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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
	"github.com/logetl/logetl/internal/synthetic"
)

var (
	winStart = ts("2026-11-24T10:00:00Z")
	winEnd   = ts("2026-11-24T10:15:00Z")
)

func TestExportRoundTripsMySQLRowsFieldByField(t *testing.T) {
	tests := []struct {
		name         string
		mode         string
		compression  string
		rowGroupRows int
	}{
		{"per-value zstd", export.PerValue, "zstd", 0},
		{"per-rowgroup snappy small row groups", export.PerRowGroup, "snappy", 700},
		{"per-value gzip", export.PerValue, "gzip", 1000},
		{"per-value uncompressed", export.PerValue, "none", 0},
	}
	truncate(t)
	ctx := context.Background()
	if _, err := synthetic.Load(ctx, db.DB, synthetic.Options{Rows: 3000, Seed: 11, Start: winStart.Add(-5 * time.Minute), End: winEnd.Add(5 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	// Boundaries: a row exactly at start is in, one exactly at end is out.
	insert(t, fixture{at: winStart, user: u64(77)}, fixture{at: winEnd.Add(-time.Microsecond), email: str("late@example.org")}, fixture{at: winEnd, user: u64(78)})
	want := mysqlRecords(t, winStart, winEnd)
	if !want[0].OccurredAt.Equal(winStart) || want[len(want)-1].OccurredAt.Equal(winEnd) {
		t.Fatal("fixture boundaries not as intended")
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOpts{compression: tt.compression, rowGroupRows: tt.rowGroupRows, fieldEncryption: tt.mode})
			var progress []export.Progress
			ms, err := e.exp.ExportWindow(ctx, partition.Window{Start: winStart, End: winEnd}, func(p export.Progress) { progress = append(progress, p) })
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) != 1 {
				t.Fatalf("%d manifests, want 1", len(ms))
			}
			m := ms[0]
			key := "logs/activity_log/daily/dt=2026-11-24/part-20261124T1000Z-20261124T1015Z.parquet"
			if m.Object != key {
				t.Fatalf("object = %s, want %s", m.Object, key)
			}
			rows, meta := e.readObject(t, key)
			e.compareRows(t, want, rows)

			data, err := e.store.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			stored := e.getManifest(t, key)
			if stored.Rows != int64(len(want)) || stored.Bytes != int64(len(data)) || stored.SHA256 != sha256Hex(data) ||
				*stored.MinLogID != slices.MinFunc(want, byID).ID || *stored.MaxLogID != slices.MaxFunc(want, byID).ID ||
				stored.HMACKeyID != e.prot.HMACKeyID() || stored.AEADKeyID != e.prot.AEADKeyID() ||
				stored.FieldEncryption != tt.mode || stored.Compression != tt.compression || stored.Partition != "dt=2026-11-24" ||
				stored.SchemaVersion != parquetlog.SchemaVersion || !stored.WindowStart.Equal(winStart) || !stored.WindowEnd.Equal(winEnd) {
				t.Errorf("manifest = %+v (object %d bytes, sha %s)", stored, len(data), sha256Hex(data))
			}
			if meta[parquetlog.MetaWindowStart] != "2026-11-24T10:00:00Z" || meta[parquetlog.MetaAEADKeyID] != e.prot.AEADKeyID() ||
				meta[parquetlog.MetaFieldEncryption] != tt.mode || meta[parquetlog.MetaGranularity] != manifest.GranularityDay {
				t.Errorf("parquet metadata = %v", meta)
			}
			if len(progress) < 2 || progress[len(progress)-1].Rows != int64(len(want)) || progress[len(progress)-1].Bytes != int64(len(data)) {
				t.Errorf("progress = %v", progress)
			}
			if tt.mode == export.PerRowGroup {
				assertCiphertextsSharedOnlyWithinRowGroups(t, rows, tt.rowGroupRows)
			} else {
				assertCiphertextsUnique(t, rows)
			}
		})
	}
}

func byID(a, b activitylog.Record) int {
	switch {
	case a.ID < b.ID:
		return -1
	case a.ID > b.ID:
		return 1
	}
	return 0
}

func assertCiphertextsUnique(t *testing.T, rows []parquetlog.Row) {
	t.Helper()
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[string(r.UserAgentEnc)] {
			t.Fatal("per-value mode repeated a ciphertext")
		}
		seen[string(r.UserAgentEnc)] = true
	}
}

func assertCiphertextsSharedOnlyWithinRowGroups(t *testing.T, rows []parquetlog.Row, groupRows int) {
	t.Helper()
	group := map[string]int{}
	shared := 0
	for i, r := range rows {
		g := i / groupRows
		if prev, ok := group[string(r.UserAgentEnc)]; ok {
			if prev != g {
				t.Fatalf("row %d reuses a ciphertext of row group %d in row group %d", i, prev, g)
			}
			shared++
		}
		group[string(r.UserAgentEnc)] = g
	}
	if shared == 0 {
		t.Error("per-rowgroup mode never shared a ciphertext")
	}
}

func TestNoClearSensitiveValueInAnyUploadedObject(t *testing.T) {
	truncate(t)
	ctx := context.Background()
	if _, err := synthetic.Load(ctx, db.DB, synthetic.Options{Rows: 2000, Seed: 5, Start: winStart, End: winEnd.Add(15 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	// Distinctive user ids, so that a leaked id would be found as text or as 8 bytes.
	insert(t, fixture{at: winStart.Add(time.Minute), user: u64(987654321012), ip: "2001:db8::beef", ua: "DistinctAgent/9.9 (leak-probe)"},
		fixture{at: winStart.Add(2 * time.Minute), email: str("probe.person@example.net"), ip: "203.0.113.77"})
	recs := mysqlRecords(t, winStart, winEnd.Add(15*time.Minute))
	// Uncompressed, so that any clear value would appear verbatim; and per-rowgroup, where the
	// fewest ciphertexts are produced.
	for _, mode := range []string{export.PerValue, export.PerRowGroup} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, envOpts{compression: "none", fieldEncryption: mode})
			e.exportRange(t, winStart, winEnd.Add(15*time.Minute))
			if _, err := e.exp.CompactWeek(ctx, e.cfg.Grid.WeekOf(winStart), winEnd.Add(15*time.Minute), nil); err != nil {
				t.Fatal(err)
			}
			needles := map[string]bool{}
			for _, r := range recs {
				needles[r.ClientIP] = true
				needles[r.UserAgent] = true
				if r.Email != nil {
					needles[*r.Email] = true
				}
			}
			keys := e.keys(t, "")
			if len(keys) < 6 {
				t.Fatalf("only %d objects: %v", len(keys), keys)
			}
			for _, k := range keys {
				data, err := e.store.Get(ctx, k)
				if err != nil {
					t.Fatal(err)
				}
				for n := range needles {
					if len(n) >= 7 && bytes.Contains(data, []byte(n)) {
						t.Errorf("%s contains the clear value %q", k, n)
					}
				}
				var be [8]byte
				id := uint64(987654321012)
				for i := 0; i < 8; i++ {
					be[7-i] = byte(id >> (8 * i))
				}
				le := bytes.Clone(be[:])
				slices.Reverse(le)
				if bytes.Contains(data, []byte(strconv.FormatUint(id, 10))) || bytes.Contains(data, be[:]) || bytes.Contains(data, le) {
					t.Errorf("%s contains the raw user id", k)
				}
			}
		})
	}
}

func TestReexportRewritesTheSameKeysWithTheSameRows(t *testing.T) {
	truncate(t)
	ctx := context.Background()
	if _, err := synthetic.Load(ctx, db.DB, synthetic.Options{Rows: 1500, Seed: 2, Start: winStart, End: winEnd.Add(15 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOpts{})
	first := e.exportRange(t, winStart, winEnd.Add(15*time.Minute))
	keysBefore := e.keys(t, "")
	rowsBefore, _ := e.readObject(t, first[0].Object)

	second := e.exportRange(t, winStart, winEnd.Add(15*time.Minute))
	keysAfter := e.keys(t, "")
	if !slices.Equal(keysBefore, keysAfter) || len(keysAfter) != 4 {
		t.Fatalf("objects before %v, after %v", keysBefore, keysAfter)
	}
	for i := range first {
		if first[i].Object != second[i].Object || first[i].Rows != second[i].Rows || *first[i].MinLogID != *second[i].MinLogID || *first[i].MaxLogID != *second[i].MaxLogID {
			t.Errorf("re-export manifest %d = %+v, first %+v", i, second[i], first[i])
		}
	}
	rowsAfter, _ := e.readObject(t, first[0].Object)
	e.compareRows(t, mysqlRecords(t, winStart, winEnd), rowsAfter)
	if len(rowsAfter) != len(rowsBefore) {
		t.Errorf("rows %d then %d", len(rowsBefore), len(rowsAfter))
	}
	if pending, _ := e.store.PendingUploads(ctx, ""); len(pending) != 0 {
		t.Errorf("pending uploads: %v", pending)
	}
}

func TestWindowsSplitAtMidnightAndWeeksInTheConfiguredZone(t *testing.T) {
	truncate(t)
	ctx := context.Background()
	// Seoul is UTC+9: local midnight of 2026-11-25 is 2026-11-24T15:00Z. A 2h grid window
	// 14:00Z-16:00Z crosses it and must give one file per local day.
	insert(t,
		fixture{at: ts("2026-11-24T14:00:00Z")},
		fixture{at: ts("2026-11-24T14:59:59.999999Z")},
		fixture{at: ts("2026-11-24T15:00:00Z")},
		fixture{at: ts("2026-11-24T15:30:00Z")},
		fixture{at: ts("2026-11-24T15:59:59Z")},
	)
	e := newEnv(t, envOpts{zone: "Asia/Seoul", window: 2 * time.Hour})
	ms, err := e.exp.ExportWindow(ctx, partition.Window{Start: ts("2026-11-24T14:00:00Z"), End: ts("2026-11-24T16:00:00Z")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		key  string
		rows int64
	}{
		{"logs/activity_log/daily/dt=2026-11-24/part-20261124T1400Z-20261124T1500Z.parquet", 2},
		{"logs/activity_log/daily/dt=2026-11-25/part-20261124T1500Z-20261124T1600Z.parquet", 3},
	}
	if len(ms) != len(want) {
		t.Fatalf("manifests = %+v", ms)
	}
	for i, w := range want {
		if ms[i].Object != w.key || ms[i].Rows != w.rows || ms[i].TimeZone != "Asia/Seoul" {
			t.Errorf("piece %d = %s with %d rows (%s), want %s with %d", i, ms[i].Object, ms[i].Rows, ms[i].TimeZone, w.key, w.rows)
		}
		rows, _ := e.readObject(t, w.key)
		if int64(len(rows)) != w.rows {
			t.Errorf("%s holds %d rows", w.key, len(rows))
		}
	}

	// 2026-11-29T15:00Z is Monday 00:00 in Seoul: the first instant of week 2026-W49 there.
	insert(t, fixture{at: ts("2026-11-29T14:59:59Z")}, fixture{at: ts("2026-11-29T15:00:00Z")})
	if _, err := e.exp.ExportWindow(ctx, partition.Window{Start: ts("2026-11-29T14:00:00Z"), End: ts("2026-11-29T16:00:00Z")}, nil); err != nil {
		t.Fatal(err)
	}
	w49 := partition.Week{Year: 2026, Week: 49}
	m, err := e.exp.CompactWeek(ctx, w49, ts("2026-11-29T16:00:00Z"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Object != "logs/activity_log/weekly/week=2026-W49/part-2026-W49.parquet" || m.Rows != 1 || !m.WindowStart.Equal(ts("2026-11-29T15:00:00Z")) {
		t.Errorf("week 49 manifest = %+v", m)
	}
}

func TestEmptyWindowWritesAnEmptyFileAndManifest(t *testing.T) {
	truncate(t)
	e := newEnv(t, envOpts{})
	ms, err := e.exp.ExportWindow(context.Background(), partition.Window{Start: winStart, End: winEnd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].Rows != 0 || ms[0].MinLogID != nil || ms[0].Bytes == 0 {
		t.Fatalf("manifests = %+v", ms)
	}
	rows, meta := e.readObject(t, ms[0].Object)
	if len(rows) != 0 || meta[parquetlog.MetaSchemaVersion] == "" {
		t.Errorf("empty file: %d rows, metadata %v", len(rows), meta)
	}
	if got := e.getManifest(t, ms[0].Object); got.Rows != 0 {
		t.Errorf("stored manifest rows = %d", got.Rows)
	}
}

func TestExportRejectsWindowsOffTheGrid(t *testing.T) {
	e := newEnv(t, envOpts{})
	for _, w := range []partition.Window{
		{Start: winStart.Add(time.Minute), End: winEnd.Add(time.Minute)},
		{Start: winStart, End: winEnd.Add(15 * time.Minute)},
	} {
		_, err := e.exp.ExportWindow(context.Background(), w, nil)
		if !errors.Is(err, partition.ErrInvalid) || !export.IsPermanent(err) {
			t.Errorf("window %s: err = %v, want permanent ErrInvalid", w, err)
		}
	}
}

func TestUnreachableS3IsRetryableAndLeavesNoObject(t *testing.T) {
	truncate(t)
	ctx := context.Background()
	if _, err := synthetic.Load(ctx, db.DB, synthetic.Options{Rows: 500, Seed: 1, Start: winStart, End: winEnd}); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOpts{})
	e.srv.Stop()
	_, err := e.exp.ExportWindow(ctx, partition.Window{Start: winStart, End: winEnd}, nil)
	if err == nil || export.IsPermanent(err) {
		t.Fatalf("err = %v, want a retryable error", err)
	}
	if err := e.srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if keys := e.keys(t, ""); len(keys) != 0 {
		t.Errorf("objects after a failed export: %v", keys)
	}
	// The retry succeeds.
	if _, err := e.exp.ExportWindow(ctx, partition.Window{Start: winStart, End: winEnd}, nil); err != nil {
		t.Fatal(err)
	}
}

func TestErrorMidStreamAbortsTheMultipartUpload(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: loads 120k rows")
	}
	truncate(t)
	ctx := context.Background()
	// Enough rows that MySQL is still sending when the fault comes: the socket buffers on
	// loopback hold several MB of the result.
	if _, err := synthetic.Load(ctx, db.DB, synthetic.Options{Rows: 120000, Seed: 4, Start: winStart, End: winEnd}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		inject func(e *env, cancel context.CancelFunc) error
		check  func(t *testing.T, err error)
		// restart brings back what inject stopped, before the checks of what S3 holds.
		restart func(e *env) error
	}{
		{
			name:   "cancelled",
			inject: func(_ *env, cancel context.CancelFunc) error { cancel(); return nil },
			check: func(t *testing.T, err error) {
				if !errors.Is(err, context.Canceled) {
					t.Errorf("err = %v, want context.Canceled", err)
				}
			},
		},
		{
			name: "mysql connection killed",
			inject: func(*env, context.CancelFunc) error {
				// Every other connection to the test database: the reader's, and idle ones of
				// the pool, which the pool replaces.
				rows, err := db.DB.QueryContext(ctx, `SELECT id FROM information_schema.PROCESSLIST WHERE db = DATABASE() AND id <> CONNECTION_ID()`)
				if err != nil {
					return err
				}
				var ids []int64
				for rows.Next() {
					var id int64
					if err := rows.Scan(&id); err != nil {
						return err
					}
					ids = append(ids, id)
				}
				rows.Close()
				if len(ids) == 0 {
					return errors.New("no reader connection to kill")
				}
				for _, id := range ids {
					if _, err := db.DB.ExecContext(ctx, fmt.Sprintf("KILL %d", id)); err != nil {
						return err
					}
				}
				return nil
			},
			check: func(t *testing.T, err error) {
				if export.IsPermanent(err) || !strings.Contains(err.Error(), "read window") {
					t.Errorf("err = %v, want a retryable read error", err)
				}
			},
		},
		{
			// The upload fails first; the encoder then fails on the closed pipe. The error
			// reported must be the S3 one, which decides retryability, not that echo.
			name:   "s3 stopped",
			inject: func(e *env, _ context.CancelFunc) error { e.srv.Stop(); return nil },
			check: func(t *testing.T, err error) {
				var s3err *s3store.Error
				if !errors.As(err, &s3err) || export.IsPermanent(err) {
					t.Errorf("err = %v, want the retryable S3 error of the upload", err)
				}
			},
			restart: func(e *env) error { return e.srv.Start(context.Background()) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Uncompressed with small batches, so several parts are uploaded before the fault.
			e := newEnv(t, envOpts{compression: "none", rowGroupRows: 2000})
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			injected := false
			var injectErr error
			_, err := e.exp.ExportWindow(cctx, partition.Window{Start: winStart, End: winEnd}, func(p export.Progress) {
				if !injected && p.Bytes > s3store.MinPartSize+1<<20 {
					injected = true
					injectErr = tt.inject(e, cancel)
				}
			})
			if injectErr != nil {
				t.Fatal(injectErr)
			}
			if !injected {
				t.Fatal("the export finished before the fault could be injected")
			}
			if err == nil {
				t.Fatal("export succeeded despite the fault")
			}
			tt.check(t, err)
			if tt.restart != nil {
				if err := tt.restart(e); err != nil {
					t.Fatal(err)
				}
			}
			if keys := e.keys(t, ""); len(keys) != 0 {
				t.Errorf("objects visible after the failed export: %v", keys)
			}
			// A stopped server cannot take the abort; its parts stay pending, never visible (a
			// lifecycle rule reclaims them on AWS, see docs/reliability.md).
			if pending, err := e.store.PendingUploads(ctx, ""); err != nil || (tt.restart == nil && len(pending) != 0) {
				t.Errorf("multipart uploads left: %v (%v)", pending, err)
			}
		})
	}
}

func TestMissingOrCorruptKeyringIsPermanent(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.json")
	if err := os.WriteFile(corrupt, []byte(`{"hmac_keys": [`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "missing.json"), corrupt} {
		_, err := protect.LoadKeyring(path)
		if err == nil || !export.IsPermanent(err) || !errors.Is(err, protect.ErrKeyring) {
			t.Errorf("LoadKeyring(%s) err = %v, want a permanent keyring error", filepath.Base(path), err)
		}
	}
}

func TestKeyRotationKeepsOldFilesReadableAndChangesPseudonyms(t *testing.T) {
	truncate(t)
	insert(t, fixture{at: winStart, user: u64(5), ip: "198.51.100.5"}, fixture{at: winEnd, user: u64(5), ip: "198.51.100.6"})
	kr, err := protect.GenerateKeyring()
	if err != nil {
		t.Fatal(err)
	}
	e1 := newEnv(t, envOpts{keyring: kr})
	m1 := e1.exportRange(t, winStart, winEnd)[0]
	if err := kr.Rotate(); err != nil {
		t.Fatal(err)
	}
	e2 := newEnv(t, envOpts{keyring: kr, srv: e1.srv})
	m2 := e2.exportRange(t, winEnd, winEnd.Add(15*time.Minute))[0]
	if m1.AEADKeyID == m2.AEADKeyID || m1.HMACKeyID == m2.HMACKeyID {
		t.Fatalf("key ids did not change: %s/%s then %s/%s", m1.HMACKeyID, m1.AEADKeyID, m2.HMACKeyID, m2.AEADKeyID)
	}
	// The rotated keyring still opens the old file.
	old, _ := e2.readObject(t, m1.Object)
	if ip, err := e2.prot.Open(export.FieldClientIP, old[0].ClientIPEnc); err != nil || string(ip) != "198.51.100.5" {
		t.Errorf("old file under rotated keyring: %q, %v", ip, err)
	}
	cur, _ := e2.readObject(t, m2.Object)
	if *old[0].UserPseudonym == *cur[0].UserPseudonym {
		t.Error("pseudonym of the same user unchanged across an HMAC key rotation")
	}
	// Pseudonyms are stable under one key, across files and runs.
	again := e2.exportRange(t, winEnd, winEnd.Add(15*time.Minute))[0]
	rerun, _ := e2.readObject(t, again.Object)
	if *rerun[0].UserPseudonym != *cur[0].UserPseudonym {
		t.Error("pseudonym changed between two runs under the same key")
	}
	// A week compacted across the rotation names both keys.
	wm, err := e2.exp.CompactWeek(context.Background(), e2.cfg.Grid.WeekOf(winStart), winEnd.Add(15*time.Minute), nil)
	if err != nil {
		t.Fatal(err)
	}
	if wm.AEADKeyID != m1.AEADKeyID+","+m2.AEADKeyID {
		t.Errorf("weekly aead key ids = %q", wm.AEADKeyID)
	}
}
