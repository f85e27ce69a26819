package apiserver_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/logetl/logetl/apiserver"
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
