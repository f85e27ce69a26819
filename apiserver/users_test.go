//go:build integration

package apiserver_test

import (
	"github.com/logetl/logetl/apiserver"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestSignupCreatesTheUserWithoutExposingThePassword(t *testing.T) {
	email := unique("kim") + "@Example.COM"
	r := expect(t, api.do(t, "POST", "/user/signup/", map[string]string{"email": email, "nickname": unique("김"), "gender": "F",
		"password": "p@ssw0rd-한글", "password2": "p@ssw0rd-한글", "name": "김민지", "birth_date": "1999-03-02"}), http.StatusCreated)
	m := r.Map(t)
	for _, k := range []string{"id", "email", "nickname", "name", "gender", "birth_date", "is_admin", "created_at"} {
		if _, ok := m[k]; !ok {
			t.Errorf("user has no %q: %s", k, r.Body)
		}
	}
	if strings.Contains(string(r.Body), "p@ssw0rd") || strings.Contains(string(r.Body), "password") {
		t.Fatalf("signup response exposes the password: %s", r.Body)
	}
	wantEmail := strings.Split(email, "@")[0] + "@example.com"
	if m["email"] != wantEmail || m["gender"] != "F" || m["birth_date"] != "1999-03-02" || m["name"] != "김민지" || m["is_admin"] != false {
		t.Fatalf("user %s", r.Body)
	}
	id := uint64(m["id"].(float64))
	var hash string
	if err := testDB.DB.QueryRow("SELECT password_hash FROM users WHERE id = ?", id).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$2a$") || strings.Contains(hash, "p@ssw0rd") {
		t.Fatalf("stored password is not a bcrypt hash: %q", hash)
	}
	expectRow(t, r.RequestID, wantRow{Action: "user.signup", User: id, Method: "POST", Route: "/user/signup/", Path: "/user/signup/",
		Status: 201, Message: "POST user signup success"})
}

func TestSignupRefusesInvalidAndDuplicateInput(t *testing.T) {
	taken := newUser(t, api)
	valid := func(edit func(map[string]any)) map[string]any {
		b := signupBody(unique("v")+"@example.com", unique("n"), "M", "2001-01-01")
		edit(b)
		return b
	}
	tests := []struct {
		name   string
		body   any
		fields []string
	}{
		{"empty body", "", []string{"email", "nickname", "gender", "password", "password2", "name", "birth_date"}},
		{"bad email", valid(func(b map[string]any) { b["email"] = "not-an-email" }), []string{"email"}},
		{"duplicate email, other case", valid(func(b map[string]any) { b["email"] = strings.ToUpper(taken.Email) }), []string{"email"}},
		{"duplicate nickname", valid(func(b map[string]any) { b["nickname"] = taken.Nickname }), []string{"nickname"}},
		{"duplicate email and nickname", valid(func(b map[string]any) { b["email"], b["nickname"] = taken.Email, taken.Nickname }), []string{"email", "nickname"}},
		{"passwords differ", valid(func(b map[string]any) { b["password2"] = "something-else" }), []string{"password"}},
		{"password too short", valid(func(b map[string]any) { b["password"], b["password2"] = "short", "short" }), []string{"password"}},
		{"gender not M or F", valid(func(b map[string]any) { b["gender"] = "Z" }), []string{"gender"}},
		{"birth date in the future", valid(func(b map[string]any) { b["birth_date"] = time.Now().AddDate(0, 0, 3).Format(time.DateOnly) }), []string{"birth_date"}},
		{"birth date not a date", valid(func(b map[string]any) { b["birth_date"] = "2001-13-01" }), []string{"birth_date"}},
		{"nickname too long", valid(func(b map[string]any) { b["nickname"] = strings.Repeat("n", 51) }), []string{"nickname"}},
		{"wrongly typed fields", valid(func(b map[string]any) { b["name"], b["birth_date"] = []int{1}, true }), []string{"name", "birth_date"}},
		{"not an object", []string{"email"}, []string{"non_field_errors"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := count(t, "SELECT COUNT(*) FROM users")
			r := api.do(t, "POST", "/user/signup/", tt.body)
			expectFieldErrors(t, r, tt.fields...)
			expectNoRows(t, r.RequestID)
			if after := count(t, "SELECT COUNT(*) FROM users"); after != before {
				t.Fatalf("users went from %d to %d", before, after)
			}
		})
	}
}

func TestSignupAcceptsABirthDateOfTodayInTheClientsTimeZone(t *testing.T) {
	// The old bot sends its own local date; at UTC+14 it may already be tomorrow in UTC.
	today := time.Now().UTC().Add(14 * time.Hour).Format(time.DateOnly)
	expect(t, api.do(t, "POST", "/user/signup/", signupBody(unique("t")+"@example.com", unique("n"), "F", today)), http.StatusCreated)
}

