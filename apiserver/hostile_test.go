//go:build integration

package apiserver_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/logetl/logetl/apiserver"
	"github.com/logetl/logetl/apiserver/store"
)

// hostileUA is a User-Agent that utf8mb4 refuses as it is: invalid bytes (a lone 0xc3 among
// them), a backslash and Korean. hostileUAStored is how activity_log keeps it: the bytes escaped,
// the backslash doubled, the text as it is.
const (
	hostileUA       = "Mozilla/5.0 \xff\xfe (\\ 테스트 \xc3) \x80"
	hostileUAStored = `Mozilla/5.0 \xff\xfe (\\ 테스트 \xc3) \x80`
)

// storeOpenClient is a server on a pool from store.Open, the production one: parameters are
// interpolated into the statement text, where the shared server's pool prepares statements.
func storeOpenClient(t *testing.T) *client {
	t.Helper()
	db, err := store.Open(testDB.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c, _ := newServer(t, func(o *apiserver.Options) { o.DB = db })
	return c
}

func TestInvalidUTF8RequestMetadataIsStoredEscapedWithItsChange(t *testing.T) {
	for name, c := range map[string]*client{"prepared statements": api, "store.Open": storeOpenClient(t)} {
		t.Run(name, func(t *testing.T) {
			u := newUser(t, c)
			p := newPost(t, c, u, "target", "body")
			postPath := "/blog/" + itoa(p.ID) + "/"
			leaving := newUser(t, c)
			email := unique("hostile") + "@example.com"
			ua := userAgent(hostileUA)
			tests := []struct {
				name         string
				method, path string
				body         any
				opts         []reqOpt
				status       int
				action       string
				changed      func(t *testing.T) bool
			}{
				{"signup", "POST", "/user/signup/", signupBody(email, unique("n"), "F", "2000-01-01"), nil, 201, "user.signup", func(t *testing.T) bool {
					return count(t, "SELECT COUNT(*) FROM users WHERE email = ?", email) == 1
				}},
				{"login", "POST", "/user/login/", map[string]string{"email": u.Email, "password": u.Password}, nil, 200, "user.login", nil},
				{"failed login", "POST", "/user/login/", map[string]string{"email": u.Email, "password": "wrong-pass"}, nil, 401, "user.login_failed", nil},
				{"token obtain", "POST", "/user/token/", map[string]string{"email": u.Email, "password": u.Password}, nil, 200, "user.login", nil},
				{"token refresh", "POST", "/user/token/refresh/", map[string]string{"refresh": u.Refresh}, nil, 200, "token.refresh", nil},
				{"post create", "POST", "/blog/create/", map[string]string{"title": "hostile", "body": "b"}, []reqOpt{bearer(u.Access)}, 201, "post.create", func(t *testing.T) bool {
					return count(t, "SELECT COUNT(*) FROM posts WHERE user_id = ? AND title = 'hostile'", u.ID) == 1
				}},
				{"post view", "GET", postPath, nil, nil, 200, "post.view", func(t *testing.T) bool {
					return count(t, "SELECT views FROM posts WHERE id = ?", p.ID) == 1
				}},
				{"post put", "PUT", postPath, map[string]string{"title": "put", "body": "b"}, []reqOpt{bearer(u.Access)}, 200, "post.update", func(t *testing.T) bool {
					return count(t, "SELECT COUNT(*) FROM posts WHERE id = ? AND title = 'put'", p.ID) == 1
				}},
				{"post patch", "PATCH", postPath, map[string]string{"title": "patched"}, []reqOpt{bearer(u.Access)}, 200, "post.update", func(t *testing.T) bool {
					return count(t, "SELECT COUNT(*) FROM posts WHERE id = ? AND title = 'patched'", p.ID) == 1
				}},
				{"post delete", "DELETE", postPath, nil, []reqOpt{bearer(u.Access)}, 204, "post.delete", func(t *testing.T) bool {
					return count(t, "SELECT COUNT(*) FROM posts WHERE id = ?", p.ID) == 0
				}},
				{"withdraw", "DELETE", "/user/" + itoa(leaving.ID) + "/withdraw/", nil, []reqOpt{bearer(leaving.Access)}, 204, "user.withdraw", func(t *testing.T) bool {
					return count(t, "SELECT COUNT(*) FROM users WHERE id = ?", leaving.ID) == 0
				}},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					r := c.do(t, tt.method, tt.path, tt.body, append(tt.opts, ua)...)
					expect(t, r, tt.status)
					rows := rowsOf(t, r.RequestID)
					if len(rows) != 1 || rows[0].Action != tt.action || rows[0].UserAgent != hostileUAStored {
						t.Fatalf("activity rows %+v, want one %s row with user_agent %q", rows, tt.action, hostileUAStored)
					}
					if tt.action == "user.login_failed" && (rows[0].Email == nil || *rows[0].Email != u.Email) {
						t.Fatalf("failed login row without the attempted email: %+v", rows[0])
					}
					if tt.changed != nil && !tt.changed(t) {
						t.Fatal("the row was written but the change was not made")
					}
					raw, truncated, err := store.UnescapeLogText(rows[0].UserAgent)
					if err != nil || truncated || raw != hostileUA {
						t.Fatalf("stored user agent gives back %q, %v, %v", raw, truncated, err)
					}
				})
			}
		})
	}
}

