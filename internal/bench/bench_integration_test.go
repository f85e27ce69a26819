//go:build integration

package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/logetl/logetl/internal/testenv"
)

// childEnv makes the test binary an export child instead of running tests, so that the bench
// test measures a real separate process as logetl-bench does.
const childEnv = "LOGETL_BENCH_TEST_EXPORT_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		if err := RunChild(context.Background(), os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func testChild(ctx context.Context) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=1")
	return cmd
}

// The whole bench at a tiny size against the real MariaDB and versitygw: every figure of both
// tables is there, consistent and sane (no timing is asserted, only that things were measured).
func TestRunMeasuresEveryFigure(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	var log bytes.Buffer
	rep, err := Run(ctx, Options{
		MySQLDSN: testenv.MySQLServerDSN(), Database: "logetl_test_bench_" + hex.EncodeToString(rnd[:]),
		Rows: 2000, RowsLarge: 6000, WideRows: 1500, PurgeRows: 1200, Seed: 5,
		Settings:    ExportSettings{RowGroupRows: 500},
		APIDuration: time.Second, APIConcurrency: 2,
		ExportChild: testChild, Log: &log,
	})
	if err != nil {
		t.Fatalf("bench: %v\nlog:\n%s", err, log.String())
	}
	if len(rep.Tables) != 2 {
		t.Fatalf("%d tables", len(rep.Tables))
	}
	for i, want := range []int64{2000, 1500} {
		tr := rep.Tables[i]
		if tr.Extract.Rows != want || tr.Reader.Rows != want || tr.Export.Rows != want || tr.ExportNoS3.Rows != want || tr.Memory.Small.Rows != want {
			t.Errorf("%s rows: %+v", tr.Table, tr)
		}
		if !(tr.ExportRatio > 0) || !(tr.Export.BytesPerRow > 0) || !(tr.Memory.Small.PeakRSSMiB > 0) {
			t.Errorf("%s: ratio %v, bytes/row %v, RSS %v", tr.Table, tr.ExportRatio, tr.Export.BytesPerRow, tr.Memory.Small.PeakRSSMiB)
		}
	}
	if rep.Tables[0].Memory.Large.Rows != 6000 {
		t.Errorf("large child rows %d", rep.Tables[0].Memory.Large.Rows)
	}
	p := rep.Purge
	for name, r := range map[string]PurgeRun{"purge": p.Purge, "no pause": p.PurgeNoPause, "bare": p.Bare} {
		if r.Rows != 1200 || !(r.RowsPerSec > 0) || !(r.LongestChunkMs > 0) {
			t.Errorf("%s: %+v", name, r)
		}
	}
	if len(rep.Size.Variants) != 6 || !(rep.Size.Legacy.BytesPerRow > 0) {
		t.Errorf("size: %+v", rep.Size)
	}
	if rep.API.API.Requests == 0 || rep.API.Raw.Requests == 0 {
		t.Errorf("api: %+v", rep.API)
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"activity_log, typed (documented)", "wide_log, spec-driven", "bare DELETE", "botclient"} {
		if !strings.Contains(table.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, table.String())
		}
	}
}

// A mistyped --bench-db must never cost real data: a database with tables but no bench marker
// is refused, and stays.
func TestDropDatabaseRefusesDatabasesNotMadeByTheBench(t *testing.T) {
	ctx := context.Background()
	other, err := testenv.NewDatabase(ctx, "bench_other")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Drop(ctx)
	dsn, err := benchDSN(testenv.MySQLServerDSN(), other.Name)
	if err != nil {
		t.Fatal(err)
	}
	if err := dropDatabase(ctx, dsn); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("dropDatabase of a foreign database: %v, want a refusal", err)
	}
	var n int
	if err := other.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM activity_log").Scan(&n); err != nil {
		t.Fatalf("the foreign database is damaged after the refusal: %v", err)
	}
	if err := writeMarker(ctx, other.DB, map[string]string{"state": "loading"}); err != nil {
		t.Fatal(err)
	}
	if err := dropDatabase(ctx, dsn); err != nil {
		t.Fatalf("dropDatabase of a bench database: %v", err)
	}
}
