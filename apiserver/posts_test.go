//go:build integration

package apiserver_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCreatePostNeedsALoginAndValidInput(t *testing.T) {
	u := newUser(t, api)
	before := time.Now().UTC().Truncate(time.Microsecond)
	r := expect(t, api.do(t, "POST", "/blog/create/", map[string]string{"title": "첫 번째 글", "body": "본문입니다"}, bearer(u.Access)), http.StatusCreated)
	after := time.Now().UTC()
	var p post
	r.JSON(t, &p)
	if p.ID == 0 || p.Title != "첫 번째 글" || p.Body != "본문입니다" || p.Views != 0 || p.User != u.ID || p.CreatedAt != p.UpdatedAt {
		t.Fatalf("post %s", r.Body)
	}
	row := expectRow(t, r.RequestID, wantRow{Action: "post.create", User: u.ID, Post: p.ID, Method: "POST", Route: "/blog/create/",
		Path: "/blog/create/", Status: 201, Message: "POST content create success"})
	// occurred_at is UTC now at microsecond precision, the same instant as the post's created_at.
	if row.OccurredAt.Before(before) || row.OccurredAt.After(after) || row.OccurredAt.Nanosecond()%1000 != 0 {
		t.Fatalf("occurred_at %v not within [%v, %v] at µs precision", row.OccurredAt, before, after)
	}
	if created, _ := time.Parse(time.RFC3339Nano, p.CreatedAt); !created.Equal(row.OccurredAt) {
		t.Fatalf("created_at %s != occurred_at %v", p.CreatedAt, row.OccurredAt)
	}

	expectDetail(t, api.do(t, "POST", "/blog/create/", map[string]string{"title": "t", "body": "b"}), http.StatusUnauthorized,
		"Authentication credentials were not provided.")
	for _, tc := range []struct {
		name   string
		body   any
		fields []string
	}{
		{"no title", map[string]string{"body": "b"}, []string{"title"}},
		{"blank title", map[string]string{"title": "  ", "body": "b"}, []string{"title"}},
		{"title of 101 characters", map[string]string{"title": strings.Repeat("가", 101), "body": "b"}, []string{"title"}},
		{"no body", map[string]string{"title": "t"}, []string{"body"}},
		{"wrong types", map[string]any{"title": []string{"t"}, "body": map[string]int{"a": 1}}, []string{"title", "body"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := api.do(t, "POST", "/blog/create/", tc.body, bearer(u.Access))
			expectFieldErrors(t, r, tc.fields...)
			expectNoRows(t, r.RequestID)
		})
	}
	if n := count(t, "SELECT COUNT(*) FROM posts WHERE user_id = ?", u.ID); n != 1 {
		t.Fatalf("user has %d posts, want 1", n)
	}
}

func TestPostTextIsStoredVerbatim(t *testing.T) {
	u := newUser(t, api)
	for _, text := range []string{
		"'; DROP TABLE posts; --",
		`" OR "1"="1`,
		`1; DELETE FROM users WHERE 1=1 /*`,
		`\'; SELECT SLEEP(10); -- \\`,
		"UNION SELECT password_hash FROM users",
		"한국어 제목입니다 😀",
		"  leading and trailing spaces  ",
		"<script>alert('x')</script> & %s %d {{.}}",
		"줄바꿈\n탭\t끝",
		strings.Repeat("가", 100),
	} {
		t.Run(text[:min(len(text), 12)], func(t *testing.T) {
			body := "본문: " + text + "\r\n" + text
			p := newPost(t, api, u, text, body)
			var got post
			expect(t, api.do(t, "GET", "/blog/"+itoa(p.ID)+"/", nil), http.StatusOK).JSON(t, &got)
			if got.Title != text || got.Body != body {
				t.Fatalf("read back %q / %q", got.Title, got.Body)
			}
			var dbTitle, dbBody string
			if err := testDB.DB.QueryRow("SELECT title, body FROM posts WHERE id = ?", p.ID).Scan(&dbTitle, &dbBody); err != nil {
				t.Fatal(err)
			}
			if dbTitle != text || dbBody != body {
				t.Fatalf("stored %q / %q", dbTitle, dbBody)
			}
		})
	}
	if count(t, "SELECT COUNT(*) FROM users") == 0 {
		t.Fatal("users table emptied")
	}
}