func TestHugeHeadersAndPathsAreCutToTheirColumns(t *testing.T) {
	u := newUser(t, api)
	p := newPost(t, api, u, "huge", "b")
	postPath := "/blog/" + itoa(p.ID) + "/"
	views := func() int { return count(t, "SELECT views FROM posts WHERE id = ?", p.ID) }
	for _, tt := range []struct {
		name, ua, want string
	}{
		{"2000-byte user agent", strings.Repeat("u", 2000), strings.Repeat("u", 510) + `\…`},
		{"40 KiB user agent", strings.Repeat("Mozilla ", 5120), strings.Repeat("Mozilla ", 63) + "Mozill" + `\…`},
		{"Korean user agent over the width", strings.Repeat("가", 700), strings.Repeat("가", 510) + `\…`},
		{"a Korean character at the cut", strings.Repeat("a", 510) + "가나다", strings.Repeat("a", 510) + `\…`},
		{"an invalid byte at the cut", strings.Repeat("a", 509) + "\xffbc", strings.Repeat("a", 509) + `\…`},
		{"invalid bytes over the width", strings.Repeat("\xfe", 600), strings.Repeat(`\xfe`, 127) + `\…`},
		{"exactly 512 characters", strings.Repeat("a", 509) + "가나다", strings.Repeat("a", 509) + "가나다"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := expect(t, api.do(t, "GET", postPath, nil, userAgent(tt.ua)), http.StatusOK)
			rows := rowsOf(t, r.RequestID)
			if len(rows) != 1 || rows[0].UserAgent != tt.want {
				t.Fatalf("stored user agents %+v, want %q", rows, tt.want)
			}
		})
	}

	// A path of 2014 characters that routes to the post (its id with leading zeros) views it.
	long := "/blog/" + strings.Repeat("0", 2000) + itoa(p.ID) + "/"
	before := views()
	r := expect(t, api.do(t, "GET", long, nil), http.StatusOK)
	row := expectRow(t, r.RequestID, wantRow{Action: "post.view", Post: p.ID, Method: "GET", Route: "/blog/:id/",
		Path: "/blog/" + strings.Repeat("0", 504) + `\…`, Status: 200})
	if raw, truncated, err := store.UnescapeLogText(row.Path); err != nil || !truncated || !strings.HasPrefix(long, raw) {
		t.Fatalf("stored path gives back %q, %v, %v", raw, truncated, err)
	}
	if n := views(); n != before+1 {
		t.Fatalf("views = %d, want %d", n, before+1)
	}

	// Headers beyond the server's 64 KiB are refused by net/http before the API sees them.
	srv, err := apiserver.New(testOptions(testDB.DB))
	if err != nil {
		t.Fatal(err)
	}
	c, _, _ := serve(t, srv, time.Second)
	before = views()
	r = c.do(t, "GET", postPath, nil, userAgent(strings.Repeat("u", 70<<10)))
	expect(t, r, http.StatusRequestHeaderFieldsTooLarge)
	expectNoRows(t, r.RequestID)
	if n := views(); n != before {
		t.Fatalf("a refused request counted a view: %d, want %d", n, before)
	}
	// Just under the limit is served and cut to the column.
	r = expect(t, c.do(t, "GET", postPath, nil, userAgent(strings.Repeat("u", 60<<10))), http.StatusOK)
	expectRow(t, r.RequestID, wantRow{Action: "post.view", Post: p.ID, Method: "GET", Route: "/blog/:id/", Path: postPath, Status: 200})
}

