//go:build integration

package apiserver_test

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/logetl/logetl/apiserver"
	"github.com/logetl/logetl/apiserver/store"
	"github.com/logetl/logetl/internal/testenv"
)

func TestHealthReadinessAndUnknownRoutes(t *testing.T) {
	expect(t, api.do(t, "GET", "/healthz", nil), http.StatusOK)
	expect(t, api.do(t, "GET", "/readyz", nil), http.StatusOK)
	expectDetail(t, api.do(t, "GET", "/nowhere/", nil), http.StatusNotFound, "Not found.")
	expectDetail(t, api.do(t, "GET", "/user/signup/", nil), http.StatusMethodNotAllowed, `Method "GET" not allowed.`)

	// A server whose database does not answer is alive but not ready.
	closed := closedPortDSN(t)
	db, err := store.Open(closed)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, _ := newServer(t, func(o *apiserver.Options) { o.DB = db })
	expect(t, c.do(t, "GET", "/healthz", nil), http.StatusOK)
	expectDetail(t, c.do(t, "GET", "/readyz", nil), http.StatusServiceUnavailable, "The database is unavailable.")
}

// closedPortDSN is the test database's DSN pointed at a local port nothing listens on.
func closedPortDSN(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg, err := mysql.ParseDSN(testDB.DSN)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = addr
	return cfg.FormatDSN()
}

