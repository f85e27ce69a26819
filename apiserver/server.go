// Package apiserver is logetl's REST API: the gin server that keeps the paths, payloads and
// behaviour of the Django REST Framework service it replaces (see docs/api-contract.md and
// apiserver/README.md), writing one activity_log row per state-changing action in the
// transaction of the change.
package apiserver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/logetl/logetl/apiserver/auth"
	"github.com/logetl/logetl/apiserver/store"
)

// Options configure a Server. DB and JWTSecret are required; zero values of the rest pick the
// defaults noted.
type Options struct {
	DB        *sql.DB
	JWTSecret []byte
	// Backfills starts backfill runs for POST /admin/backfills; nil answers 503.
	Backfills BackfillStarter
	// AdminEmails are made admins at Serve start, at signup and at login.
	AdminEmails []string
	// TrustedProxies whose X-Forwarded-For is believed; none by default.
	TrustedProxies []string
	// MaxBodyBytes bounds request bodies (default 1 MiB).
	MaxBodyBytes int64
	// RequestTimeout bounds a request's database work (default 10s).
	RequestTimeout time.Duration
	// LoginRate limits login attempts per client IP and email (default 10 a minute, burst 10).
	LoginRate LoginRate
	// BcryptCost of new password hashes (default bcrypt.DefaultCost).
	BcryptCost int
	// SecureCookies marks the token cookies Secure (set it when clients use HTTPS).
	SecureCookies bool
	// Registry receives the API's metrics and is served on /metrics (default: a new registry
	// with the Go and process collectors).
	Registry *prometheus.Registry
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// LoginRate is a token bucket per client IP and email.
type LoginRate struct {
	PerMinute float64
	Burst     int
}

// Server is the API.
type Server struct {
	store         *store.Store
	tokens        *auth.Tokens
	passwords     *auth.Passwords
	limiter       *loginLimiter
	backfills     BackfillStarter
	admins        map[string]bool // lower-cased emails
	maxBody       int64
	timeout       time.Duration
	secureCookies bool
	registry      *prometheus.Registry
	metrics       *httpMetrics
	log           *slog.Logger
	engine        *gin.Engine
}

// New builds the API on opts.
func New(opts Options) (*Server, error) {
	if opts.DB == nil {
		return nil, errors.New("apiserver: no database")
	}
	tokens, err := auth.NewTokens(opts.JWTSecret, nil)
	if err != nil {
		return nil, fmt.Errorf("apiserver: %w", err)
	}
	passwords, err := auth.NewPasswords(opts.BcryptCost)
	if err != nil {
		return nil, fmt.Errorf("apiserver: %w", err)
	}
	s := &Server{
		store:         store.New(opts.DB),
		tokens:        tokens,
		passwords:     passwords,
		backfills:     opts.Backfills,
		admins:        map[string]bool{},
		maxBody:       opts.MaxBodyBytes,
		timeout:       opts.RequestTimeout,
		secureCookies: opts.SecureCookies,
		registry:      opts.Registry,
		log:           opts.Logger,
	}
	for _, e := range opts.AdminEmails {
		if e = strings.ToLower(strings.TrimSpace(e)); e != "" {
			s.admins[e] = true
		}
	}
	if s.maxBody <= 0 {
		s.maxBody = 1 << 20
	}
	if s.timeout <= 0 {
		s.timeout = 10 * time.Second
	}
	rate := opts.LoginRate
	if rate.PerMinute <= 0 {
		rate.PerMinute = 10
	}
	if rate.Burst <= 0 {
		rate.Burst = 10
	}
	s.limiter = newLoginLimiter(rate, time.Now)
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.registry == nil {
		s.registry = prometheus.NewRegistry()
		s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if s.metrics, err = newHTTPMetrics(s.registry); err != nil {
		return nil, fmt.Errorf("apiserver: %w", err)
	}
	if s.engine, err = s.routes(opts.TrustedProxies); err != nil {
		return nil, fmt.Errorf("apiserver: %w", err)
	}
	return s, nil
}

// Handler is the API as an http.Handler (tests serve it with httptest).
func (s *Server) Handler() http.Handler { return s.engine }

// GrantConfiguredAdmins makes the existing users of the configured admin emails admins.
func (s *Server) GrantConfiguredAdmins(ctx context.Context) error {
	for email := range s.admins {
		found, err := s.store.GrantAdmin(ctx, email)
		if err != nil {
			return err
		}
		if !found {
			s.log.InfoContext(ctx, "configured admin has not signed up yet; granted at signup")
		}
	}
	return nil
}

// ListenAndServe listens on addr and serves until ctx is done (see Serve).
func (s *Server) ListenAndServe(ctx context.Context, addr string, grace time.Duration) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return s.Serve(ctx, ln, grace)
}

// Serve grants the configured admins, then serves on ln until ctx is done. It then stops
// accepting connections and lets in-flight requests finish for up to grace; requests still
// running after that are cut off and Serve returns an error saying so.
func (s *Server) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	// A database that is down at start must not keep the API down: it answers 503 until the
	// database is back, and the grant happens again at each listed user's next login.
	if err := s.GrantConfiguredAdmins(ctx); err != nil {
		s.log.WarnContext(ctx, "could not grant the configured admins at start", "err", err)
	}
	srv := &http.Server{
		Handler:           s.engine,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		// Requests get a context of their own, not ctx: a stop signal must let them finish.
		BaseContext: func(net.Listener) context.Context { return context.Background() },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.InfoContext(ctx, "API listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("API shutting down; waiting for in-flight requests", "grace", grace)
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Past the grace period the remaining connections are cut; the error that matters is
		// the shutdown's.
		_ = srv.Close()
		return fmt.Errorf("graceful shutdown after %s: %w", grace, err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	s.log.Info("API stopped")
	return nil
}

// routes builds the gin engine: middleware, the contract's routes and the operations endpoints.
func (s *Server) routes(trustedProxies []string) (*gin.Engine, error) {
	gin.SetMode(gin.ReleaseMode) // no debug route dump on stdout
	e := gin.New()
	e.HandleMethodNotAllowed = true
	// gin trusts every proxy by default, which would let any client forge its IP in the activity
	// log and dodge the login rate limit: only configured proxies are believed.
	if err := e.SetTrustedProxies(trustedProxies); err != nil {
		return nil, fmt.Errorf("trusted proxies: %w", err)
	}
	e.Use(s.recoverPanic, s.requestID, s.observe, s.limitRequest)
	e.NoRoute(func(c *gin.Context) { detail(c, http.StatusNotFound, "Not found.") })
	e.NoMethod(func(c *gin.Context) {
		detail(c, http.StatusMethodNotAllowed, fmt.Sprintf("Method %q not allowed.", c.Request.Method))
	})

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", gin.WrapH(s.metricsHandler()))

	u := e.Group("/user")
	u.POST("/signup/", s.signup)
	u.POST("/login/", s.login)
	u.POST("/token/", s.obtainToken)
	u.POST("/token/refresh/", s.refreshToken)
	u.POST("/token/verify/", s.verifyToken)
	u.GET("/user_list/", s.listUsers)
	u.DELETE("/:id/withdraw/", s.withdraw)
	u.GET("/gender-stats/", s.genderStats)
	u.GET("/birth-stats/", s.birthStats)

	b := e.Group("/blog")
	b.GET("/", s.listPosts)
	b.POST("/create/", s.createPost)
	b.GET("/statistic/", s.postStats)
	b.GET("/:id/", s.viewPost)
	b.PUT("/:id/", s.updatePost)
	b.PATCH("/:id/", s.updatePost)
	b.DELETE("/:id/", s.deletePost)

	e.POST("/admin/backfills", s.startBackfill)
	e.POST("/admin/backfills/", s.startBackfill)
	return e, nil
}
