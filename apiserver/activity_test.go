//go:build integration

package apiserver_test

import (
	"net/http"
	"testing"

	"github.com/logetl/logetl/apiserver"
)

// failingUA is the User-Agent for which the test trigger refuses activity_log inserts, so that
// exactly the requests of TestAFailedLogWriteRollsBackTheChange fail, on the real transaction
// path, while every other test keeps logging.
const failingUA = "logetl-test/fail-activity-log"

func TestAFailedLogWriteRollsBackTheChange(t *testing.T) {
	if _, err := testDB.DB.ExecContext(ctxTest, `CREATE TRIGGER activity_log_fail_injection BEFORE INSERT ON activity_log FOR EACH ROW
		BEGIN
			IF NEW.user_agent = '`+failingUA+`' THEN
				SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected activity_log failure';
			END IF;
		END`); err != nil {
		t.Fatalf("create trigger: %v", err)
	}
	t.Cleanup(func() { _, _ = testDB.DB.ExecContext(ctxTest, "DROP TRIGGER IF EXISTS activity_log_fail_injection") })

	u := newUser(t, api)
	p := newPost(t, api, u, "original", "original body")
	postPath := "/blog/" + itoa(p.ID) + "/"
	fail := userAgent(failingUA)
	newEmail := unique("rollback") + "@example.com"

	tests := []struct {
		name      string
		method    string
		path      string
		body      any
		opts      []reqOpt
		unchanged func(t *testing.T) // checks that the change did not happen
	}{
		{"signup", "POST", "/user/signup/", signupBody(newEmail, unique("n"), "F", "2000-01-01"), nil, func(t *testing.T) {
			if count(t, "SELECT COUNT(*) FROM users WHERE email = ?", newEmail) != 0 {
				t.Fatal("the user was created")
			}
		}},
		{"login", "POST", "/user/login/", map[string]string{"email": u.Email, "password": u.Password}, nil, nil},
		{"failed login", "POST", "/user/login/", map[string]string{"email": u.Email, "password": "wrong-pass"}, nil, nil},
		{"token refresh", "POST", "/user/token/refresh/", map[string]string{"refresh": u.Refresh}, nil, nil},
		{"create post", "POST", "/blog/create/", map[string]string{"title": "never", "body": "b"}, []reqOpt{bearer(u.Access)}, func(t *testing.T) {
			if count(t, "SELECT COUNT(*) FROM posts WHERE user_id = ?", u.ID) != 1 {
				t.Fatal("the post was created")
			}
		}},
		{"view post", "GET", postPath, nil, nil, func(t *testing.T) {
			if count(t, "SELECT views FROM posts WHERE id = ?", p.ID) != 0 {
				t.Fatal("the view was counted")
			}
		}},
		{"put post", "PUT", postPath, map[string]string{"title": "changed", "body": "changed"}, []reqOpt{bearer(u.Access)}, func(t *testing.T) {
			if count(t, "SELECT COUNT(*) FROM posts WHERE id = ? AND title = 'original' AND body = 'original body'", p.ID) != 1 {
				t.Fatal("the post was changed")
			}
		}},
		{"patch post", "PATCH", postPath, map[string]string{"body": "changed"}, []reqOpt{bearer(u.Access)}, func(t *testing.T) {
			if count(t, "SELECT COUNT(*) FROM posts WHERE id = ? AND body = 'original body'", p.ID) != 1 {
				t.Fatal("the post was changed")
			}
		}},
		{"delete post", "DELETE", postPath, nil, []reqOpt{bearer(u.Access)}, func(t *testing.T) {
			if count(t, "SELECT COUNT(*) FROM posts WHERE id = ?", p.ID) != 1 {
				t.Fatal("the post was deleted")
			}
		}},
		{"withdraw", "DELETE", "/user/" + itoa(u.ID) + "/withdraw/", nil, []reqOpt{bearer(u.Access)}, func(t *testing.T) {
			if count(t, "SELECT COUNT(*) FROM users WHERE id = ?", u.ID) != 1 || count(t, "SELECT COUNT(*) FROM posts WHERE user_id = ?", u.ID) != 1 {
				t.Fatal("the user or the user's post was deleted")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := api.do(t, tt.method, tt.path, tt.body, append(tt.opts, fail)...)
			expectDetail(t, r, http.StatusInternalServerError, "Internal server error.")
			if len(r.Cookies) != 0 {
				t.Fatalf("a failed request set cookies")
			}
			expectNoRows(t, r.RequestID)
			if tt.unchanged != nil {
				tt.unchanged(t)
			}
			// Control: the same request without the failing User-Agent goes through.
			if tt.method == "GET" {
				expect(t, api.do(t, tt.method, tt.path, tt.body, tt.opts...), http.StatusOK)
			}
		})
	}
}

func TestActivityRowsCarryTheRequestIDAndPeerAddress(t *testing.T) {
	u := newUser(t, api)
	p := newPost(t, api, u, "ids", "b")
	path := "/blog/" + itoa(p.ID) + "/"

	r := expect(t, api.do(t, "GET", path, nil, header("X-Request-ID", "client-chosen-id.1")), http.StatusOK)
	if r.Header.Get("X-Request-ID") != "client-chosen-id.1" {
		t.Fatalf("X-Request-ID echoed as %q", r.Header.Get("X-Request-ID"))
	}
	expectRow(t, "client-chosen-id.1", wantRow{Action: "post.view", Post: p.ID, Method: "GET", Route: "/blog/:id/", Path: path, Status: 200})

	// An unusable request id is replaced by a generated one.
	r = expect(t, api.do(t, "GET", path, nil, header("X-Request-ID", "bad id with spaces")), http.StatusOK)
	generated := r.Header.Get("X-Request-ID")
	if len(generated) != 36 {
		t.Fatalf("generated request id %q is not a UUID", generated)
	}
	expectRow(t, generated, wantRow{Action: "post.view", Post: p.ID, Method: "GET", Route: "/blog/:id/", Path: path, Status: 200})

	// No proxy is trusted by default: a forged X-Forwarded-For does not change the logged IP.
	r = expect(t, api.do(t, "GET", path, nil, header("X-Forwarded-For", "203.0.113.9"), userAgent("Mozilla/5.0 테스트")), http.StatusOK)
	row := rowsOf(t, r.RequestID)[0]
	if row.ClientIP != "127.0.0.1" || row.UserAgent != "Mozilla/5.0 테스트" {
		t.Fatalf("logged client %q, user agent %q", row.ClientIP, row.UserAgent)
	}
	// Behind a configured proxy, its X-Forwarded-For is believed.
	c, _ := newServer(t, func(o *apiserver.Options) { o.TrustedProxies = []string{"127.0.0.1"} })
	r = expect(t, c.do(t, "GET", path, nil, header("X-Forwarded-For", "203.0.113.9")), http.StatusOK)
	if ip := rowsOf(t, r.RequestID)[0].ClientIP; ip != "203.0.113.9" {
		t.Fatalf("behind a trusted proxy, logged client %q", ip)
	}
}
