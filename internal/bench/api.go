package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/logetl/logetl/apiserver"
	"github.com/logetl/logetl/apiserver/store"
	"github.com/logetl/logetl/internal/activitylog"
	"github.com/logetl/logetl/internal/botclient"
)

// Load is the result of a fixed-concurrency load of one operation.
type Load struct {
	Concurrency int     `json:"concurrency"`
	Seconds     float64 `json:"seconds"`
	Requests    int64   `json:"requests"` // successful operations in the measured period
	Errors      int64   `json:"errors"`
	PerSec      float64 `json:"per_sec"`
	P50ms       float64 `json:"p50_ms"`
	P90ms       float64 `json:"p90_ms"`
	P99ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
	// FirstError describes one failure, if any, for the report.
	FirstError string `json:"first_error,omitempty"`
	// CPU is what each process spent in the measured period.
	CPU *CPUUse `json:"cpu,omitempty"`
}

// APIResult compares POST /blog/create/ through the API with the same transactions sent
// straight to MySQL.
type APIResult struct {
	API Load `json:"api"`
	Raw Load `json:"raw_transactions"`
	// Ratio is API requests/s over raw transactions/s.
	Ratio float64 `json:"ratio"`
}

// postTitle and postBody are what every created post says: the same bytes through the API and
// straight to MySQL.
const postTitle = "bench post"

var postBody = bytes.Repeat([]byte("logetl bench body text. "), 8)

// runLoad runs op from concurrency workers: first for warmup (not counted), then for d. Each
// worker records the latency of its successful operations.
func runLoad(ctx context.Context, meter *cpuMeter, concurrency int, warmup, d time.Duration, op func(ctx context.Context, worker int) error) Load {
	var (
		wg       sync.WaitGroup
		errCount atomic.Int64
		firstErr atomic.Value
		lats     = make([][]time.Duration, concurrency)
	)
	began := time.Now()
	measureFrom := began.Add(warmup)
	stop := measureFrom.Add(d)
	cpuStart := make(chan cpuSnapshot, 1)
	go func() {
		time.Sleep(time.Until(measureFrom))
		cpuStart <- meter.snapshot()
	}()
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := make([]time.Duration, 0, 4096)
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(stop) {
					break
				}
				err := op(ctx, w)
				t1 := time.Now()
				if t0.Before(measureFrom) || t1.After(stop) {
					continue // warm-up, or straddling the end: not in the measured period
				}
				if err != nil {
					if errCount.Add(1) == 1 {
						firstErr.Store(err.Error())
					}
					continue
				}
				own = append(own, t1.Sub(t0))
			}
			lats[w] = own
		}()
	}
	wg.Wait()
	cpu := meter.since(<-cpuStart)
	all := slices.Concat(lats...)
	slices.Sort(all)
	l := Load{Concurrency: concurrency, Seconds: d.Seconds(), Requests: int64(len(all)), Errors: errCount.Load(), CPU: &cpu}
	if s, ok := firstErr.Load().(string); ok {
		l.FirstError = s
	}
	if d > 0 {
		l.PerSec = float64(len(all)) / d.Seconds()
	}
	if len(all) > 0 {
		l.P50ms = ms(percentile(all, 0.50))
		l.P90ms = ms(percentile(all, 0.90))
		l.P99ms = ms(percentile(all, 0.99))
		l.MaxMs = ms(all[len(all)-1])
	}
	return l
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// percentile of sorted values by the nearest-rank method.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(p*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// benchAPI measures POST /blog/create/ against a real apiserver on a free loopback port, then
// the same transactions (post row + activity_log row, committed together) straight to MySQL,
// both at the same concurrency, for the same time, against the same database.
func benchAPI(ctx context.Context, meter *cpuMeter, dsn string, concurrency int, d time.Duration) (APIResult, error) {
	warmup := min(d/5, 2*time.Second)
	apiDB, err := store.Open(dsn)
	if err != nil {
		return APIResult{}, err
	}
	defer apiDB.Close()
	secret := make([]byte, 32)
	fillRandom(secret)
	srv, err := apiserver.New(apiserver.Options{
		DB:         apiDB,
		JWTSecret:  secret,
		BcryptCost: bcrypt.MinCost, // only the setup's signups hash passwords
		// The load is one client IP creating many posts: keep the API's own logs to warnings.
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return APIResult{}, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return APIResult{}, fmt.Errorf("listen: %w", err)
	}
	sctx, stopServer := context.WithCancel(context.WithoutCancel(ctx))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, ln, 5*time.Second) }()
	defer func() {
		stopServer()
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "bench: api server:", err)
		}
	}()
	hc := &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        concurrency,
			MaxIdleConnsPerHost: concurrency,
			MaxConnsPerHost:     concurrency,
			DisableCompression:  true,
		},
	}
	defer hc.CloseIdleConnections()
	client, err := botclient.New("http://"+ln.Addr().String(), hc)
	if err != nil {
		return APIResult{}, err
	}
	users, tokens, err := signUp(ctx, client, concurrency)
	if err != nil {
		return APIResult{}, err
	}
	body := string(postBody)
	var res APIResult
	res.API = runLoad(ctx, meter, concurrency, warmup, d, func(ctx context.Context, w int) error {
		_, err := client.CreatePost(ctx, tokens[w], postTitle, body)
		return err
	})
	if err := ctx.Err(); err != nil {
		return res, err
	}

	rawDB, err := store.Open(dsn) // the API's pool settings, without the API
	if err != nil {
		return res, err
	}
	defer rawDB.Close()
	res.Raw = runLoad(ctx, meter, concurrency, warmup, d, func(ctx context.Context, w int) error {
		return rawCreatePost(ctx, rawDB, users[w])
	})
	if res.Raw.PerSec > 0 {
		res.Ratio = res.API.PerSec / res.Raw.PerSec
	}
	return res, ctx.Err()
}

