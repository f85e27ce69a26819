package synthetic

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// WideTable is the MySQL table of the wide synthetic log: 27 columns of mixed types (integers of
// several widths, signed and unsigned, DECIMAL, DOUBLE, FLOAT, BOOLEAN, CHAR, VARCHAR, TEXT, JSON,
// DATE, DATETIME, TIMESTAMP), a third of them nullable, with the (time, id) index an export needs.
const WideTable = "wide_log"

// WideDDL creates WideTable.
const WideDDL = `CREATE TABLE IF NOT EXISTS wide_log (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  occurred_at DATETIME(6) NOT NULL,
  tenant_id INT NOT NULL,
  session_id BIGINT NOT NULL,
  user_id BIGINT UNSIGNED NULL,
  event_type VARCHAR(32) NOT NULL,
  severity TINYINT NOT NULL,
  success BOOLEAN NOT NULL,
  amount DECIMAL(12,2) NULL,
  balance DECIMAL(18,4) NOT NULL,
  latency_ms DOUBLE NOT NULL,
  score FLOAT NULL,
  country CHAR(2) NOT NULL,
  currency VARCHAR(3) NULL,
  endpoint VARCHAR(255) NOT NULL,
  http_status SMALLINT UNSIGNED NOT NULL,
  request_bytes INT UNSIGNED NOT NULL,
  client_ip VARCHAR(45) NOT NULL,
  email VARCHAR(254) NULL,
  phone VARCHAR(32) NULL,
  user_agent VARCHAR(512) NOT NULL,
  payload JSON NOT NULL,
  tags JSON NULL,
  notes TEXT NULL,
  internal_token VARCHAR(64) NOT NULL,
  created_date DATE NOT NULL,
  updated_at TIMESTAMP(3) NULL,
  KEY wide_log_window (occurred_at, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`

// wideColumns are WideTable's columns after id, in insert order.
var wideColumns = []string{
	"occurred_at", "tenant_id", "session_id", "user_id", "event_type", "severity", "success", "amount",
	"balance", "latency_ms", "score", "country", "currency", "endpoint", "http_status", "request_bytes",
	"client_ip", "email", "phone", "user_agent", "payload", "tags", "notes", "internal_token",
	"created_date", "updated_at",
}

// WideGenerator produces the rows of LoadWide, each as its column values in wideColumns order.
type WideGenerator struct {
	opts Options
	rng  *rand.Rand
	uas  []string
	ips  [][]string
	i    int
	step time.Duration
}

// NewWideGenerator returns the generator of opts's wide rows; LoadWide uses the same sequence.
func NewWideGenerator(opts Options) *WideGenerator {
	if opts.Users <= 0 {
		opts.Users = 3000
	}
	if opts.UserAgents <= 0 {
		opts.UserAgents = 300
	}
	rng := rand.New(rand.NewPCG(opts.Seed^0x5bd1e995, opts.Seed))
	g := &WideGenerator{opts: opts, rng: rng, uas: userAgents(rng, opts.UserAgents)}
	g.ips = make([][]string, opts.Users+1)
	for u := 1; u <= opts.Users; u++ {
		for j := 0; j <= rng.IntN(3); j++ {
			g.ips[u] = append(g.ips[u], randomIP(rng))
		}
	}
	if opts.Rows > 0 {
		g.step = opts.End.Sub(opts.Start) / time.Duration(opts.Rows)
	}
	return g
}

var (
	wideEvents    = []string{"page.view", "cart.add", "cart.remove", "checkout.start", "checkout.pay", "login", "logout", "search", "api.call", "export.download"}
	wideCountries = []string{"KR", "US", "DE", "FR", "JP", "GB", "BR", "IN", "CA", "AU"}
	wideCurrency  = []string{"KRW", "USD", "EUR", "EUR", "JPY", "GBP", "BRL", "INR", "CAD", "AUD"}
	wideEndpoints = []string{"/api/v2/orders", "/api/v2/orders/:id", "/api/v2/cart", "/api/v2/search", "/api/v2/users/:id", "/checkout", "/login", "/logout", "/export/:id"}
	wideTags      = []string{"mobile", "beta", "promo", "returning", "new", "vip", "bot-suspect"}
)

