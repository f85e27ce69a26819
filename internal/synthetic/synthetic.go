// Package synthetic loads a reproducible, realistic activity log into MySQL for tests and
// benchmarks: a few thousand users, hundreds of distinct user agents, IPv4 and IPv6 clients,
// every action of the API, and failed logins that carry an attempted email. The same Options
// always produce the same rows (ids aside, which MySQL assigns).
package synthetic

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/logetl/logetl/internal/activitylog"
)

// Options says what to generate.
type Options struct {
	Rows       int       // number of records
	Seed       uint64    // same seed, same rows
	Start, End time.Time // occurred_at spreads evenly over [Start, End), in increasing order
	Users      int       // distinct user ids (default 3000)
	UserAgents int       // distinct user agents (default 300)
	// BatchRows is the number of rows of one multi-row INSERT (default 1000).
	BatchRows int
}

// Result describes what Load inserted.
type Result struct {
	Rows    int64
	FirstID uint64 // lowest id inserted (0 when Rows == 0)
	LastID  uint64
}

const columns = 14

const insertPrefix = "INSERT INTO activity_log (occurred_at, request_id, user_id, action, method, route, path, status, post_id, client_ip, user_agent, email, message) VALUES "

// rowsPerTx keeps transactions short enough for the redo log and long enough to amortise commits.
const rowsPerTx = 20000

// Load inserts opts.Rows generated records. It uses multi-row INSERTs in transactions through
// one prepared statement, which loads a million rows in well under a minute on a small machine.
func Load(ctx context.Context, db *sql.DB, opts Options) (Result, error) {
	if opts.Rows < 0 {
		return Result{}, errors.New("synthetic: negative row count")
	}
	if !opts.Start.Before(opts.End) {
		return Result{}, fmt.Errorf("synthetic: start %s is not before end %s", opts.Start, opts.End)
	}
	if opts.Users <= 0 {
		opts.Users = 3000
	}
	if opts.UserAgents <= 0 {
		opts.UserAgents = 300
	}
	if opts.BatchRows <= 0 {
		opts.BatchRows = 1000
	}
	g := NewGenerator(opts)
	conn, err := db.Conn(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("synthetic: connect: %w", err)
	}
	defer conn.Close()

	full, err := conn.PrepareContext(ctx, insertSQL(opts.BatchRows))
	if err != nil {
		return Result{}, fmt.Errorf("synthetic: prepare: %w", err)
	}
	defer func() { _ = full.Close() }() // a statement handle: closing it loses nothing

	batch := make([]activitylog.Record, opts.BatchRows)
	args := make([]any, 0, opts.BatchRows*(columns-1))
	return loadBatches(ctx, conn, opts.Rows, opts.BatchRows, func(tx *sql.Tx, n int) (sql.Result, error) {
		for i := 0; i < n; i++ {
			batch[i] = g.Next()
		}
		args = appendArgs(args[:0], batch[:n])
		if n == opts.BatchRows {
			return tx.StmtContext(ctx, full).ExecContext(ctx, args...)
		}
		return tx.ExecContext(ctx, insertSQL(n), args...)
	})
}

// loadBatches inserts rows in multi-row INSERTs of up to batchRows rows, which insert runs in
// tx, committing every rowsPerTx rows, and reports the ids MySQL assigned.
func loadBatches(ctx context.Context, conn *sql.Conn, rows, batchRows int, insert func(tx *sql.Tx, n int) (sql.Result, error)) (Result, error) {
	var res Result
	var tx *sql.Tx
	inTx := 0
	for done := 0; done < rows; {
		n := min(batchRows, rows-done)
		if tx == nil {
			var err error
			if tx, err = conn.BeginTx(ctx, nil); err != nil {
				return res, fmt.Errorf("synthetic: begin: %w", err)
			}
		}
		r, err := insert(tx, n)
		if err != nil {
			_ = tx.Rollback()
			return res, fmt.Errorf("synthetic: insert rows %d..%d: %w", done, done+n, err)
		}
		// A multi-row INSERT reports the id of its first row; the rest follow consecutively
		// (innodb_autoinc_lock_mode keeps a single statement's ids contiguous).
		first, err := r.LastInsertId()
		if err != nil {
			_ = tx.Rollback()
			return res, fmt.Errorf("synthetic: insert id: %w", err)
		}
		if res.FirstID == 0 {
			res.FirstID = uint64(first)
		}
		res.LastID = uint64(first) + uint64(n) - 1
		done += n
		inTx += n
		if inTx >= rowsPerTx || done == rows {
			if err := tx.Commit(); err != nil {
				return res, fmt.Errorf("synthetic: commit: %w", err)
			}
			res.Rows = int64(done)
			tx, inTx = nil, 0
		}
	}
	return res, nil
}

