package export_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/logetl/logetl/internal/export"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/synthetic"
)

// Writers outside Temporal (`logetl export`, `verify --repair`) may hit the window the schedule
// is exporting: they take turns on the object key, so a manifest always describes the object
// next to it. The test plays the other writer by holding the key's lock itself.
func TestWritersOfOneObjectTakeTurns(t *testing.T) {
	truncate(t)
	ctx := context.Background()
	if _, err := synthetic.Load(ctx, db.DB, synthetic.Options{Rows: 500, Seed: 7, Start: winStart, End: winEnd}); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOpts{})
	w := partition.Window{Start: winStart, End: winEnd}
	key := e.cfg.Layout.DailyKey(e.cfg.Grid.Pieces(w)[0])

	holder, err := db.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	lock := func() {
		var got int
		if err := holder.QueryRowContext(ctx, "SELECT GET_LOCK(?, 5)", export.LockName(key)).Scan(&got); err != nil || got != 1 {
			t.Fatalf("take the lock: %v %d", err, got)
		}
	}
	unlock := func() {
		if _, err := holder.ExecContext(ctx, "SELECT RELEASE_LOCK(?)", export.LockName(key)); err != nil {
			t.Fatal(err)
		}
	}
	defer func(old int) { *export.LockWaitSeconds = old }(*export.LockWaitSeconds)

	t.Run("a writer waits while the other holds the key, then writes", func(t *testing.T) {
		*export.LockWaitSeconds = 30
		lock()
		done := make(chan error, 1)
		go func() {
			_, err := e.exp.ExportWindow(ctx, w, nil)
			done <- err
		}()
		select {
		case err := <-done:
			unlock()
			t.Fatalf("export finished (err %v) while another writer held the object key", err)
		case <-time.After(time.Second):
		}
		if _, err := e.store.Get(ctx, key); err == nil {
			t.Error("the waiting writer touched the object before it had the key")
		}
		unlock()
		if err := <-done; err != nil {
			t.Fatalf("export after the other writer finished: %v", err)
		}
		rows, _ := e.readObject(t, key)
		e.compareRows(t, mysqlRecords(t, winStart, winEnd), rows)
	})

	t.Run("a writer that waits too long gets a retryable busy error", func(t *testing.T) {
		*export.LockWaitSeconds = 1
		lock()
		defer unlock()
		_, err := e.exp.ExportWindow(ctx, w, nil)
		if !errors.Is(err, export.ErrBusy) || export.IsPermanent(err) {
			t.Fatalf("export while another writer holds the key: %v (permanent %v), want retryable ErrBusy", err, export.IsPermanent(err))
		}
	})
}