func TestLoginIssuesTokensAndCookiesAndLogsTheAttempt(t *testing.T) {
	u := newUser(t, api)
	r := expect(t, api.do(t, "POST", "/user/login/", map[string]string{"email": u.Email, "password": u.Password}), http.StatusOK)
	var body struct {
		Email string
		Token struct{ Access, Refresh string }
	}
	r.JSON(t, &body)
	if body.Email != u.Email || body.Token.Access == "" || body.Token.Refresh == "" {
		t.Fatalf("login body %s", r.Body)
	}
	cookies := map[string]*http.Cookie{}
	for _, c := range r.Cookies {
		cookies[c.Name] = c
	}
	for name, want := range map[string]string{"access": body.Token.Access, "refresh": body.Token.Refresh} {
		c := cookies[name]
		if c == nil || c.Value != want || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
			t.Fatalf("cookie %s = %+v", name, c)
		}
	}
	expectRow(t, r.RequestID, wantRow{Action: "user.login", User: u.ID, Method: "POST", Route: "/user/login/", Path: "/user/login/",
		Status: 200, Message: "POST user login success"})

	// The access token and the access cookie both authenticate.
	expect(t, api.do(t, "POST", "/blog/create/", map[string]string{"title": "t", "body": "b"}, bearer(body.Token.Access)), http.StatusCreated)
	expect(t, api.do(t, "POST", "/blog/create/", map[string]string{"title": "t", "body": "b"}, header("Cookie", "access="+body.Token.Access)), http.StatusCreated)
}

func TestFailedLoginAnswers401AndLogsTheAttemptedEmail(t *testing.T) {
	u := newUser(t, api)
	for _, tc := range []struct{ name, email, password string }{
		{"wrong password", u.Email, "wrong-password"},
		{"unknown email", unique("nobody") + "@example.com", "whatever-pass"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := api.do(t, "POST", "/user/login/", map[string]string{"email": tc.email, "password": tc.password})
			expectDetail(t, r, http.StatusUnauthorized, "No active account found with the given credentials")
			if len(r.Cookies) != 0 {
				t.Fatalf("failed login set cookies %v", r.Cookies)
			}
			expectRow(t, r.RequestID, wantRow{Action: "user.login_failed", Method: "POST", Route: "/user/login/", Path: "/user/login/",
				Status: 401, Email: tc.email, Message: "POST user login failed"})
		})
	}
	r := api.do(t, "POST", "/user/login/", map[string]string{"email": u.Email})
	expectFieldErrors(t, r, "password")
	expectNoRows(t, r.RequestID)
}

func TestObtainTokenPairIsALogin(t *testing.T) {
	u := newUser(t, api)
	r := expect(t, api.do(t, "POST", "/user/token/", map[string]string{"email": u.Email, "password": u.Password}), http.StatusOK)
	m := r.Map(t)
	if len(m) != 2 || m["access"] == "" || m["refresh"] == "" {
		t.Fatalf("token pair %s", r.Body)
	}
	expectRow(t, r.RequestID, wantRow{Action: "user.login", User: u.ID, Method: "POST", Route: "/user/token/", Path: "/user/token/", Status: 200})
	r = api.do(t, "POST", "/user/token/", map[string]string{"email": u.Email, "password": "nope-nope"})
	expectDetail(t, r, http.StatusUnauthorized, "No active account found with the given credentials")
	expectRow(t, r.RequestID, wantRow{Action: "user.login_failed", Method: "POST", Route: "/user/token/", Path: "/user/token/", Status: 401, Email: u.Email})
}

func TestTokenRefreshIssuesAnAccessTokenForARefreshTokenOnly(t *testing.T) {
	u := newUser(t, api)
	r := expect(t, api.do(t, "POST", "/user/token/refresh/", map[string]string{"refresh": u.Refresh}), http.StatusOK)
	m := r.Map(t)
	access, _ := m["access"].(string)
	if len(m) != 1 || access == "" {
		t.Fatalf("refresh body %s", r.Body)
	}
	expectRow(t, r.RequestID, wantRow{Action: "token.refresh", User: u.ID, Method: "POST", Route: "/user/token/refresh/",
		Path: "/user/token/refresh/", Status: 200, Message: "POST token refresh success"})
	expect(t, api.do(t, "POST", "/blog/create/", map[string]string{"title": "t", "body": "b"}, bearer(access)), http.StatusCreated)

	for _, tok := range []string{u.Access, "abc.def.ghi", u.Refresh + "x"} {
		r := api.do(t, "POST", "/user/token/refresh/", map[string]string{"refresh": tok})
		expectDetail(t, r, http.StatusUnauthorized, "Token is invalid or expired")
		expectNoRows(t, r.RequestID)
	}
	expectFieldErrors(t, api.do(t, "POST", "/user/token/refresh/", "[1]"), "non_field_errors")
	expectFieldErrors(t, api.do(t, "POST", "/user/token/refresh/", "{}"), "refresh")
}

