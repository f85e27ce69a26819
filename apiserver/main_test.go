//go:build integration

package apiserver_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/logetl/logetl/apiserver"
	"github.com/logetl/logetl/internal/testenv"
)

// The package's tests share one throwaway MariaDB database and one API server on it; tests that
// need other options start their own server on the same database. Every request carries its own
// X-Request-ID, so each test finds exactly the activity rows its requests wrote.
var (
	testDB  *testenv.Database
	api     *client
	secret  = []byte("apiserver-test-secret-0123456789-abcdefghij")
	ctxTest = context.Background()
)

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	var err error
	testDB, err = testenv.NewDatabase(ctx, "apiserver")
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "apiserver tests:", err)
		os.Exit(1)
	}
	srv, err := apiserver.New(testOptions(testDB.DB))
	if err != nil {
		fmt.Fprintln(os.Stderr, "apiserver tests:", err)
		os.Exit(1)
	}
	hs := httptest.NewServer(srv.Handler())
	api = &client{base: hs.URL, http: hs.Client()}
	code := m.Run()
	hs.Close()
	if err := testDB.Drop(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "drop test database:", err)
	}
	os.Exit(code)
}

// testOptions are the options of the shared server: cheap bcrypt, a login limit no test reaches
// by accident.
func testOptions(db *sql.DB) apiserver.Options {
	return apiserver.Options{
		DB:          db,
		JWTSecret:   secret,
		BcryptCost:  bcrypt.MinCost,
		LoginRate:   apiserver.LoginRate{PerMinute: 6000, Burst: 1000},
		AdminEmails: []string{adminEmail},
		Logger:      slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

const adminEmail = "root-admin@logetl.test"

// newServer starts another API server on the test database with opts changed by edit.
func newServer(t *testing.T, edit func(*apiserver.Options)) (*client, *apiserver.Server) {
	t.Helper()
	opts := testOptions(testDB.DB)
	if edit != nil {
		edit(&opts)
	}
	srv, err := apiserver.New(opts)
	if err != nil {
		t.Fatalf("apiserver.New: %v", err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &client{base: hs.URL, http: hs.Client()}, srv
}

// client sends JSON requests to an API server.
type client struct {
	base string
	http *http.Client
}

type reqOpt func(*http.Request)

func bearer(tok string) reqOpt {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

func userAgent(ua string) reqOpt { return func(r *http.Request) { r.Header.Set("User-Agent", ua) } }

func header(k, v string) reqOpt { return func(r *http.Request) { r.Header.Set(k, v) } }

type response struct {
	Status    int
	Body      []byte
	Header    http.Header
	Cookies   []*http.Cookie
	RequestID string
}

// JSON decodes the body into v.
func (r response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("response %d %s is not the expected JSON: %v", r.Status, r.Body, err)
	}
}

// Map decodes the body as an object.
func (r response) Map(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.JSON(t, &m)
	return m
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "test-" + hex.EncodeToString(b[:])
}

// do sends method path with body: nil for none, a string or []byte as is, anything else as JSON.
func (c *client) do(t testing.TB, method, path string, body any, opts ...reqOpt) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctxTest, method, c.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	id := newRequestID()
	req.Header.Set("X-Request-ID", id)
	req.Header.Set("User-Agent", "logetl-apiserver-test")
	for _, o := range opts {
		o(req)
	}
	res, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return response{Status: res.StatusCode, Body: b, Header: res.Header, Cookies: res.Cookies(), RequestID: id}
}

// expect fails unless r has status.
func expect(t testing.TB, r response, status int) response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body %s", r.Status, status, r.Body)
	}
	return r
}

// expectDetail fails unless r is status with body {"detail": want}.
func expectDetail(t testing.TB, r response, status int, want string) {
	t.Helper()
	expect(t, r, status)
	m := r.Map(t)
	if len(m) != 1 || m["detail"] != want {
		t.Fatalf("body %s, want {\"detail\": %q}", r.Body, want)
	}
}

// expectFieldErrors fails unless r is a 400 whose body names exactly fields, each with at
// least one message.
func expectFieldErrors(t testing.TB, r response, fields ...string) map[string][]string {
	t.Helper()
	expect(t, r, http.StatusBadRequest)
	var m map[string][]string
	r.JSON(t, &m)
	if len(m) != len(fields) {
		t.Fatalf("field errors %s, want fields %v", r.Body, fields)
	}
	for _, f := range fields {
		if len(m[f]) == 0 {
			t.Fatalf("field errors %s, want a message for %q", r.Body, f)
		}
	}
	return m
}

// user is a signed-up, logged-in test user.
type user struct {
	ID       uint64
	Email    string
	Nickname string
	Password string
	Access   string
	Refresh  string
}

// login logs email in through c and returns the access token.
func login(t testing.TB, c *client, email, password string) string {
	t.Helper()
	var pair struct{ Access string }
	expect(t, c.do(t, "POST", "/user/token/", map[string]string{"email": email, "password": password}), http.StatusOK).JSON(t, &pair)
	return pair.Access
}

func itoa(id uint64) string { return strconv.FormatUint(id, 10) }

func unique(prefix string) string { return prefix + newRequestID()[5:] }

// signupBody is a valid signup body for email.
func signupBody(email, nickname, gender, birth string) map[string]any {
	return map[string]any{"email": email, "nickname": nickname, "gender": gender, "password": "correct-horse",
		"password2": "correct-horse", "name": "테스트 사용자", "birth_date": birth}
}

// newUser signs up and logs in a fresh user through c.
func newUser(t testing.TB, c *client) user {
	t.Helper()
	return newUserWith(t, c, unique("u")+"@example.com", "M", "1990-05-17")
}

func newUserWith(t testing.TB, c *client, email, gender, birth string) user {
	t.Helper()
	u := user{Email: email, Nickname: unique("nick"), Password: "correct-horse"}
	r := expect(t, c.do(t, "POST", "/user/signup/", signupBody(email, u.Nickname, gender, birth)), http.StatusCreated)
	var created struct{ ID uint64 }
	r.JSON(t, &created)
	u.ID = created.ID
	var login struct {
		Token struct{ Access, Refresh string }
	}
	expect(t, c.do(t, "POST", "/user/login/", map[string]string{"email": email, "password": u.Password}), http.StatusOK).JSON(t, &login)
	u.Access, u.Refresh = login.Token.Access, login.Token.Refresh
	return u
}

// post is a post as the API returns it.
type post struct {
	ID        uint64 `json:"id"`
	Title     string `json:"title"`
	Body      string `json:"body"`
	Views     uint64 `json:"views"`
	User      uint64 `json:"user"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

func newPost(t testing.TB, c *client, u user, title, body string) post {
	t.Helper()
	var p post
	expect(t, c.do(t, "POST", "/blog/create/", map[string]string{"title": title, "body": body}, bearer(u.Access)), http.StatusCreated).JSON(t, &p)
	return p
}

// logRow is an activity_log row as the tests compare it.
type logRow struct {
	UserID     *uint64
	Action     string
	Method     string
	Route      string
	Path       string
	Status     int
	PostID     *uint64
	Email      *string
	Message    string
	ClientIP   string
	UserAgent  string
	OccurredAt time.Time
}

// rowsOf returns the activity_log rows written for request id, in id order.
func rowsOf(t testing.TB, requestID string) []logRow {
	t.Helper()
	rows, err := testDB.DB.QueryContext(ctxTest, `SELECT user_id, action, method, route, path, status, post_id, email, message,
		client_ip, user_agent, occurred_at FROM activity_log WHERE request_id = ? ORDER BY id`, requestID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []logRow
	for rows.Next() {
		var r logRow
		var user, postID sql.NullInt64
		var email sql.NullString
		if err := rows.Scan(&user, &r.Action, &r.Method, &r.Route, &r.Path, &r.Status, &postID, &email, &r.Message,
			&r.ClientIP, &r.UserAgent, &r.OccurredAt); err != nil {
			t.Fatal(err)
		}
		if user.Valid {
			v := uint64(user.Int64)
			r.UserID = &v
		}
		if postID.Valid {
			v := uint64(postID.Int64)
			r.PostID = &v
		}
		if email.Valid {
			r.Email = &email.String
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// wantRow is what a test expects of the one activity row of a request.
type wantRow struct {
	Action  string
	User    uint64 // 0: NULL
	Post    uint64 // 0: NULL
	Method  string
	Route   string
	Path    string
	Status  int
	Message string
	Email   string // "": NULL
}

// expectRow fails unless request id wrote exactly one activity row, equal to want.
func expectRow(t testing.TB, requestID string, want wantRow) logRow {
	t.Helper()
	rows := rowsOf(t, requestID)
	if len(rows) != 1 {
		t.Fatalf("request %s wrote %d activity rows, want 1: %+v", requestID, len(rows), rows)
	}
	r := rows[0]
	got := wantRow{Action: r.Action, Method: r.Method, Route: r.Route, Path: r.Path, Status: r.Status, Message: r.Message}
	if r.UserID != nil {
		got.User = *r.UserID
	}
	if r.PostID != nil {
		got.Post = *r.PostID
	}
	if r.Email != nil {
		got.Email = *r.Email
	}
	if want.Message == "" { // most tests do not spell out the message
		got.Message = ""
	}
	if got != want {
		t.Fatalf("activity row\n got %+v\nwant %+v", got, want)
	}
	if r.ClientIP != "127.0.0.1" || r.UserAgent == "" || r.OccurredAt.IsZero() {
		t.Fatalf("activity row has client_ip %q, user_agent %q, occurred_at %v", r.ClientIP, r.UserAgent, r.OccurredAt)
	}
	return r
}

// expectNoRows fails if request id wrote any activity row.
func expectNoRows(t testing.TB, requestID string) {
	t.Helper()
	if rows := rowsOf(t, requestID); len(rows) != 0 {
		t.Fatalf("request %s wrote activity rows %+v, want none", requestID, rows)
	}
}

// count runs a COUNT query on the test database.
func count(t testing.TB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := testDB.DB.QueryRowContext(ctxTest, query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

var errEOF = io.EOF