func contentType(ct string) reqOpt { return header("Content-Type", ct) }

// noContentType sends the request without a Content-Type header.
func noContentType(r *http.Request) { r.Header.Del("Content-Type") }

func TestBodiesNotDeclaredJSONAre415AndChangeNothing(t *testing.T) {
	u := newUser(t, api)
	p := newPost(t, api, u, "original", "original body")
	postPath := "/blog/" + itoa(p.ID) + "/"
	starter := &recordingStarter{}
	bf, _ := newServer(t, func(o *apiserver.Options) { o.Backfills = starter })
	admin := adminUser(t)
	email := unique("cors") + "@example.com"
	endpoints := []struct {
		method, path string
		body         any
		opts         []reqOpt
		c            *client
	}{
		{"POST", "/user/signup/", signupBody(email, unique("n"), "F", "2000-01-01"), nil, api},
		{"POST", "/user/login/", map[string]string{"email": u.Email, "password": u.Password}, nil, api},
		{"POST", "/user/login/", map[string]string{"email": u.Email, "password": "wrong-pass"}, nil, api},
		{"POST", "/user/token/", map[string]string{"email": u.Email, "password": u.Password}, nil, api},
		{"POST", "/user/token/refresh/", map[string]string{"refresh": u.Refresh}, nil, api},
		{"POST", "/user/token/verify/", map[string]string{"token": u.Access}, nil, api},
		{"POST", "/blog/create/", map[string]string{"title": "never", "body": "b"}, []reqOpt{bearer(u.Access)}, api},
		{"PUT", postPath, map[string]string{"title": "changed", "body": "changed"}, []reqOpt{bearer(u.Access)}, api},
		{"PATCH", postPath, map[string]string{"body": "changed"}, []reqOpt{bearer(u.Access)}, api},
		{"POST", "/admin/backfills", map[string]string{"from": "2026-01-05T00:00:00Z", "to": "2026-01-06T00:00:00Z", "granularity": "daily"}, []reqOpt{bearer(admin.Access)}, bf},
	}
	refused := map[string]reqOpt{
		"text/plain":                        contentType("text/plain"),
		"text/plain; charset=utf-8":         contentType("text/plain; charset=utf-8"),
		"application/x-www-form-urlencoded": contentType("application/x-www-form-urlencoded"),
		"multipart/form-data; boundary=x":   contentType("multipart/form-data; boundary=x"),
		"application/jsonp":                 contentType("application/jsonp"),
		"application/json-patch+json":       contentType("application/json-patch+json"),
		"text/json":                         contentType("text/json"),
		"json":                              contentType("json"),
		"":                                  noContentType,
	}
	usersBefore, rowsBefore := count(t, "SELECT COUNT(*) FROM users"), count(t, "SELECT COUNT(*) FROM activity_log")
	for _, e := range endpoints {
		for ct, opt := range refused {
			r := e.c.do(t, e.method, e.path, e.body, append(e.opts, opt)...)
			expectDetail(t, r, http.StatusUnsupportedMediaType, `Unsupported media type "`+ct+`" in request.`)
			if len(r.Cookies) != 0 {
				t.Fatalf("%s %s as %q set cookies", e.method, e.path, ct)
			}
			expectNoRows(t, r.RequestID)
		}
	}
	if n := count(t, "SELECT COUNT(*) FROM users"); n != usersBefore {
		t.Fatalf("users went from %d to %d", usersBefore, n)
	}
	if n := count(t, "SELECT COUNT(*) FROM activity_log"); n != rowsBefore {
		t.Fatalf("activity rows went from %d to %d", rowsBefore, n)
	}
	if count(t, "SELECT COUNT(*) FROM posts WHERE user_id = ? AND title = 'original' AND body = 'original body'", u.ID) != 1 ||
		count(t, "SELECT COUNT(*) FROM posts WHERE user_id = ?", u.ID) != 1 {
		t.Fatal("a post was created or changed")
	}
	if len(starter.calls) != 0 {
		t.Fatalf("backfills started: %q", starter.calls)
	}

	// As in DRF, the post is found and its owner checked before the body is parsed.
	other := newUser(t, api)
	text := contentType("text/plain")
	expectDetail(t, api.do(t, "PUT", postPath, map[string]string{"title": "x", "body": "y"}, bearer(other.Access), text), http.StatusForbidden, "You do not have permission to perform this action.")
	expectDetail(t, api.do(t, "PATCH", "/blog/999999999/", map[string]string{"title": "x"}, bearer(u.Access), text), http.StatusNotFound, "Not found.")
	// And authentication comes first.
	expect(t, api.do(t, "POST", "/blog/create/", map[string]string{"title": "x", "body": "y"}, text), http.StatusUnauthorized)

	// An empty body needs no type: DRF parsed nothing and validated an empty object.
	expectFieldErrors(t, api.do(t, "POST", "/user/login/", "", text), "email", "password")
	expectFieldErrors(t, api.do(t, "POST", "/user/login/", nil), "email", "password")
}