// signUp creates one user per worker through the API and returns their ids and access tokens.
func signUp(ctx context.Context, client *botclient.Client, n int) ([]uint64, []string, error) {
	var tag [4]byte
	fillRandom(tag[:])
	run := hex.EncodeToString(tag[:])
	users := make([]uint64, n)
	tokens := make([]string, n)
	for i := 0; i < n; i++ {
		email := fmt.Sprintf("bench%d-%s@example.com", i, run)
		password := "bench-password-" + run
		u, err := client.Signup(ctx, botclient.SignupRequest{
			Email: email, Nickname: fmt.Sprintf("bench%d%s", i, run), Name: "Bench " + strconv.Itoa(i),
			Gender: []string{"M", "F"}[i%2], Password: password, Password2: password, BirthDate: "1990-01-01",
		})
		if err != nil {
			return nil, nil, fmt.Errorf("sign up bench user: %w", err)
		}
		tok, err := client.Login(ctx, email, password)
		if err != nil {
			return nil, nil, fmt.Errorf("log in bench user: %w", err)
		}
		if u.ID == 0 || tok.Access == "" {
			return nil, nil, errors.New("sign up bench user: no id or token in the answer")
		}
		users[i], tokens[i] = u.ID, tok.Access
	}
	return users, tokens, nil
}

// fillRandom fills b from crypto/rand.
func fillRandom(b []byte) {
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
}

// rawCreatePost is the API's post.create transaction without the API: the post row and its
// activity_log row, committed together.
func rawCreatePost(ctx context.Context, db *sql.DB, user uint64) error {
	var rid [16]byte
	fillRandom(rid[:])
	now := time.Now().UTC().Truncate(time.Microsecond)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	res, err := tx.ExecContext(ctx, "INSERT INTO posts (user_id, title, body, views, created_at, updated_at) VALUES (?, ?, ?, 0, ?, ?)",
		user, postTitle, string(postBody), now, now)
	if err != nil {
		return fmt.Errorf("insert post: %w", err)
	}
	postID, err := res.LastInsertId()
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO activity_log
		(occurred_at, request_id, user_id, action, method, route, path, status, post_id, client_ip, user_agent, email, message)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		now, hex.EncodeToString(rid[:]), user, activitylog.ActionPostCreate, http.MethodPost, "/blog/create/", "/blog/create/",
		http.StatusCreated, postID, "127.0.0.1", "Go-http-client/1.1", nil, "POST content create success"); err != nil {
		return fmt.Errorf("insert activity log: %w", err)
	}
	return tx.Commit()
}
