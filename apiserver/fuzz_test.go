//go:build integration

package apiserver_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logetl/logetl/apiserver"
	"github.com/logetl/logetl/apiserver/store"
)

// FuzzBodiesNeverGetAServerError posts each body to signup, login and post creation (with a
// valid token) on the real API and database: whatever a client sends, the answer is never 5xx.
func FuzzBodiesNeverGetAServerError(f *testing.F) {
	opts := testOptions(testDB.DB)
	// Fuzzing logs in thousands of times a second; a limiter answering 429 would stop the
	// bodies from reaching the decoder and the database.
	opts.LoginRate = apiserver.LoginRate{PerMinute: 1e9, Burst: 1 << 30}
	srv, err := apiserver.New(opts)
	if err != nil {
		f.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	f.Cleanup(hs.Close)
	c := &client{base: hs.URL, http: hs.Client()}
	u := newUser(f, c)

	js := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		return string(b)
	}
	seeds := []string{
		// valid for one endpoint each
		js(signupBody("fuzz-seed@example.com", "fuzzseed", "F", "1999-03-02")),
		js(map[string]string{"email": u.Email, "password": u.Password}),
		`{"title":"제목","body":"본문입니다"}`,
		// unique keys compare case- and accent-insensitively (utf8mb4_unicode_ci), the API's
		// checks may not: these collide with the seeds above in the database only
		js(signupBody("FUZZ-SEED@example.com", "FuzzSeed", "M", "1999-03-02")),
		js(signupBody("fuzz-seed2@example.com", "fúzzseed", "M", "1999-03-02")),
		js(signupBody("fuzz-seed3@example.com", "fuzzseed ", "M", "1999-03-02")),
		// malformed
		``, `{`, `{"email":`, `{"title":"x",}`, `{} {}`, "\xff\xfe{\"title\":1", `title=x&body=y`,
		strings.Repeat("[", 50000) + strings.Repeat("]", 50000),
		// wrongly typed
		`[]`, `null`, `"x"`, `12`, `{"email":true,"password":{},"title":[1],"body":false,"nickname":null,"gender":1,"birth_date":{}}`,
		// huge numbers
		`{"email":1e400,"password":-99999999999999999999999999,"title":18446744073709551616,"body":1e-400,"birth_date":99999999999}`,
		js(signupBody("n@example.com", "123456789012345678901234567890123456789012345678901", "M", "1999-03-02")),
		// Korean, at and past the column limits
		js(signupBody("김민지@예시.한국", strings.Repeat("닉", 50), "F", "1999-03-02")),
		js(map[string]string{"title": strings.Repeat("제", 100), "body": strings.Repeat("본문 ", 30000)}),
		js(map[string]string{"title": strings.Repeat("제", 101), "body": "x"}),
		// SQL-looking
		js(signupBody("x'or'1'='1@example.com", "'; DROP TABLE users; --", "M", "1999-03-02' OR '1'='1")),
		js(map[string]string{"email": "' OR 1=1 --", "password": "' OR '1'='1"}),
		js(map[string]string{"title": "1; DROP TABLE posts; --", "body": "1 UNION SELECT password_hash FROM users"}),
		// control characters and lone surrogates
		`{"email":"a\u0000@b.c","password":"x\u0000","title":"\ud800","body":"\u0000"}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	endpoints := []struct {
		path string
		opts []reqOpt
	}{
		{"/user/signup/", nil},
		{"/user/login/", nil},
		{"/blog/create/", []reqOpt{bearer(u.Access)}},
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, e := range endpoints {
			if r := c.do(t, "POST", e.path, body, e.opts...); r.Status >= 500 {
				t.Fatalf("POST %s with %q: status %d (%s)", e.path, body, r.Status, r.Body)
			}
		}
	})
}

// FuzzRequestMetadata sends hand-written HTTP/1.1 requests, byte for byte (no client library
// cleans them), whose User-Agent, X-Request-ID, X-Forwarded-For, Content-Type, request target
// and query are the fuzzer's, to the real handler and database: a post view, a failed login, a
// post creation and a signup. Whatever the bytes, the answer is never 5xx, a change and its
// activity row commit together or not at all, and a stored row gives back the bytes the server
// received.
func FuzzRequestMetadata(f *testing.F) {
	opts := testOptions(testDB.DB)
	opts.LoginRate = apiserver.LoginRate{PerMinute: 1e9, Burst: 1 << 30}
	opts.TrustedProxies = []string{"127.0.0.1"} // so that X-Forwarded-For reaches client_ip
	srv, err := apiserver.New(opts)
	if err != nil {
		f.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	f.Cleanup(hs.Close)
	c := &client{base: hs.URL, http: hs.Client()}
	u := newUser(f, c)
	p := newPost(f, c, u, "fuzzed views", "b")
	addr := strings.TrimPrefix(hs.URL, "http://")

	// ua, target ({id} is the post's id), query, request id, content type, X-Forwarded-For
	f.Add("Mozilla/5.0 \xff\xfe 테스트 \\", "/blog/{id}/", "", "fuzz-seed", "application/json", "")
	f.Add(strings.Repeat("A", 2000), "/blog/"+strings.Repeat("0", 2000)+"{id}/", strings.Repeat("q=\xff&", 100), strings.Repeat("r", 65), "application/json; charset=utf-8", "203.0.113.7")
	f.Add("\xc3", "/blog/%FF/", "page=%FF", "\xff", "text/plain", "not-an-ip")
	f.Add("\t ua \t", "/blog/?user=\xff&page=last", "a=b", "id:with.colons-_", "", "2001:db8::1, 127.0.0.1")
	f.Add("\x00", "/blog/{id}/?x=\x7f", "", "", "application/x-www-form-urlencoded", "")
	f.Add("😀\xed\xa0\x80", "/blog/%7Bid%7D/", "%zz", "", "*/*", "::ffff:255.255.255.255")
	f.Add(strings.Repeat("가", 700), "/blog/{id}", "", "", "APPLICATION/JSON", "")
	f.Add("", "/user/signup/", "", "", "multipart/form-data; boundary=x", "")
	f.Add("a\x7fb", "*", "", "x\x80", "application/json-patch+json", "1.2.3.4\xff")
	f.Add("\\x41\\", "/blog/{id}/#frag", "#", "a b", "application/json;;;", "")

	noLines := strings.NewReplacer("\r", "", "\n", "")
	n := 0
	f.Fuzz(func(t *testing.T, ua, target, query, rid, ct, xff string) {
		// A CR or LF ends a header or the request line: what follows is another header or
		// another request, not these values; the framing headers it could forge (a longer
		// Content-Length) would leave the server waiting for a body that never comes.
		ua, target, query, rid, ct, xff = noLines.Replace(ua), noLines.Replace(target), noLines.Replace(query),
			noLines.Replace(rid), noLines.Replace(ct), noLines.Replace(xff)
		target = strings.ReplaceAll(target, "{id}", itoa(p.ID))
		n++
		email := fmt.Sprintf("fz%d-%s@example.com", n, unique(""))
		send := func(method, target string, extra [][2]string, body string) rawResult {
			h := [][2]string{{"User-Agent", ua}}
			if rid != "" {
				h = append(h, [2]string{"X-Request-ID", rid})
			}
			if xff != "" {
				h = append(h, [2]string{"X-Forwarded-For", xff})
			}
			if body != "" && ct != "" {
				h = append(h, [2]string{"Content-Type", ct})
			}
			return sendRaw(t, addr, method, target, append(h, extra...), body)
		}
		q := ""
		if query != "" {
			q = "?" + query
		}
		jsonCT := strings.Contains(strings.ToLower(ct), "json") || strings.Contains(ct, "*")

		// A view of the post, or whatever route the target reaches.
		views := count(t, "SELECT views FROM posts WHERE id = ?", p.ID)
		r := send("GET", target, nil, "")
		rows := r.rows
		if d := count(t, "SELECT views FROM posts WHERE id = ?", p.ID) - views; d != len(rows) || (d == 1 && (r.status != 200 || rows[0].Action != "post.view")) {
			t.Fatalf("GET %q: status %d, %d views counted, rows %+v", target, r.status, d, rows)
		}
		checkStored(t, r, ua, target)

		// A failed login: 401 with its audit row, or refused (4xx) before anything is written.
		r = send("POST", "/user/login/"+q, nil, `{"email":"`+u.Email+`","password":"wrong-pass"}`)
		if got := len(r.rows); (r.status == 401) != (got == 1) || (got == 1 && (r.rows[0].Action != "user.login_failed" || !jsonCT)) {
			t.Fatalf("failed login with content type %q: status %d, rows %+v", ct, r.status, r.rows)
		}
		checkStored(t, r, ua, "/user/login/"+q)

		// A post creation: the post and its row, or neither.
		posts := count(t, "SELECT COUNT(*) FROM posts WHERE user_id = ?", u.ID)
		r = send("POST", "/blog/create/"+q, [][2]string{{"Authorization", "Bearer " + u.Access}}, `{"title":"t","body":"b"}`)
		if d := count(t, "SELECT COUNT(*) FROM posts WHERE user_id = ?", u.ID) - posts; d != len(r.rows) || (r.status == 201) != (d == 1) || (d == 1 && !jsonCT) {
			t.Fatalf("create with content type %q: status %d, %d posts created, rows %+v", ct, r.status, d, r.rows)
		}
		checkStored(t, r, ua, "/blog/create/"+q)

		// A signup: the user and its row, or neither.
		r = send("POST", "/user/signup/"+q, nil, `{"email":"`+email+`","nickname":"`+strings.TrimSuffix(email, "@example.com")+
			`","gender":"F","password":"correct-horse","password2":"correct-horse","name":"퍼저","birth_date":"2000-01-01"}`)
		if d := count(t, "SELECT COUNT(*) FROM users WHERE email = ?", email); d != len(r.rows) || (r.status == 201) != (d == 1) || (d == 1 && !jsonCT) {
			t.Fatalf("signup with content type %q: status %d, %d users created, rows %+v", ct, r.status, d, r.rows)
		}
		checkStored(t, r, ua, "/user/signup/"+q)
	})
}