func TestJSONWithParametersOrInAnyCaseIsAccepted(t *testing.T) {
	u := newUser(t, api)
	for _, ct := range []string{"application/json; charset=utf-8", "application/json;charset=UTF-8", "Application/JSON", " application/json ",
		"application/json; charset=latin-1", "application/json; odd", "application/*", "*/*"} {
		r := api.do(t, "POST", "/user/login/", map[string]string{"email": u.Email, "password": u.Password}, contentType(ct))
		expect(t, r, http.StatusOK)
		expectRow(t, r.RequestID, wantRow{Action: "user.login", User: u.ID, Method: "POST", Route: "/user/login/", Path: "/user/login/", Status: 200})
	}
}

func TestInvalidUTF8InAJSONBodyIsA400ParseError(t *testing.T) {
	u := newUser(t, api)
	p := newPost(t, api, u, "original", "original body")
	postPath := "/blog/" + itoa(p.ID) + "/"
	email := unique("utf8") + "@example.com"
	signup, err := json.Marshal(signupBody(email, unique("n"), "F", "2000-01-01"))
	if err != nil {
		t.Fatal(err)
	}
	rowsBefore := count(t, "SELECT COUNT(*) FROM activity_log")
	for _, tt := range []struct {
		method, path, body string
		opts               []reqOpt
	}{
		{"POST", "/user/signup/", strings.Replace(string(signup), "테스트", "테\xff스트", 1), nil},
		{"POST", "/user/login/", `{"email":"` + u.Email + `","password":"wrong` + "\xc3" + `"}`, nil},
		{"POST", "/user/login/", `{"email":"` + u.Email + "\xfe" + `","password":"x"}`, nil},
		{"POST", "/user/token/refresh/", `{"refresh":"` + u.Refresh + "\x80" + `"}`, nil},
		{"POST", "/blog/create/", `{"title":"제목` + "\xed\xa0\x80" + `","body":"b"}`, []reqOpt{bearer(u.Access)}},
		{"PUT", postPath, `{"title":"t","body":"` + "\xf5" + `"}`, []reqOpt{bearer(u.Access)}},
		{"PATCH", postPath, `{"body":"` + "\xe4\xb8" + `"}`, []reqOpt{bearer(u.Access)}},
	} {
		r := api.do(t, tt.method, tt.path, tt.body, tt.opts...)
		expect(t, r, http.StatusBadRequest)
		m := r.Map(t)
		msg, _ := m["detail"].(string)
		pos := firstInvalidByte(tt.body)
		want := fmt.Sprintf("JSON parse error - 'utf-8' codec can't decode byte 0x%02x in position %d: ", tt.body[pos], pos)
		if len(m) != 1 || !strings.HasPrefix(msg, want) {
			t.Errorf("%s %s: body %s, want {\"detail\": %q...}", tt.method, tt.path, r.Body, want)
		}
		expectNoRows(t, r.RequestID)
	}
	if count(t, "SELECT COUNT(*) FROM users WHERE email = ?", email) != 0 || count(t, "SELECT COUNT(*) FROM activity_log") != rowsBefore {
		t.Fatal("a body with invalid UTF-8 changed something")
	}
	if count(t, "SELECT COUNT(*) FROM posts WHERE id = ? AND title = 'original' AND body = 'original body'", p.ID) != 1 ||
		count(t, "SELECT COUNT(*) FROM posts WHERE user_id = ?", u.ID) != 1 {
		t.Fatal("a post was created or changed")
	}
	// A lone surrogate escape names no character: it is refused, not turned into U+FFFD.
	expectFieldErrors(t, api.do(t, "POST", "/blog/create/", `{"title":"\ud800","body":"b"}`, bearer(u.Access)), "title")
}

func firstInvalidByte(s string) int {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}