func insertSQL(rows int) string {
	var b strings.Builder
	b.Grow(len(insertPrefix) + rows*30)
	b.WriteString(insertPrefix)
	for i := 0; i < rows; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?)")
	}
	return b.String()
}

func appendArgs(args []any, recs []activitylog.Record) []any {
	for i := range recs {
		r := &recs[i]
		var userID, postID, email any
		if r.UserID != nil {
			userID = *r.UserID
		}
		if r.PostID != nil {
			postID = *r.PostID
		}
		if r.Email != nil {
			email = *r.Email
		}
		args = append(args, r.OccurredAt, r.RequestID, userID, r.Action, r.Method, r.Route, r.Path,
			r.Status, postID, r.ClientIP, r.UserAgent, email, r.Message)
	}
	return args
}

// Generator produces the records of Load one by one (ID is left 0), for callers that want the
// same data without MySQL, e.g. size comparisons.
type Generator struct {
	opts  Options
	rng   *rand.Rand
	uas   []string
	ips   [][]string // per user
	i     int
	step  time.Duration
	posts uint64
}

// NewGenerator returns a generator of opts's records; Load uses the same sequence.
func NewGenerator(opts Options) *Generator {
	if opts.Users <= 0 {
		opts.Users = 3000
	}
	if opts.UserAgents <= 0 {
		opts.UserAgents = 300
	}
	rng := rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))
	g := &Generator{opts: opts, rng: rng, posts: 1000}
	g.uas = userAgents(rng, opts.UserAgents)
	g.ips = make([][]string, opts.Users+1)
	for u := 1; u <= opts.Users; u++ {
		n := 1 + rng.IntN(3)
		for j := 0; j < n; j++ {
			g.ips[u] = append(g.ips[u], randomIP(rng))
		}
	}
	if opts.Rows > 0 {
		g.step = opts.End.Sub(opts.Start) / time.Duration(opts.Rows)
	}
	return g
}

type action struct {
	name, method, route string
	status              int
	weight              int
	message             string
}

// The mix of a busy blog: mostly reads, some writes, a few failed logins.
var actions = []action{
	{activitylog.ActionPostView, "GET", "/blog/:id/", 200, 40, "GET content detail success"},
	{activitylog.ActionPostCreate, "POST", "/blog/create/", 201, 10, "POST content create success"},
	{activitylog.ActionPostUpdate, "PUT", "/blog/:id/", 200, 5, "PUT content update success"},
	{activitylog.ActionPostDelete, "DELETE", "/blog/:id/", 204, 2, "DELETE content delete success"},
	{activitylog.ActionUserLogin, "POST", "/user/login/", 200, 15, "POST user login success"},
	{activitylog.ActionUserLoginFailed, "POST", "/user/login/", 401, 5, "POST user login failed"},
	{activitylog.ActionTokenRefresh, "POST", "/user/token/refresh/", 200, 15, "POST token refresh success"},
	{activitylog.ActionUserSignup, "POST", "/user/signup/", 201, 6, "POST user signup success"},
	{activitylog.ActionUserWithdraw, "DELETE", "/user/:id/withdraw/", 204, 2, "DELETE user withdraw success"},
}

var totalWeight = func() int {
	t := 0
	for _, a := range actions {
		t += a.weight
	}
	return t
}()

