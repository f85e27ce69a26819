package activitylog_test

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/logetl/logetl/internal/activitylog"
	"github.com/logetl/logetl/internal/testenv"
)

var db *testenv.Database

func TestMain(m *testing.M) { testenv.RunWithDatabase(m, "activitylog", &db) }

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func insert(t *testing.T, at time.Time, user *uint64, email *string) uint64 {
	t.Helper()
	r, err := db.DB.ExecContext(context.Background(), `INSERT INTO activity_log
(occurred_at, request_id, user_id, action, method, route, path, status, post_id, client_ip, user_agent, email, message)
VALUES (?, 'req', ?, 'post.view', 'GET', '/blog/:id/', '/blog/7/', 200, 7, '10.0.0.1', 'ua/1', ?, 'GET content detail success')`, at, user, email)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := r.LastInsertId()
	return uint64(id)
}

func readAll(t *testing.T, start, end time.Time, batch int) []activitylog.Record {
	t.Helper()
	r, err := activitylog.OpenWindow(context.Background(), db.DB, start, end)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	buf := make([]activitylog.Record, batch)
	var out []activitylog.Record
	for {
		n, err := r.Next(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatal("Next returned 0 rows without an error")
		}
	}
}

func TestWindowReaderStreamsTheHalfOpenWindowInOccurredAtThenIDOrder(t *testing.T) {
	if err := db.Truncate(context.Background(), "activity_log"); err != nil {
		t.Fatal(err)
	}
	start, end := ts("2026-11-24T10:00:00Z"), ts("2026-11-24T10:15:00Z")
	uid := uint64(42)
	email := "someone@example.com"
	before := insert(t, start.Add(-time.Microsecond), nil, nil)
	// Inserted out of time order: the reader must return them by occurred_at, then id.
	late := insert(t, ts("2026-11-24T10:10:00Z"), &uid, nil)
	atStart := insert(t, start, nil, &email)
	same1 := insert(t, ts("2026-11-24T10:05:00.123456Z"), &uid, nil)
	same2 := insert(t, ts("2026-11-24T10:05:00.123456Z"), nil, nil)
	lastIn := insert(t, end.Add(-time.Microsecond), nil, nil)
	atEnd := insert(t, end, nil, nil)

	for _, batch := range []int{1, 2, 100} {
		t.Run(fmt.Sprintf("batch %d", batch), func(t *testing.T) {
			got := readAll(t, start, end, batch)
			want := []uint64{atStart, same1, same2, late, lastIn}
			if len(got) != len(want) {
				t.Fatalf("got %d rows, want %d (ids %v)", len(got), len(want), want)
			}
			for i, id := range want {
				if got[i].ID != id {
					t.Errorf("row %d id = %d, want %d", i, got[i].ID, id)
				}
				if got[i].ID == before || got[i].ID == atEnd {
					t.Errorf("row %d outside the window was read", got[i].ID)
				}
			}
			if !got[0].OccurredAt.Equal(start) || got[0].OccurredAt.Location() != time.UTC {
				t.Errorf("first occurred_at = %v, want %v in UTC", got[0].OccurredAt, start)
			}
			if got[0].Email == nil || *got[0].Email != email || got[0].UserID != nil {
				t.Errorf("first row email/user = %v/%v", got[0].Email, got[0].UserID)
			}
			if got[1].UserID == nil || *got[1].UserID != uid || got[1].Email != nil {
				t.Errorf("second row user/email = %v/%v", got[1].UserID, got[1].Email)
			}
			if !got[1].OccurredAt.Equal(ts("2026-11-24T10:05:00.123456Z")) {
				t.Errorf("microseconds lost: %v", got[1].OccurredAt)
			}
			r := got[1]
			if r.RequestID != "req" || r.Action != "post.view" || r.Method != "GET" || r.Route != "/blog/:id/" ||
				r.Path != "/blog/7/" || r.Status != 200 || r.PostID == nil || *r.PostID != 7 || r.ClientIP != "10.0.0.1" ||
				r.UserAgent != "ua/1" || r.Message != "GET content detail success" {
				t.Errorf("fields = %+v", r)
			}
		})
	}
}

func TestWindowReaderOfAnEmptyWindowEndsAtOnce(t *testing.T) {
	got := readAll(t, ts("2001-01-01T00:00:00Z"), ts("2001-01-01T00:15:00Z"), 10)
	if len(got) != 0 {
		t.Errorf("got %d rows from an empty window", len(got))
	}
}

func TestCountWindowsGroupsByTheEpochGrid(t *testing.T) {
	ctx := context.Background()
	if err := db.Truncate(ctx, "activity_log"); err != nil {
		t.Fatal(err)
	}
	for _, at := range []string{
		"2026-11-24T09:59:59.999999Z", // before the range
		"2026-11-24T10:00:00Z", "2026-11-24T10:14:59.999999Z", "2026-11-24T10:07:00Z",
		"2026-11-24T10:30:00Z",
		"2026-11-24T11:00:00Z", // at the range end: out
	} {
		insert(t, ts(at), nil, nil)
	}
	got, err := activitylog.CountWindows(ctx, db.DB, ts("2026-11-24T10:00:00Z"), ts("2026-11-24T11:00:00Z"), 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want := []activitylog.WindowCount{{Start: ts("2026-11-24T10:00:00Z"), Rows: 3}, {Start: ts("2026-11-24T10:30:00Z"), Rows: 1}}
	if len(got) != len(want) {
		t.Fatalf("counts = %v, want %v", got, want)
	}
	for i := range want {
		if !got[i].Start.Equal(want[i].Start) || got[i].Rows != want[i].Rows {
			t.Errorf("count %d = %v, want %v", i, got[i], want[i])
		}
	}
	// An unaligned range clips its edge windows.
	got, err = activitylog.CountWindows(ctx, db.DB, ts("2026-11-24T10:05:00Z"), ts("2026-11-24T10:35:00Z"), 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Rows != 2 || got[1].Rows != 1 {
		t.Errorf("clipped counts = %v, want 2 then 1", got)
	}
}