func TestTokenVerifyAcceptsEitherValidTokenType(t *testing.T) {
	u := newUser(t, api)
	for _, tok := range []string{u.Access, u.Refresh} {
		r := expect(t, api.do(t, "POST", "/user/token/verify/", map[string]string{"token": tok}), http.StatusOK)
		if string(r.Body) != "{}" {
			t.Fatalf("verify body %s", r.Body)
		}
		expectNoRows(t, r.RequestID)
	}
	expectDetail(t, api.do(t, "POST", "/user/token/verify/", map[string]string{"token": u.Access[:len(u.Access)-2]}), http.StatusUnauthorized, "Token is invalid or expired")
	expectFieldErrors(t, api.do(t, "POST", "/user/token/verify/", `{"token": null}`), "token")
}

func TestOnlyAdminsListUsers(t *testing.T) {
	u := newUser(t, api)
	expectDetail(t, api.do(t, "GET", "/user/user_list/", nil), http.StatusUnauthorized, "Authentication credentials were not provided.")
	expectDetail(t, api.do(t, "GET", "/user/user_list/", nil, bearer(u.Access)), http.StatusForbidden, "You do not have permission to perform this action.")

	admin := adminUser(t)
	r := expect(t, api.do(t, "GET", "/user/user_list/", nil, bearer(admin.Access)), http.StatusOK)
	var users []map[string]any
	r.JSON(t, &users)
	found := false
	for _, x := range users {
		if _, leak := x["password_hash"]; leak {
			t.Fatalf("user list exposes password hashes: %v", x)
		}
		if x["email"] == u.Email {
			found = true
		}
	}
	if !found || len(users) != count(t, "SELECT COUNT(*) FROM users") {
		t.Fatalf("user list has %d users (found %s: %v), want all %d", len(users), u.Email, found, count(t, "SELECT COUNT(*) FROM users"))
	}
}

// adminUser returns the admin of the configured admin email, signing it up on first use.
func adminUser(t *testing.T) user {
	t.Helper()
	if count(t, "SELECT COUNT(*) FROM users WHERE email = ?", adminEmail) == 0 {
		return newUserWith(t, api, adminEmail, "F", "1985-01-01")
	}
	var id uint64
	if err := testDB.DB.QueryRow("SELECT id FROM users WHERE email = ?", adminEmail).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return user{ID: id, Email: adminEmail, Password: "correct-horse", Access: login(t, api, adminEmail, "correct-horse")}
}

func TestAdminEmailsAreGrantedAtSignupLoginAndStart(t *testing.T) {
	atSignup := unique("a1") + "@example.com"
	atLogin := unique("a2") + "@example.com"
	atStart := unique("a3") + "@example.com"
	// Both sign up on a server that does not know them as admins...
	plainLogin := newUserWith(t, api, atLogin, "M", "1990-01-01")
	plainStart := newUserWith(t, api, atStart, "M", "1990-01-01")
	expect(t, api.do(t, "GET", "/user/user_list/", nil, bearer(plainLogin.Access)), http.StatusForbidden)

	// ...then a server is configured with their emails (in another case, as the env var may be).
	c, srv := newServer(t, func(o *apiserver.Options) {
		o.AdminEmails = []string{atSignup, strings.ToUpper(atLogin), atStart}
	})
	signedUp := newUserWith(t, c, atSignup, "F", "1990-01-01")
	loggedIn := login(t, c, atLogin, plainLogin.Password)
	if err := srv.GrantConfiguredAdmins(ctxTest); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		access string
	}{{"at signup", signedUp.Access}, {"at login", loggedIn}, {"at start", plainStart.Access}} {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, c.do(t, "GET", "/user/user_list/", nil, bearer(tc.access)), http.StatusOK)
		})
	}
}