// rawResult is the answer to a raw request and the activity rows written while it was served.
type rawResult struct {
	status    int
	requestID string // the X-Request-ID of the answer
	rows      []rawRow
}

type rawRow struct {
	RequestID, Action, Path, ClientIP, UserAgent string
}

// sendRaw writes one request as given on a new connection and reads its answer; the activity
// rows are those with ids above the largest one before the request (a fuzz worker is alone on
// its database). Any 5xx, or no answer at all, fails t.
func sendRaw(t *testing.T, addr, method, target string, headers [][2]string, body string) rawResult {
	t.Helper()
	var last uint64
	if err := testDB.DB.QueryRowContext(ctxTest, "SELECT COALESCE(MAX(id), 0) FROM activity_log").Scan(&last); err != nil {
		t.Fatal(err)
	}
	var req strings.Builder
	req.WriteString(method + " " + target + " HTTP/1.1\r\nHost: " + addr + "\r\nConnection: close\r\n")
	for _, h := range headers {
		req.WriteString(h[0] + ": " + h[1] + "\r\n")
	}
	if body != "" {
		req.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	}
	req.WriteString("\r\n" + body)
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, req.String()); err != nil {
		t.Fatalf("%s %q: write: %v", method, target, err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %q with headers %q: no answer: %v", method, target, headers, err)
	}
	resBody, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode >= 500 {
		t.Fatalf("%s %q with headers %q: status %d (%s)", method, target, headers, res.StatusCode, resBody)
	}
	out := rawResult{status: res.StatusCode, requestID: res.Header.Get("X-Request-ID")}
	rows, err := testDB.DB.QueryContext(ctxTest, "SELECT request_id, action, path, client_ip, user_agent FROM activity_log WHERE id > ? ORDER BY id", last)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var r rawRow
		if err := rows.Scan(&r.RequestID, &r.Action, &r.Path, &r.ClientIP, &r.UserAgent); err != nil {
			t.Fatal(err)
		}
		out.rows = append(out.rows, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkStored checks the one row of r, if any, against what was sent: the answer's request id,
// a client IP that is an IP, and the user agent and path the server received, given back by
// store.UnescapeLogText (a prefix of them when cut to the column).
func checkStored(t *testing.T, r rawResult, ua, target string) {
	t.Helper()
	if len(r.rows) > 1 {
		t.Fatalf("one request wrote %d rows: %+v", len(r.rows), r.rows)
	}
	if len(r.rows) == 0 {
		return
	}
	row := r.rows[0]
	if row.RequestID != r.requestID || net.ParseIP(row.ClientIP) == nil {
		t.Fatalf("row %+v for the answer with request id %q", row, r.requestID)
	}
	// net/http trims the spaces and tabs around a header value.
	sameOrPrefix(t, "user agent", row.UserAgent, strings.Trim(ua, " \t"))
	u, err := url.ParseRequestURI(target)
	if err != nil {
		t.Fatalf("a row was written for the target %q that net/http refuses: %v", target, err)
	}
	sameOrPrefix(t, "path", row.Path, u.Path)
}

func sameOrPrefix(t *testing.T, what, stored, sent string) {
	t.Helper()
	raw, truncated, err := store.UnescapeLogText(stored)
	if err != nil || (!truncated && raw != sent) || (truncated && !strings.HasPrefix(sent, raw)) {
		t.Fatalf("%s %q stored as %q, which gives back %q (cut %v, %v)", what, sent, stored, raw, truncated, err)
	}
}
