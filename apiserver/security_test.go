//go:build integration

package apiserver_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/logetl/logetl/apiserver"
	"github.com/logetl/logetl/apiserver/auth"
)

func signed(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestForgedTokensAreRefusedWith401(t *testing.T) {
	u := newUser(t, api)
	claims := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		now := time.Now()
		c := jwt.MapClaims{"token_type": "access", "user_id": u.ID, "sub": itoa(u.ID), "iss": "logetl",
			"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": "j"}
		if edit != nil {
			edit(c)
		}
		return c
	}
	// Control: the same claims, properly signed, are accepted; so each refusal below is the attack's.
	expect(t, api.do(t, "POST", "/blog/create/", map[string]string{"title": "control", "body": "b"}, bearer(signed(t, jwt.SigningMethodHS256, secret, claims(nil)))), http.StatusCreated)

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(u.Access, ".")
	victim := newUser(t, api)
	forgedPayload := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(
		`{"token_type":"access","user_id":%d,"sub":"%d","iss":"logetl","iat":%d,"exp":%d}`, victim.ID, victim.ID, time.Now().Unix(), time.Now().Add(time.Hour).Unix())))
	expired, err := auth.NewTokens(secret, func() time.Time { return time.Now().Add(-31 * time.Minute) })
	if err != nil {
		t.Fatal(err)
	}
	expiredAccess, _ := expired.IssueAccess(u.ID)
	attacks := map[string]string{
		"alg none":                  signed(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil)),
		"HS512 with the secret":     signed(t, jwt.SigningMethodHS512, secret, claims(nil)),
		"RS256":                     signed(t, jwt.SigningMethodRS256, rsaKey, claims(nil)),
		"HS256 with another secret": signed(t, jwt.SigningMethodHS256, []byte("not-the-secret-0123456789-abcdefghijk"), claims(nil)),
		"tampered payload":          parts[0] + "." + forgedPayload + "." + parts[2],
		"header says HS384":         base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS384","typ":"JWT"}`)) + "." + parts[1] + "." + parts[2],
		"signature removed":         parts[0] + "." + parts[1] + ".",
		"expired":                   expiredAccess,
		"refresh used as access":    u.Refresh,
		"no expiry":                 signed(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { delete(c, "exp") })),
		"no token type":             signed(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { delete(c, "token_type") })),
		"garbage":                   "a.b.c",
	}
	for name, tok := range attacks {
		t.Run(name, func(t *testing.T) {
			for via, opt := range map[string]reqOpt{"header": bearer(tok), "cookie": header("Cookie", "access="+tok)} {
				r := api.do(t, "POST", "/blog/create/", map[string]string{"title": "forged " + name, "body": "b"}, opt)
				expectDetail(t, r, http.StatusUnauthorized, "Given token not valid for any token type")
				if r.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s: 401 without WWW-Authenticate", via)
				}
				expectNoRows(t, r.RequestID)
			}
		})
	}
	if n := count(t, "SELECT COUNT(*) FROM posts WHERE title LIKE 'forged %'"); n != 0 {
		t.Fatalf("%d forged posts were created", n)
	}
	if n := count(t, "SELECT COUNT(*) FROM posts WHERE user_id = ?", victim.ID); n != 0 {
		t.Fatalf("a forged token posted as the victim")
	}
}

func TestMalformedAndWronglyTypedJSONGets400NotAServerError(t *testing.T) {
	u := newUser(t, api)
	p := newPost(t, api, u, "target", "b")
	endpoints := []struct {
		method, path string
		opts         []reqOpt
	}{
		{"POST", "/user/signup/", nil},
		{"POST", "/user/login/", nil},
		{"POST", "/user/token/", nil},
		{"POST", "/user/token/refresh/", nil},
		{"POST", "/user/token/verify/", nil},
		{"POST", "/blog/create/", []reqOpt{bearer(u.Access)}},
		{"PUT", "/blog/" + itoa(p.ID) + "/", []reqOpt{bearer(u.Access)}},
		{"PATCH", "/blog/" + itoa(p.ID) + "/", []reqOpt{bearer(u.Access)}},
	}
	bodies := map[string]string{
		"truncated":            `{"title": "x", "body": `,
		"trailing comma":       `{"title": "x",}`,
		"single quotes":        `{'title': 'x'}`,
		"not JSON":             `title=x&body=y`,
		"invalid UTF-8":        "{\"title\": \"\xff\xfe\", \"body\": 1",
		"deeply nested":        strings.Repeat("[", 50000) + strings.Repeat("]", 50000),
		"array":                `[{"title": "x"}]`,
		"string":               `"x"`,
		"number":               `12`,
		"null":                 `null`,
		"wrongly typed fields": `{"email": true, "password": {}, "title": [1], "body": false, "refresh": {}, "token": null}`,
		"two documents":        `{} {}`,
	}
	for _, e := range endpoints {
		for name, body := range bodies {
			r := api.do(t, e.method, e.path, body, e.opts...)
			if r.Status != http.StatusBadRequest {
				t.Errorf("%s %s with %s: status %d (%s), want 400", e.method, e.path, name, r.Status, r.Body)
				continue
			}
			var m map[string]any
			r.JSON(t, &m)
			if len(m) == 0 {
				t.Errorf("%s %s with %s: empty error body", e.method, e.path, name)
			}
			expectNoRows(t, r.RequestID)
		}
	}
}