func TestWithdrawIsAllowedToTheUserAndAdminsOnly(t *testing.T) {
	owner := newUser(t, api)
	other := newUser(t, api)
	p := newPost(t, api, owner, "to be removed with its author", "b")

	expectDetail(t, api.do(t, "DELETE", "/user/"+itoa(owner.ID)+"/withdraw/", nil), http.StatusUnauthorized, "Authentication credentials were not provided.")
	r := api.do(t, "DELETE", "/user/"+itoa(owner.ID)+"/withdraw/", nil, bearer(other.Access))
	expectDetail(t, r, http.StatusForbidden, "You do not have permission to perform this action.")
	expectNoRows(t, r.RequestID)
	// A non-admin cannot tell an existing account from a missing one.
	expectDetail(t, api.do(t, "DELETE", "/user/999999999/withdraw/", nil, bearer(other.Access)), http.StatusForbidden, "You do not have permission to perform this action.")
	expectDetail(t, api.do(t, "DELETE", "/user/abc/withdraw/", nil, bearer(other.Access)), http.StatusNotFound, "Not found.")

	r = expect(t, api.do(t, "DELETE", "/user/"+itoa(owner.ID)+"/withdraw/", nil, bearer(owner.Access)), http.StatusNoContent)
	if len(r.Body) != 0 {
		t.Fatalf("204 with body %q", r.Body)
	}
	expectRow(t, r.RequestID, wantRow{Action: "user.withdraw", User: owner.ID, Method: "DELETE", Route: "/user/:id/withdraw/",
		Path: "/user/" + itoa(owner.ID) + "/withdraw/", Status: 204, Message: "DELETE user withdraw success"})
	if n := count(t, "SELECT COUNT(*) FROM users WHERE id = ?", owner.ID); n != 0 {
		t.Fatal("withdrawn user still exists")
	}
	if n := count(t, "SELECT COUNT(*) FROM posts WHERE id = ?", p.ID); n != 0 {
		t.Fatal("withdrawn user's post still exists")
	}
	// The withdrawn user's still-unexpired tokens no longer act.
	expectDetail(t, api.do(t, "POST", "/blog/create/", map[string]string{"title": "t", "body": "b"}, bearer(owner.Access)), http.StatusUnauthorized, "User not found")
	expectDetail(t, api.do(t, "POST", "/user/token/refresh/", map[string]string{"refresh": owner.Refresh}), http.StatusUnauthorized, "User not found")

	admin := adminUser(t)
	r = expect(t, api.do(t, "DELETE", "/user/"+itoa(other.ID)+"/withdraw/", nil, bearer(admin.Access)), http.StatusNoContent)
	expectRow(t, r.RequestID, wantRow{Action: "user.withdraw", User: admin.ID, Method: "DELETE", Route: "/user/:id/withdraw/",
		Path: "/user/" + itoa(other.ID) + "/withdraw/", Status: 204})
	r = api.do(t, "DELETE", "/user/"+itoa(other.ID)+"/withdraw/", nil, bearer(admin.Access))
	expectDetail(t, r, http.StatusNotFound, "Not found.")
	expectNoRows(t, r.RequestID)
}

func TestUserStatsCountByGenderAndGeneration(t *testing.T) {
	type stats map[string]int
	get := func(path string) stats {
		var s stats
		expect(t, api.do(t, "GET", path, nil), http.StatusOK).JSON(t, &s)
		return s
	}
	const millennial, genZ, alpha = "밀레니얼세대(1981-95년생)", "Z세대(1996-2012년생)", "알파세대(2013년생~)"
	g0, b0 := get("/user/gender-stats/"), get("/user/birth-stats/")
	if len(g0) != 2 || len(b0) != 3 {
		t.Fatalf("stats keys: %v %v", g0, b0)
	}
	for _, u := range []struct{ gender, birth string }{
		{"M", "1980-12-31"}, {"M", "1981-01-01"}, {"F", "1995-12-31"}, {"F", "1996-01-01"}, {"F", "2012-12-31"},
		{"M", "2013-01-01"}, {"F", "2024-06-01"},
	} {
		expect(t, api.do(t, "POST", "/user/signup/", signupBody(unique("s")+"@example.com", unique("n"), u.gender, u.birth)), http.StatusCreated)
	}
	g1, b1 := get("/user/gender-stats/"), get("/user/birth-stats/")
	if d := (stats{"male_count": g1["male_count"] - g0["male_count"], "female_count": g1["female_count"] - g0["female_count"]}); d["male_count"] != 3 || d["female_count"] != 4 {
		t.Fatalf("gender stats grew by %v, want 3 male 4 female", d)
	}
	if b1[millennial]-b0[millennial] != 2 || b1[genZ]-b0[genZ] != 2 || b1[alpha]-b0[alpha] != 2 {
		t.Fatalf("birth stats went from %v to %v, want +2 each", b0, b1)
	}
}