// Next returns the next row's values.
func (g *WideGenerator) Next() []any {
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
	user := uint64(1 + rng.IntN(g.opts.Users))
	var userID, amount, score, currency, email, phone, tags, notes, updated any
	if rng.IntN(4) != 0 {
		userID = user
	}
	ev := rng.IntN(len(wideEvents))
	c := rng.IntN(len(wideCountries))
	if ev >= 1 && ev <= 4 {
		amount = strconv.Itoa(rng.IntN(100000)) + "." + fmt.Sprintf("%02d", rng.IntN(100))
		currency = wideCurrency[c]
	}
	if rng.IntN(2) == 0 {
		score = rng.Float32() * 100
	}
	if rng.IntN(10) == 0 {
		email = fmt.Sprintf("customer%d@example.%s", user, []string{"com", "org", "kr", "net"}[rng.IntN(4)])
	}
	if rng.IntN(20) == 0 {
		phone = fmt.Sprintf("+82-10-%04d-%04d", rng.IntN(10000), rng.IntN(10000))
	}
	if rng.IntN(3) == 0 {
		tags = `["` + wideTags[rng.IntN(len(wideTags))] + `","` + wideTags[rng.IntN(len(wideTags))] + `"]`
	}
	if rng.IntN(8) == 0 {
		notes = "customer note " + strconv.Itoa(rng.IntN(1_000_000)) + ": " + strings.Repeat("lorem ipsum ", 1+rng.IntN(6))
	}
	if rng.IntN(3) != 0 {
		updated = at.Add(time.Duration(rng.IntN(3_600_000)) * time.Millisecond).Truncate(time.Millisecond)
	}
	status := []int{200, 200, 200, 200, 201, 204, 301, 400, 401, 404, 500}[rng.IntN(11)]
	endpoint := wideEndpoints[rng.IntN(len(wideEndpoints))]
	endpoint = strings.ReplaceAll(endpoint, ":id", strconv.Itoa(1+rng.IntN(50000)))
	payload := fmt.Sprintf(`{"v": 2, "event": %q, "items": %d, "page": %d, "ab": %q, "ref": "https://example.com/r/%d"}`,
		wideEvents[ev], rng.IntN(12), 1+rng.IntN(40), []string{"A", "B"}[rng.IntN(2)], rng.IntN(1000))
	ips := g.ips[user]
	return []any{
		at, 1 + rng.IntN(40), rng.Int64N(1 << 40), userID, wideEvents[ev], rng.IntN(8) - 1, status < 400,
		amount, fmt.Sprintf("%d.%04d", rng.Int64N(1_000_000_000), rng.IntN(10000)), rng.ExpFloat64() * 35, score,
		wideCountries[c], currency, endpoint, status, 200 + rng.IntN(60000),
		ips[rng.IntN(len(ips))], email, phone, g.uas[rng.IntN(len(g.uas))], payload, tags, notes,
		requestID(rng) + requestID(rng), at.Format("2006-01-02"), updated,
	}
}

func wideInsertSQL(rows int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", len(wideColumns)), ",") + ")"
	var b strings.Builder
	b.WriteString("INSERT INTO " + WideTable + " (" + strings.Join(wideColumns, ", ") + ") VALUES ")
	for i := 0; i < rows; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(one)
	}
	return b.String()
}

// LoadWide creates WideTable if needed and inserts opts.Rows generated rows, as Load does for
// activity_log.
func LoadWide(ctx context.Context, db *sql.DB, opts Options) (Result, error) {
	if opts.Rows < 0 {
		return Result{}, errors.New("synthetic: negative row count")
	}
	if !opts.Start.Before(opts.End) {
		return Result{}, fmt.Errorf("synthetic: start %s is not before end %s", opts.Start, opts.End)
	}
	if opts.BatchRows <= 0 {
		opts.BatchRows = 500
	}
	if _, err := db.ExecContext(ctx, WideDDL); err != nil {
		return Result{}, fmt.Errorf("synthetic: create %s: %w", WideTable, err)
	}
	g := NewWideGenerator(opts)
	conn, err := db.Conn(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("synthetic: connect: %w", err)
	}
	defer conn.Close()
	args := make([]any, 0, opts.BatchRows*len(wideColumns))
	return loadBatches(ctx, conn, opts.Rows, opts.BatchRows, func(tx *sql.Tx, n int) (sql.Result, error) {
		args = args[:0]
		for i := 0; i < n; i++ {
			args = append(args, g.Next()...)
		}
		return tx.ExecContext(ctx, wideInsertSQL(n), args...)
	})
}