// Next returns the next record.
func (g *Generator) Next() activitylog.Record {
	rng := g.rng
	at := g.opts.Start.Add(time.Duration(g.i) * g.step)
	if g.step > time.Microsecond {
		at = at.Add(time.Duration(rng.Int64N(int64(g.step))))
	}
	g.i++
	at = at.Truncate(time.Microsecond).UTC()
	if !at.Before(g.opts.End) {
		at = g.opts.End.Add(-time.Microsecond)
	}

	pick := rng.IntN(totalWeight)
	a := actions[len(actions)-1]
	for _, c := range actions {
		if pick < c.weight {
			a = c
			break
		}
		pick -= c.weight
	}
	user := uint64(1 + rng.IntN(g.opts.Users))
	ips := g.ips[user]
	rec := activitylog.Record{
		OccurredAt: at,
		RequestID:  requestID(rng),
		Action:     a.name,
		Method:     a.method,
		Route:      a.route,
		Path:       a.route,
		Status:     a.status,
		ClientIP:   ips[rng.IntN(len(ips))],
		UserAgent:  g.uas[rng.IntN(len(g.uas))],
		Message:    a.message,
	}
	switch a.name {
	case activitylog.ActionUserLoginFailed:
		// Anonymous: the attempted email is the only clue, and it is personal data.
		e := fmt.Sprintf("user%d@example.%s", rng.IntN(g.opts.Users*2), []string{"com", "org", "kr", "net"}[rng.IntN(4)])
		rec.Email = &e
		rec.ClientIP = randomIP(rng)
	case activitylog.ActionPostView:
		if rng.IntN(3) == 0 { // anonymous readers
			break
		}
		rec.UserID = &user
	default:
		rec.UserID = &user
	}
	switch a.route {
	case "/blog/:id/":
		pid := 1 + uint64(rng.Int64N(int64(g.posts)))
		rec.PostID = &pid
		rec.Path = "/blog/" + strconv.FormatUint(pid, 10) + "/"
	case "/blog/create/":
		g.posts++
		pid := g.posts
		rec.PostID = &pid
	case "/user/:id/withdraw/":
		rec.Path = "/user/" + strconv.FormatUint(user, 10) + "/withdraw/"
	}
	return rec
}

func requestID(rng *rand.Rand) string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return hex.EncodeToString(b[:])
}

func randomIP(rng *rand.Rand) string {
	if rng.IntN(5) == 0 {
		var a [16]byte
		a[0], a[1] = 0x20, 0x01
		a[2], a[3] = 0x0d, 0xb8
		for i := 4; i < 16; i++ {
			a[i] = byte(rng.IntN(256))
		}
		return netip.AddrFrom16(a).String()
	}
	return netip.AddrFrom4([4]byte{byte(1 + rng.IntN(223)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(1 + rng.IntN(254))}).String()
}

func userAgents(rng *rand.Rand, n int) []string {
	platforms := []string{
		"Windows NT 10.0; Win64; x64", "Macintosh; Intel Mac OS X 10_15_7", "X11; Linux x86_64",
		"iPhone; CPU iPhone OS 17_4 like Mac OS X", "Linux; Android 14; SM-S918N", "iPad; CPU OS 16_6 like Mac OS X",
	}
	seen := make(map[string]bool, n)
	out := make([]string, 0, n)
	for len(out) < n {
		p := platforms[rng.IntN(len(platforms))]
		var ua string
		switch rng.IntN(5) {
		case 0, 1:
			ua = fmt.Sprintf("Mozilla/5.0 (%s) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.%d.%d Safari/537.36", p, 100+rng.IntN(30), 4000+rng.IntN(2000), rng.IntN(200))
		case 2:
			ua = fmt.Sprintf("Mozilla/5.0 (%s; rv:%d.0) Gecko/20100101 Firefox/%d.0", p, 100+rng.IntN(30), 100+rng.IntN(30))
		case 3:
			ua = fmt.Sprintf("Mozilla/5.0 (%s) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/%d.%d Mobile/15E148 Safari/604.1", p, 14+rng.IntN(4), rng.IntN(7))
		default:
			ua = fmt.Sprintf("logetl-bot/%d.%d python-requests/2.%d.%d", 1+rng.IntN(3), rng.IntN(10), 20+rng.IntN(12), rng.IntN(5))
		}
		if !seen[ua] {
			seen[ua] = true
			out = append(out, ua)
		}
	}
	return out
}