func TestViewingAPostCountsTheViewAndLogsIt(t *testing.T) {
	u := newUser(t, api)
	p := newPost(t, api, u, "views", "b")
	path := "/blog/" + itoa(p.ID) + "/"
	var got post
	r := expect(t, api.do(t, "GET", path, nil), http.StatusOK)
	r.JSON(t, &got)
	if got.Views != 1 {
		t.Fatalf("views %d after the first view", got.Views)
	}
	expectRow(t, r.RequestID, wantRow{Action: "post.view", Post: p.ID, Method: "GET", Route: "/blog/:id/", Path: path, Status: 200,
		Message: "GET content view success"})
	r = expect(t, api.do(t, "GET", path, nil, bearer(u.Access)), http.StatusOK)
	r.JSON(t, &got)
	if got.Views != 2 {
		t.Fatalf("views %d after the second view", got.Views)
	}
	expectRow(t, r.RequestID, wantRow{Action: "post.view", User: u.ID, Post: p.ID, Method: "GET", Route: "/blog/:id/", Path: path, Status: 200})
	// A bad token does not stop a public read; the viewer is just anonymous.
	r = expect(t, api.do(t, "GET", path, nil, bearer("garbage")), http.StatusOK)
	expectRow(t, r.RequestID, wantRow{Action: "post.view", Post: p.ID, Method: "GET", Route: "/blog/:id/", Path: path, Status: 200})

	for _, missing := range []string{"/blog/999999999/", "/blog/0/", "/blog/abc/", "/blog/-1/", "/blog/99999999999999999999999/"} {
		r := api.do(t, "GET", missing, nil)
		expectDetail(t, r, http.StatusNotFound, "Not found.")
		expectNoRows(t, r.RequestID)
	}
}

func TestOnlyTheOwnerUpdatesAPost(t *testing.T) {
	owner := newUser(t, api)
	other := newUser(t, api)
	p := newPost(t, api, owner, "원래 제목", "원래 본문")
	path := "/blog/" + itoa(p.ID) + "/"

	var got post
	r := expect(t, api.do(t, "PUT", path, map[string]string{"title": "바뀐 제목", "body": "바뀐 본문"}, bearer(owner.Access)), http.StatusOK)
	r.JSON(t, &got)
	if got.Title != "바뀐 제목" || got.Body != "바뀐 본문" || got.ID != p.ID || got.CreatedAt != p.CreatedAt || got.UpdatedAt <= p.UpdatedAt {
		t.Fatalf("after PUT %s (was %+v)", r.Body, p)
	}
	expectRow(t, r.RequestID, wantRow{Action: "post.update", User: owner.ID, Post: p.ID, Method: "PUT", Route: "/blog/:id/", Path: path,
		Status: 200, Message: "PUT content update success"})

	r = expect(t, api.do(t, "PATCH", path, map[string]string{"title": "패치"}, bearer(owner.Access)), http.StatusOK)
	r.JSON(t, &got)
	if got.Title != "패치" || got.Body != "바뀐 본문" {
		t.Fatalf("after PATCH %s", r.Body)
	}
	expectRow(t, r.RequestID, wantRow{Action: "post.update", User: owner.ID, Post: p.ID, Method: "PATCH", Route: "/blog/:id/", Path: path,
		Status: 200, Message: "PATCH content update success"})

	for _, tc := range []struct {
		name   string
		method string
		path   string
		body   any
		opts   []reqOpt
		status int
		detail string
		fields []string
	}{
		{"anonymous", "PUT", path, map[string]string{"title": "x", "body": "y"}, nil, 401, "Authentication credentials were not provided.", nil},
		{"another user's PUT", "PUT", path, map[string]string{"title": "x", "body": "y"}, []reqOpt{bearer(other.Access)}, 403, "You do not have permission to perform this action.", nil},
		{"another user's PATCH", "PATCH", path, map[string]string{"title": "x"}, []reqOpt{bearer(other.Access)}, 403, "You do not have permission to perform this action.", nil},
		{"another user's invalid PUT: permission before validation", "PUT", path, `{"title": 5`, []reqOpt{bearer(other.Access)}, 403, "You do not have permission to perform this action.", nil},
		{"missing post", "PUT", "/blog/999999999/", map[string]string{"title": "x", "body": "y"}, []reqOpt{bearer(owner.Access)}, 404, "Not found.", nil},
		{"missing post, invalid body", "PUT", "/blog/999999999/", "{}", []reqOpt{bearer(owner.Access)}, 404, "Not found.", nil},
		{"PUT needs both fields", "PUT", path, map[string]string{"title": "x"}, []reqOpt{bearer(owner.Access)}, 400, "", []string{"body"}},
		{"PATCH title too long", "PATCH", path, map[string]string{"title": strings.Repeat("x", 101)}, []reqOpt{bearer(owner.Access)}, 400, "", []string{"title"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := api.do(t, tc.method, tc.path, tc.body, tc.opts...)
			if tc.fields != nil {
				expectFieldErrors(t, r, tc.fields...)
			} else {
				expectDetail(t, r, tc.status, tc.detail)
			}
			expectNoRows(t, r.RequestID)
		})
	}
	var title, body string
	if err := testDB.DB.QueryRow("SELECT title, body FROM posts WHERE id = ?", p.ID).Scan(&title, &body); err != nil {
		t.Fatal(err)
	}
	if title != "패치" || body != "바뀐 본문" {
		t.Fatalf("refused updates changed the post: %q %q", title, body)
	}
}