func TestMetricsCountRequestsByRouteTemplate(t *testing.T) {
	c, _ := newServer(t, nil)
	u := newUser(t, c)
	p := newPost(t, c, u, "metrics", "b")
	expect(t, c.do(t, "GET", "/blog/"+itoa(p.ID)+"/", nil), http.StatusOK)
	expect(t, c.do(t, "GET", "/blog/"+itoa(p.ID)+"/", nil), http.StatusOK)
	expect(t, c.do(t, "GET", "/blog/999999999/", nil), http.StatusNotFound)
	expect(t, c.do(t, "GET", "/nowhere", nil), http.StatusNotFound)
	r := expect(t, c.do(t, "GET", "/metrics", nil), http.StatusOK)
	text := string(r.Body)
	for _, want := range []string{
		`logetl_api_requests_total{method="GET",route="/blog/:id/",status="200"} 2`,
		`logetl_api_requests_total{method="GET",route="/blog/:id/",status="404"} 1`,
		`logetl_api_requests_total{method="POST",route="/blog/create/",status="201"} 1`,
		`logetl_api_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`logetl_api_request_duration_seconds_count{method="GET",route="/blog/:id/",status="200"} 2`,
		`go_goroutines`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(text, `route="/blog/`+itoa(p.ID)+`/"`) {
		t.Error("metrics are labelled with a concrete path")
	}
}

// serve runs a Server on a free port until the returned stop is called; Serve's error arrives on
// the channel.
func serve(t *testing.T, srv *apiserver.Server, grace time.Duration) (c *client, stop context.CancelFunc, done <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ctx, ln, grace) }()
	t.Cleanup(cancel)
	return &client{base: "http://" + ln.Addr().String(), http: &http.Client{Timeout: time.Minute}}, cancel, errc
}

// lockWaitingServer is a Server on a pool of its own whose row-locking reads the test sees
// start (see lockingReads); its requests may wait on a row lock for longer than the tests take to
// see them wait.
func lockWaitingServer(t *testing.T) (*apiserver.Server, *lockingReads) {
	t.Helper()
	cfg, err := mysql.ParseDSN(testDB.DSN)
	if err != nil {
		t.Fatal(err)
	}
	// Interpolated as store.Open does: a statement reaches the driver as one query with its text
	// instead of a prepare and an execute.
	cfg.InterpolateParams = true
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	reads := &lockingReads{Connector: connector, started: make(chan struct{})}
	db := sql.OpenDB(reads)
	t.Cleanup(func() { db.Close() })
	opts := testOptions(db)
	opts.RequestTimeout = 45 * time.Second
	srv, err := apiserver.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return srv, reads
}

// lockingReads is a connector whose connections report when a row-locking read (SELECT ... FOR
// UPDATE) starts: once a request has sent the read of a row the test holds locked, it is in flight
// and blocked in the database until the test lets the row go.
//
// Watching information_schema.INNODB_TRX for trx_state = 'LOCK WAIT' instead is unreliable:
// InnoDB refills the cache behind that table (and INNODB_LOCKS, INNODB_LOCK_WAITS) only when no
// one has read it for 100 ms, so polling it every 20 ms kept returning the snapshot taken before
// the request began to wait, until a scheduling stall on a loaded machine happened to leave a
// long enough gap (13 s, 28 s, or never within the 30 s bound).
type lockingReads struct {
	driver.Connector
	once    sync.Once
	started chan struct{} // closed when the first locking read starts
}

func (r *lockingReads) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := r.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &observedConn{Conn: conn, reads: r}, nil
}

// waitForLockedRead waits until a request's locking read has started; the request's outcome
// arriving first fails the test at once, as does the bound of waitFor.
func (r *lockingReads) waitForLockedRead(t *testing.T, what string, outcome <-chan inFlight) {
	t.Helper()
	select {
	case <-r.started:
	case o := <-outcome:
		t.Fatalf("%s finished (status %d, %s, err %v) before reading the locked row", what, o.Status, o.Body, o.err)
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s to read the locked row", what)
	}
}

// observedConn is a MySQL connection that tells its lockingReads about locking reads. It passes
// on every optional interface database/sql uses, so that the pool behaves as on the bare driver.
type observedConn struct {
	driver.Conn
	reads *lockingReads
}

func (c *observedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if strings.HasSuffix(strings.ToUpper(strings.TrimSpace(query)), "FOR UPDATE") {
		// Before the call: it returns only once the lock is granted.
		c.reads.once.Do(func() { close(c.reads.started) })
	}
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
}

func (c *observedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
}

func (c *observedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

func (c *observedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *observedConn) Ping(ctx context.Context) error { return c.Conn.(driver.Pinger).Ping(ctx) }

func (c *observedConn) ResetSession(ctx context.Context) error {
	return c.Conn.(driver.SessionResetter).ResetSession(ctx)
}

func (c *observedConn) IsValid() bool { return c.Conn.(driver.Validator).IsValid() }

func (c *observedConn) CheckNamedValue(nv *driver.NamedValue) error {
	return c.Conn.(driver.NamedValueChecker).CheckNamedValue(nv)
}

// inFlight is the outcome of a request sent in the background.
type inFlight struct {
	response
	err error
}

// sendInBackground sends a JSON request as u from a goroutine of its own (which must not call
// t.Fatal) and delivers its outcome on the returned channel.
func sendInBackground(c *client, u user, method, path string, body any) <-chan inFlight {
	out := make(chan inFlight, 1)
	go func() {
		var rd io.Reader
		if body != nil {
			j, err := json.Marshal(body)
			if err != nil {
				out <- inFlight{err: err}
				return
			}
			rd = bytes.NewReader(j)
		}
		req, err := http.NewRequestWithContext(ctxTest, method, c.base+path, rd)
		if err != nil {
			out <- inFlight{err: err}
			return
		}
		if rd != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		id := newRequestID()
		req.Header.Set("X-Request-ID", id)
		req.Header.Set("User-Agent", "logetl-apiserver-test")
		req.Header.Set("Authorization", "Bearer "+u.Access)
		res, err := c.http.Do(req)
		if err != nil {
			out <- inFlight{response: response{RequestID: id}, err: err}
			return
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		out <- inFlight{response: response{Status: res.StatusCode, Body: b, Header: res.Header, RequestID: id}, err: err}
	}()
	return out
}

// lockPostRow holds the post's row lock in a transaction of its own until the test rolls it back
// (or ends), so that a request writing the post stays in flight, blocked in the database.
func lockPostRow(t *testing.T, id uint64) *sql.Tx {
	t.Helper()
	lock, err := testDB.DB.BeginTx(ctxTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lock.Rollback() })
	if _, err := lock.ExecContext(ctxTest, "SELECT id FROM posts WHERE id = ? FOR UPDATE", id); err != nil {
		t.Fatal(err)
	}
	return lock
}

func TestShutdownLetsInFlightRequestsFinish(t *testing.T) {
	srv, reads := lockWaitingServer(t)
	c, stop, done := serve(t, srv, 30*time.Second)
	u := newUser(t, c)
	p := newPost(t, c, u, "before shutdown", "b")

	// Hold the post's row lock so that a PUT is in flight, blocked in the database.
	lock := lockPostRow(t, p.ID)
	put := sendInBackground(c, u, "PUT", "/blog/"+itoa(p.ID)+"/", map[string]string{"title": "during shutdown", "body": "b"})
	reads.waitForLockedRead(t, "the PUT", put)

	stop()
	// The listener closes: new connections are refused while the PUT is still running.
	addr := strings.TrimPrefix(c.base, "http://")
	testenv.WaitFor(t, "the listener to close", func() bool {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
		}
		return err != nil
	})
	select {
	case err := <-done:
		t.Fatalf("Serve returned (%v) before the in-flight request finished", err)
	case r := <-put:
		t.Fatalf("the PUT finished (status %d, err %v) while its row was locked", r.Status, r.err)
	default:
	}
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	r := <-put
	if r.err != nil {
		t.Fatalf("the in-flight PUT was cut off: %v", r.err)
	}
	expect(t, r.response, http.StatusOK)
	expectRow(t, r.RequestID, wantRow{Action: "post.update", User: u.ID, Post: p.ID, Method: "PUT", Route: "/blog/:id/", Path: "/blog/" + itoa(p.ID) + "/", Status: 200})
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

func TestShutdownGivesUpAfterTheGracePeriod(t *testing.T) {
	srv, reads := lockWaitingServer(t)
	c, stop, done := serve(t, srv, 200*time.Millisecond)
	u := newUser(t, c)
	p := newPost(t, c, u, "slow", "b")
	lock := lockPostRow(t, p.ID)
	del := sendInBackground(c, u, "DELETE", "/blog/"+itoa(p.ID)+"/", nil)
	reads.waitForLockedRead(t, "the DELETE", del)
	stop()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "graceful shutdown") {
		t.Fatalf("Serve = %v, want a graceful-shutdown timeout", err)
	}
	// The request still running is cut off unanswered, and its transaction never commits.
	if r := <-del; r.err == nil {
		t.Fatalf("the DELETE still running after the grace period was answered %d %s", r.Status, r.Body)
	}
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	if n := count(t, "SELECT COUNT(*) FROM posts WHERE id = ?", p.ID); n != 1 {
		t.Fatalf("the cut-off DELETE removed the post (%d rows left)", n)
	}
}

// tcpProxy forwards a local port to MariaDB and can cut the connection like an outage would:
// the test's MariaDB is shared, so the outage is made between the API and the server.
type tcpProxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	p := &tcpProxy{t: t, target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.down)
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", p.target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns[in], p.conns[out] = true, true
			p.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); out.Close(); in.Close() }()
			go func() { _, _ = io.Copy(in, out); out.Close(); in.Close() }()
		}
	}()
}

// down refuses new connections and cuts the open ones.
func (p *tcpProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

// up listens again on the same address.
func (p *tcpProxy) up() {
	var ln net.Listener
	var err error
	for range 50 { // the port may take a moment to be free again
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

func TestDatabaseOutageAnswers503AndTheAPIRecoversByItself(t *testing.T) {
	cfg, err := mysql.ParseDSN(testDB.DSN)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, cfg.Addr)
	cfg.Addr = proxy.addr
	db, err := store.Open(cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, _ := newServer(t, func(o *apiserver.Options) { o.DB = db; o.RequestTimeout = 3 * time.Second })

	u := newUser(t, c)
	var created []uint64
	created = append(created, newPost(t, c, u, "before the outage", "b").ID)

	proxy.down()
	for _, req := range []struct{ method, path string }{
		{"POST", "/blog/create/"}, {"GET", "/blog/"}, {"GET", "/readyz"}, {"GET", "/blog/" + itoa(created[0]) + "/"},
	} {
		r := c.do(t, req.method, req.path, map[string]string{"title": "during the outage", "body": "b"}, bearer(u.Access))
		if r.Status != http.StatusServiceUnavailable {
			t.Fatalf("%s %s during the outage: %d %s, want 503", req.method, req.path, r.Status, r.Body)
		}
		if _, ok := r.Map(t)["detail"]; !ok {
			t.Fatalf("503 body %s", r.Body)
		}
	}
	expect(t, c.do(t, "GET", "/healthz", nil), http.StatusOK) // the process itself is fine

	proxy.up()
	// No restart, no reconfiguration: the pool reconnects on the next requests.
	testenv.WaitFor(t, "the API to recover", func() bool { return c.do(t, "GET", "/readyz", nil).Status == http.StatusOK })
	created = append(created, newPost(t, c, u, "after the outage", "b").ID)

	if n := count(t, "SELECT COUNT(*) FROM posts WHERE user_id = ? AND title = 'during the outage'", u.ID); n != 0 {
		t.Fatalf("%d posts were stored during the outage", n)
	}
	for _, id := range created {
		if n := count(t, "SELECT COUNT(*) FROM activity_log WHERE action = 'post.create' AND post_id = ?", id); n != 1 {
			t.Fatalf("post %d has %d post.create rows", id, n)
		}
	}
}

func TestStoreClassifiesUnreachableDatabasesAsUnavailable(t *testing.T) {
	db, err := store.Open(closedPortDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = store.New(db).UserByID(ctxTest, 1)
	if !store.Unavailable(err) {
		t.Fatalf("error for a closed port %v is not Unavailable", err)
	}
	_, err = store.New(testDB.DB).UserByID(ctxTest, 999999999)
	if store.Unavailable(err) || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a missing row: %v", err)
	}
	var myErr *mysql.MySQLError
	_, err = testDB.DB.ExecContext(ctxTest, "SELECT * FROM no_such_table")
	if !errors.As(err, &myErr) || store.Unavailable(err) {
		t.Fatalf("a refused statement counts as unavailable: %v", err)
	}
}