func TestOversizedBodiesAreRefusedWith413(t *testing.T) {
	c, _ := newServer(t, func(o *apiserver.Options) { o.MaxBodyBytes = 1024 })
	u := newUser(t, c)
	big := `{"title": "big", "body": "` + strings.Repeat("가", 1000) + `"}`
	expectDetail(t, c.do(t, "POST", "/blog/create/", big, bearer(u.Access)), http.StatusRequestEntityTooLarge, "Request body is too large (limit 1024 bytes).")

	// Without a Content-Length (chunked), the limit applies while reading.
	req, err := http.NewRequest("POST", c.base+"/blog/create/", &chunked{data: []byte(big)})
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+u.Access)
	req.Header.Set("Content-Type", "application/json")
	res, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge || req.ContentLength != 0 {
		t.Fatalf("chunked oversized body: status %d (content length %d)", res.StatusCode, req.ContentLength)
	}
	if n := count(t, "SELECT COUNT(*) FROM posts WHERE user_id = ?", u.ID); n != 0 {
		t.Fatalf("an oversized post was stored")
	}
	// Just under the limit is fine.
	expect(t, c.do(t, "POST", "/blog/create/", `{"title": "small", "body": "`+strings.Repeat("a", 900)+`"}`, bearer(u.Access)), http.StatusCreated)
}

// chunked is a reader of unknown length, so the client sends the body chunked.
type chunked struct{ data []byte }

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, errEOF
	}
	n := copy(p, c.data)
	c.data = c.data[n:]
	return n, nil
}

func TestLoginAttemptsAreRateLimitedPerClientAndEmail(t *testing.T) {
	c, _ := newServer(t, func(o *apiserver.Options) { o.LoginRate = apiserver.LoginRate{PerMinute: 0.001, Burst: 3} })
	u := newUser(t, api)
	for i := range 3 {
		r := c.do(t, "POST", "/user/login/", map[string]string{"email": u.Email, "password": "wrong-" + itoa(uint64(i))})
		expectDetail(t, r, http.StatusUnauthorized, "No active account found with the given credentials")
	}
	for _, pw := range []string{"wrong-again", u.Password} { // once limited, even the right password waits
		r := c.do(t, "POST", "/user/login/", map[string]string{"email": u.Email, "password": pw})
		expect(t, r, http.StatusTooManyRequests)
		if !strings.HasPrefix(r.Map(t)["detail"].(string), "Request was throttled.") || r.Header.Get("Retry-After") == "" {
			t.Fatalf("429 body %s, Retry-After %q", r.Body, r.Header.Get("Retry-After"))
		}
		expectNoRows(t, r.RequestID)
	}
	// The same email in another case is the same bucket; /user/token/ shares it too.
	expect(t, c.do(t, "POST", "/user/token/", map[string]string{"email": strings.ToUpper(u.Email[:1]) + u.Email[1:], "password": u.Password}), http.StatusTooManyRequests)
	// Another email from the same client is not affected.
	other := newUser(t, api)
	expect(t, c.do(t, "POST", "/user/login/", map[string]string{"email": other.Email, "password": other.Password}), http.StatusOK)
	if n := count(t, "SELECT COUNT(*) FROM activity_log WHERE action = 'user.login_failed' AND email = ?", u.Email); n != 3 {
		t.Fatalf("%d login_failed rows, want 3", n)
	}
}