func TestOnlyTheOwnerDeletesAPost(t *testing.T) {
	owner := newUser(t, api)
	other := newUser(t, api)
	p := newPost(t, api, owner, "delete me", "b")
	path := "/blog/" + itoa(p.ID) + "/"

	expectDetail(t, api.do(t, "DELETE", path, nil), http.StatusUnauthorized, "Authentication credentials were not provided.")
	r := api.do(t, "DELETE", path, nil, bearer(other.Access))
	expectDetail(t, r, http.StatusForbidden, "You do not have permission to perform this action.")
	expectNoRows(t, r.RequestID)
	if count(t, "SELECT COUNT(*) FROM posts WHERE id = ?", p.ID) != 1 {
		t.Fatal("another user deleted the post")
	}
	r = expect(t, api.do(t, "DELETE", path, nil, bearer(owner.Access)), http.StatusNoContent)
	expectRow(t, r.RequestID, wantRow{Action: "post.delete", User: owner.ID, Post: p.ID, Method: "DELETE", Route: "/blog/:id/", Path: path,
		Status: 204, Message: "DELETE content delete success"})
	if count(t, "SELECT COUNT(*) FROM posts WHERE id = ?", p.ID) != 0 {
		t.Fatal("post still exists")
	}
	r = api.do(t, "DELETE", path, nil, bearer(owner.Access))
	expectDetail(t, r, http.StatusNotFound, "Not found.")
	expectNoRows(t, r.RequestID)
}

