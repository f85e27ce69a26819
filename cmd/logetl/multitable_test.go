//go:build integration

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/tablespec"
	"github.com/logetl/logetl/internal/testenv"
	"github.com/logetl/logetl/worker"
)

const orderEventsDDL = "CREATE TABLE order_events (" +
	"id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, " +
	"happened_at DATETIME(3) NOT NULL, " +
	"customer_email VARCHAR(254) NOT NULL, " +
	"amount DECIMAL(12,2) NOT NULL, " +
	"payload JSON NULL, " +
	"INDEX happened (happened_at, id))"

// Two tables of two databases, declared in one spec file, run on their own schedules in one
// worker: both reach the lake; when one's MySQL table disappears, its windows fail (listed by
// logetl status with their UI links) while the other table goes on exporting.
func TestTwoTablesOfTwoDatabasesRunOnTheirOwnSchedules(t *testing.T) {
	e := newCLIEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	orders, err := testenv.NewEmptyDatabase(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = orders.Drop(context.Background()) })
	if _, err := orders.DB.ExecContext(ctx, orderEventsDDL); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ORDERS_DSN", orders.DSN)
	specs := strings.Replace(string(tablespec.BuiltinYAML()), "tables:\n", `sources:
  orders: {dsn_env: ORDERS_DSN}
tables:
  - name: order_events
    mysql_table: order_events
    source: orders
    time_column: happened_at
    id_column: id
    columns:
      - {name: id, type: bigint unsigned, treatment: clear}
      - {name: happened_at, type: datetime(3), treatment: clear}
      - {name: customer_email, type: varchar(254), treatment: pseudonym, domain: email}
      - {name: amount, type: "decimal(12,2)", treatment: clear}
      - {name: payload, type: json, nullable: true, treatment: seal}
`, 1)
	specPath := filepath.Join(t.TempDir(), "tables.yaml")
	if err := os.WriteFile(specPath, []byte(specs), 0o644); err != nil {
		t.Fatal(err)
	}

	tmp, err := testenv.StartTemporal(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tmp.Stop() })
	tc, err := tmp.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()

	flags := e.flags()
	flags.TablesFile = specPath
	flags.Window, flags.SafetyLag = time.Minute, 2*time.Second
	temporalCfg := config.Temporal{TemporalAddress: tmp.Address, TemporalNamespace: tmp.Namespace, TaskQueue: "multi-table", TemporalUIURL: "http://ui.test"}
	// Rows from two hours ago that no lake holds (an existing database, a new lake): the
	// worker names the gap at start and backfills it.
	old := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Minute)
	for i := 0; i < 3; i++ {
		if _, err := e.db.DB.Exec(`INSERT INTO activity_log (occurred_at, request_id, action, method, route, path, status, client_ip, user_agent, message)
VALUES (?, 'old', 'post.view', 'GET', '/blog/:id/', '/blog/1/', 200, '192.0.2.9', 'ua', 'm')`, old.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	var logs syncBuffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(io.MultiWriter(&logs, os.Stderr), nil)))
	defer slog.SetDefault(prev)

	w := &workerCmd{pipelineFlags: flags, Temporal: temporalCfg,
		APIClient: config.APIClient{APIURL: "http://127.0.0.1:1"},
		Schedules: config.Schedules{ScheduleProfile: "dev", BotSignupCount: 1, BotActivityCount: 1},
		Worker:    config.Worker{BackfillGaps: true}}
	wctx, stopWorker := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	defer func() {
		stopWorker()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	}()

	waitFor := func(what string, timeout time.Duration, ok func() (bool, string)) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for {
			good, detail := ok()
			if good {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %s (%s)", what, timeout, detail)
			}
			select {
			case <-done:
				t.Fatalf("the worker stopped while waiting for %s", what)
			case <-time.After(time.Second):
			}
		}
	}
	waitFor("the schedules", time.Minute, func() (bool, string) {
		_, err := tc.ScheduleClient().GetHandle(ctx, worker.ScheduleID(worker.ScheduleExport, "order_events")).Describe(ctx)
		return err == nil, fmt.Sprint(err)
	})
	for _, id := range []string{worker.ScheduleBotSignup, worker.ScheduleBotActivity} { // no API here
		if err := tc.ScheduleClient().GetHandle(ctx, id).Pause(ctx, client.SchedulePauseOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	insert := func(at time.Time) {
		t.Helper()
		if _, err := e.db.DB.Exec(`INSERT INTO activity_log (occurred_at, request_id, action, method, route, path, status, client_ip, user_agent, message)
VALUES (?, 'r', 'post.view', 'GET', '/blog/:id/', '/blog/1/', 200, '192.0.2.9', 'ua', 'm')`, at); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now().UTC()
	insert(start)
	if _, err := orders.DB.Exec(`INSERT INTO order_events (happened_at, customer_email, amount, payload) VALUES (?, 'ann@example.com', 12.34, '{"sku": "A-1"}')`, start); err != nil {
		t.Fatal(err)
	}
	inLake := func(table string) int {
		n := 0
		for _, k := range listKeys(t, e.srv, "logs/"+table+"/daily/") {
			if strings.HasSuffix(k, ".parquet") {
				n++
			}
		}
		return n
	}
	oldKey := "logs/activity_log/daily/dt=" + old.Format(time.DateOnly) + "/part-" + partition.Window{Start: old, End: old.Add(time.Minute)}.String() + ".parquet"
	waitFor("the gap backfilled", 2*time.Minute, func() (bool, string) {
		return slices.Contains(listKeys(t, e.srv, "logs/activity_log/daily/"), oldKey), logs.String()
	})
	if want := fmt.Sprintf("rows in MySQL the lake has never exported: backfilling them\" table=activity_log rows=3 from=%s", old.Format(time.RFC3339)); !strings.Contains(logs.String(), want) {
		t.Fatalf("no start-up line %q:\n%s", want, logs.String())
	}
	waitFor("both tables' first windows in the lake", 3*time.Minute, func() (bool, string) {
		a, o := inLake("activity_log"), inLake("order_events")
		return a > 0 && o > 0, fmt.Sprintf("activity_log %d files, order_events %d", a, o)
	})

	// order_events loses its MySQL table; activity_log keeps getting rows.
	if _, err := orders.DB.Exec("DROP TABLE order_events"); err != nil {
		t.Fatal(err)
	}
	before := inLake("activity_log")
	insert(time.Now().UTC())
	var st []TableStatus
	waitFor("activity_log exporting on, order_events failing with UI links", 4*time.Minute, func() (bool, string) {
		var out bytes.Buffer
		s := &statusCmd{pipelineFlags: flags, Temporal: temporalCfg, MaxLag: time.Hour, JSON: true, stdout: &out}
		_ = s.Run(ctx) // order_events' MySQL side is gone: its row says so
		st = nil
		if err := json.Unmarshal(out.Bytes(), &st); err != nil {
			return false, err.Error() + ": " + out.String()
		}
		failing := 0
		for _, s := range st {
			if s.Table == "order_events" {
				for _, f := range s.Failing {
					if strings.HasPrefix(f.UIURL, "http://ui.test/namespaces/default/workflows/"+url.PathEscape("export/order_events/")) {
						failing++
					}
				}
			}
		}
		return inLake("activity_log") > before && failing > 0, out.String()
	})
	for _, s := range st {
		if s.Table == "activity_log" && (len(s.Failing) > 0 || s.LagSeconds == nil || s.LagExceeded) {
			t.Fatalf("activity_log is hurt by the other table: %+v", s)
		}
		if s.Table == "activity_log" && len(s.Errors) > 0 {
			t.Fatalf("status could not read all of activity_log's state: %v", s.Errors)
		}
	}
}
