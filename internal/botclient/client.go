// Package botclient is the HTTP client that bots use to drive the logetl API exactly as its
// other clients do (paths, payloads and status codes of the API contract), and the bots' own
// behaviour: sign up a new bot account, or run one bot's session of post actions.
package botclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client calls the API at BaseURL. It holds no credentials: tokens are passed per call so that
// one Client serves many bots.
type Client struct {
	baseURL string
	http    *http.Client
}

// New returns a client of the API at baseURL (e.g. http://127.0.0.1:8080). A nil hc gets a
// client with a 30s timeout.
func New(baseURL string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("api url %q: want http(s)://host[:port]", baseURL)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{baseURL: strings.TrimRight(baseURL, "/"), http: hc}, nil
}

// APIError is a non-2xx answer of the API. Body is the start of the response, which by the
// contract never holds a secret (DRF-style {"detail"} or {"field": [...]}).
type APIError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, e.Body)
}

// StatusOf returns the HTTP status of an *APIError in err's chain, or 0.
func StatusOf(err error) int {
	var e *APIError
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// SignupRequest is the body of POST /user/signup/.
type SignupRequest struct {
	Email     string `json:"email"`
	Nickname  string `json:"nickname"`
	Gender    string `json:"gender"`
	Password  string `json:"password"`
	Password2 string `json:"password2"`
	Name      string `json:"name"`
	BirthDate string `json:"birth_date"`
}

// User is the API's user representation.
type User struct {
	ID       uint64 `json:"id"`
	Email    string `json:"email"`
	Nickname string `json:"nickname"`
}

// Tokens is a JWT pair. Never log it.
type Tokens struct {
	Access  string `json:"access"`
	Refresh string `json:"refresh"`
}

// Post is the API's post representation.
type Post struct {
	ID    uint64 `json:"id"`
	Title string `json:"title"`
	Body  string `json:"body"`
	Views uint64 `json:"views"`
	User  uint64 `json:"user"`
}

// GenderStats is the answer of GET /user/gender-stats/.
type GenderStats struct {
	Male   int `json:"male_count"`
	Female int `json:"female_count"`
}

// Signup creates an account (201).
func (c *Client) Signup(ctx context.Context, in SignupRequest) (User, error) {
	var u User
	err := c.do(ctx, http.MethodPost, "/user/signup/", "", in, http.StatusCreated, &u)
	return u, err
}

// Login exchanges credentials for tokens (200).
func (c *Client) Login(ctx context.Context, email, password string) (Tokens, error) {
	var out struct {
		Email string `json:"email"`
		Token Tokens `json:"token"`
	}
	err := c.do(ctx, http.MethodPost, "/user/login/", "", map[string]string{"email": email, "password": password}, http.StatusOK, &out)
	return out.Token, err
}

// GenderStats reads the public user counts.
func (c *Client) GenderStats(ctx context.Context) (GenderStats, error) {
	var s GenderStats
	err := c.do(ctx, http.MethodGet, "/user/gender-stats/", "", nil, http.StatusOK, &s)
	return s, err
}

// CreatePost writes a post as the token's user (201).
func (c *Client) CreatePost(ctx context.Context, access, title, body string) (Post, error) {
	var p Post
	err := c.do(ctx, http.MethodPost, "/blog/create/", access, map[string]string{"title": title, "body": body}, http.StatusCreated, &p)
	return p, err
}

// UpdatePost replaces a post's title and body (PUT, 200).
func (c *Client) UpdatePost(ctx context.Context, access string, id uint64, title, body string) (Post, error) {
	var p Post
	err := c.do(ctx, http.MethodPut, "/blog/"+strconv.FormatUint(id, 10)+"/", access, map[string]string{"title": title, "body": body}, http.StatusOK, &p)
	return p, err
}

// GetPost reads a post, which counts a view (200).
func (c *Client) GetPost(ctx context.Context, id uint64) (Post, error) {
	var p Post
	err := c.do(ctx, http.MethodGet, "/blog/"+strconv.FormatUint(id, 10)+"/", "", nil, http.StatusOK, &p)
	return p, err
}

// DeletePost deletes the token user's post (204).
func (c *Client) DeletePost(ctx context.Context, access string, id uint64) error {
	return c.do(ctx, http.MethodDelete, "/blog/"+strconv.FormatUint(id, 10)+"/", access, nil, http.StatusNoContent, nil)
}

func (c *Client) do(ctx context.Context, method, path, access string, in any, want int, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encode body: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL+path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "logetl-bot/1")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if access != "" {
		req.Header.Set("Authorization", "Bearer "+access)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return &APIError{Method: method, Path: path, Status: resp.StatusCode, Body: strings.TrimSpace(string(b))}
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

func asAPIError(err error, target **APIError) bool { return errors.As(err, target) }