func TestPostListIsPaginatedNewestFirstWithAbsoluteLinks(t *testing.T) {
	u := newUser(t, api)
	var ids []uint64
	for i := range 23 {
		ids = append(ids, newPost(t, api, u, "글 "+itoa(uint64(i)), "b").ID)
	}
	type page struct {
		Count    int
		Next     *string
		Previous *string
		Results  []post
	}
	get := func(query string) (page, response) {
		var p page
		r := expect(t, api.do(t, "GET", "/blog/"+query, nil), http.StatusOK)
		r.JSON(t, &p)
		return p, r
	}
	user := itoa(u.ID)
	base := api.base + "/blog/"
	str := func(s *string) string {
		if s == nil {
			return "null"
		}
		return *s
	}
	for _, tc := range []struct {
		query, next, previous string
		first                 uint64
		n                     int
	}{
		{"?user=" + user, base + "?page=2&user=" + user, "null", ids[22], 10},
		{"?user=" + user + "&page=2", base + "?page=3&user=" + user, base + "?user=" + user, ids[12], 10},
		{"?page=3&user=" + user, "null", base + "?page=2&user=" + user, ids[2], 3},
		{"?page=last&user=" + user, "null", base + "?page=2&user=" + user, ids[2], 3},
	} {
		p, _ := get(tc.query)
		if p.Count != 23 || len(p.Results) != tc.n || p.Results[0].ID != tc.first || str(p.Next) != tc.next || str(p.Previous) != tc.previous {
			t.Fatalf("%s: count %d, %d results from %d, next %s, previous %s; want 23, %d from %d, %s, %s",
				tc.query, p.Count, len(p.Results), p.Results[0].ID, str(p.Next), str(p.Previous), tc.n, tc.first, tc.next, tc.previous)
		}
		for i := 1; i < len(p.Results); i++ {
			if p.Results[i].ID >= p.Results[i-1].ID || p.Results[i].User != u.ID {
				t.Fatalf("%s: results not newest first or of another user", tc.query)
			}
		}
	}
	if p, _ := get(""); p.Count < 23 || len(p.Results) != 10 {
		t.Fatalf("unfiltered list: count %d, %d results", p.Count, len(p.Results))
	}
	nobody := newUser(t, api)
	if p, _ := get("?user=" + itoa(nobody.ID)); p.Count != 0 || len(p.Results) != 0 || p.Next != nil || p.Previous != nil {
		t.Fatalf("user without posts: %+v", p)
	}
	for _, bad := range []string{"?user=" + user + "&page=4", "?page=0", "?page=abc", "?page=-1", "?user=" + itoa(nobody.ID) + "&page=2", "?page=99999999999999999999"} {
		expectDetail(t, api.do(t, "GET", "/blog/"+bad, nil), http.StatusNotFound, "Invalid page.")
	}
	expectFieldErrors(t, api.do(t, "GET", "/blog/?user=abc", nil), "user")
}

func TestPostStatisticCountsPostsByAuthorGender(t *testing.T) {
	type stats struct{ Male, Female int }
	var s0, s1 stats
	expect(t, api.do(t, "GET", "/blog/statistic/", nil), http.StatusOK).JSON(t, &s0)
	m := newUserWith(t, api, unique("m")+"@example.com", "M", "1990-01-01")
	f := newUserWith(t, api, unique("f")+"@example.com", "F", "1990-01-01")
	for range 2 {
		newPost(t, api, m, "m", "b")
	}
	for range 3 {
		newPost(t, api, f, "f", "b")
	}
	r := expect(t, api.do(t, "GET", "/blog/statistic/", nil), http.StatusOK)
	r.JSON(t, &s1)
	if len(r.Map(t)) != 2 || s1.Male-s0.Male != 2 || s1.Female-s0.Female != 3 {
		t.Fatalf("statistic went from %+v to %s, want +2 Male +3 Female", s0, r.Body)
	}
}

func TestConcurrentCreatesEachCommitOnePostAndOneLogRow(t *testing.T) {
	u := newUser(t, api)
	const n = 50
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = api.do(t, "POST", "/blog/create/", map[string]string{"title": "동시 " + itoa(uint64(i)), "body": "b"}, bearer(u.Access)).Status
		}()
	}
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusCreated {
			t.Fatalf("create %d: status %d", i, s)
		}
	}
	posts := count(t, "SELECT COUNT(*) FROM posts WHERE user_id = ?", u.ID)
	rows := count(t, "SELECT COUNT(*) FROM activity_log WHERE user_id = ? AND action = 'post.create'", u.ID)
	matched := count(t, `SELECT COUNT(DISTINCT p.id) FROM posts p JOIN activity_log l ON l.post_id = p.id AND l.action = 'post.create'
		WHERE p.user_id = ?`, u.ID)
	if posts != n || rows != n || matched != n {
		t.Fatalf("%d posts, %d post.create rows, %d posts with their row; want %d each", posts, rows, matched, n)
	}
}