func TestSQLInjectionProbesNeverFailTheServerOrLeak(t *testing.T) {
	u := newUser(t, api)
	p := newPost(t, api, u, "probe target", "b")
	probes := []string{
		`'`, `"`, `' OR '1'='1`, `1 OR 1=1`, `1' OR '1'='1' --`, `1; DROP TABLE users; --`, `1 UNION SELECT password_hash FROM users`,
		`1) OR (1=1`, `%27%20OR%201=1`, `1'; SELECT SLEEP(5); --`, `\`, `1/**/OR/**/1=1`, `0x31`, `1e3`, `-1`, `9223372036854775808`, `NULL`,
	}
	leaks := []string{"SQL syntax", "mysql", "MariaDB", "Error 1064", "password_hash", "$2a$", "syntax error", "goroutine", "panic"}
	check := func(t *testing.T, what, probe string, r response) {
		t.Helper()
		if r.Status >= 500 {
			t.Errorf("%s: status %d (%s)", what, r.Status, r.Body)
		}
		// Echoing the probe back (a stored title, a validation message) is not a leak.
		quoted, _ := json.Marshal(probe)
		body := strings.ReplaceAll(string(r.Body), string(quoted[1:len(quoted)-1]), "")
		for _, l := range leaks {
			if strings.Contains(body, l) {
				t.Errorf("%s: response leaks %q: %s", what, l, r.Body)
			}
		}
	}
	// POST /admin/backfills validates its body only for an admin and with a starter configured.
	starter := &recordingStarter{}
	bf, _ := newServer(t, func(o *apiserver.Options) { o.Backfills = starter })
	admin := adminUser(t)
	const from, to = "2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z"
	usersBefore := count(t, "SELECT COUNT(*) FROM users")
	for _, probe := range probes {
		seg := url.PathEscape(probe)
		q := url.QueryEscape(probe)
		for _, req := range []struct {
			method, path string
			body         any
			opts         []reqOpt
			c            *client // nil: the shared server
		}{
			{"GET", "/blog/" + seg + "/", nil, nil, nil},
			{"PUT", "/blog/" + seg + "/", map[string]string{"title": "x", "body": "y"}, []reqOpt{bearer(u.Access)}, nil},
			{"PATCH", "/blog/" + seg + "/", map[string]string{"title": "x"}, []reqOpt{bearer(u.Access)}, nil},
			{"DELETE", "/blog/" + seg + "/", nil, []reqOpt{bearer(u.Access)}, nil},
			{"DELETE", "/user/" + seg + "/withdraw/", nil, []reqOpt{bearer(u.Access)}, nil},
			{"GET", "/blog/?user=" + q, nil, nil, nil},
			{"GET", "/blog/?page=" + q, nil, nil, nil},
			{"GET", "/blog/?user=" + itoa(u.ID) + "&page=" + q, nil, nil, nil},
			{"POST", "/user/login/", map[string]string{"email": probe, "password": probe}, nil, nil},
			{"POST", "/user/token/", map[string]string{"email": u.Email + probe, "password": probe}, nil, nil},
			{"POST", "/user/token/refresh/", map[string]string{"refresh": probe}, nil, nil},
			{"POST", "/user/token/verify/", map[string]string{"token": probe}, nil, nil},
			{"POST", "/user/signup/", signupBody(probe+"@example.com", probe, probe, probe), nil, nil},
			{"POST", "/blog/create/", map[string]string{"title": probe, "body": probe}, []reqOpt{bearer(u.Access)}, nil},
			{"GET", "/blog/" + itoa(p.ID) + "/", nil, []reqOpt{bearer(probe), header("X-Request-ID", probe), header("X-Forwarded-For", probe)}, nil},
			{"POST", "/admin/backfills", map[string]string{"from": probe, "to": probe, "granularity": probe}, []reqOpt{bearer(admin.Access)}, bf},
			{"POST", "/admin/backfills", map[string]string{"from": from + probe, "to": to, "granularity": "daily"}, []reqOpt{bearer(admin.Access)}, bf},
			{"POST", "/admin/backfills", map[string]string{"from": from, "to": probe + to, "granularity": "weekly"}, []reqOpt{bearer(admin.Access)}, bf},
			{"POST", "/admin/backfills", map[string]string{"from": from, "to": to, "granularity": "daily" + probe}, []reqOpt{bearer(admin.Access)}, bf},
			{"POST", "/admin/backfills", map[string]any{"from": from, "to": to, "granularity": "daily", probe: probe}, []reqOpt{bearer(admin.Access)}, bf},
		} {
			c := req.c
			if c == nil {
				c = api
			}
			r := c.do(t, req.method, req.path, req.body, req.opts...)
			check(t, req.method+" "+req.path, probe, r)
			if req.path == "/admin/backfills" && r.Status != http.StatusBadRequest && r.Status != http.StatusAccepted {
				t.Errorf("POST /admin/backfills with probe %q: status %d (%s), want 400 or 202", probe, r.Status, r.Body)
			}
		}
	}
	// Only the body whose probe is an extra, unknown key is a valid request; the starter gets
	// exactly those, with the values as sent.
	if len(starter.calls) != len(probes) {
		t.Errorf("the backfill starter was called %d times, want %d (one per probe as an unknown key): %q", len(starter.calls), len(probes), starter.calls)
	}
	for _, call := range starter.calls {
		if call != from+" "+to+" daily" {
			t.Errorf("backfill started with %q", call)
		}
	}
	if got := count(t, "SELECT COUNT(*) FROM users"); got != usersBefore {
		t.Fatalf("users went from %d to %d during the probes", usersBefore, got)
	}
	if count(t, "SELECT COUNT(*) FROM posts WHERE id = ?", p.ID) != 1 {
		t.Fatal("the probed post is gone")
	}
}
