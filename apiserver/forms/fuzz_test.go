package forms

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// hostileBodies are seeds every decoder's fuzz target starts from: malformed, wrongly typed,
// huge numbers, Korean, SQL-looking, control characters.
var hostileBodies = []string{
	``, ` `, `{}`, `[]`, `null`, `""`, `12`, `true`, `{`, `{"email":`, `{"a":1,}`, `{} {}`, "\xff\xfe{",
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	`{"email":true,"password":{},"refresh":[1],"token":null,"from":false,"to":{},"granularity":["daily"]}`,
	`{"email":1e400,"password":-99999999999999999999999999,"refresh":1e-400,"token":18446744073709551616,"from":1e400,"to":99999999999999999999,"granularity":0}`,
	`{"email":"김민지@예시.한국","password":"비밀번호1234","refresh":"토큰","token":"검증","from":"2026년 1월 5일","to":"어제","granularity":"매일"}`,
	`{"email":"' OR '1'='1' --@x.com","password":"' OR 1=1; DROP TABLE users; --","refresh":"1 UNION SELECT password_hash FROM users","token":"'; SELECT SLEEP(5); --","from":"2026-01-05T00:00:00Z' OR '1'='1","to":"2026-01-06T00:00:00Z; DROP TABLE activity_log; --","granularity":"daily' --"}`,
	`{"email":"a\u0000@b.c","password":"x\u0000","refresh":"\u0000","token":"\ud800","from":"\u0000","to":"\t","granularity":"daily\u0000"}`,
}

// textOK fails unless s is text MySQL's utf8mb4 columns and the logs take as is.
func textOK(t *testing.T, field, s string) {
	t.Helper()
	if !utf8.ValidString(s) || strings.ContainsRune(s, 0) || strings.TrimSpace(s) == "" {
		t.Fatalf("%s %q accepted: blank, NUL or invalid UTF-8", field, s)
	}
}

func FuzzDecodeCredentials(f *testing.F) {
	for _, s := range append([]string{
		`{"email":"kim@example.com","password":"secret-pass"}`,
		`{"email":"  Kim@EXAMPLE.com ","password":"secret-pass"}`,
		`{"email":"not-an-email","password":"x"}`,
		`{"email":"a@b.c","password":123456789012345678901234567890}`,
		`{"email":"a@b.c","email":"c@d.e","password":"x"}`,
		`{"email":"` + strings.Repeat("a", 255) + `","password":"x"}`,
		`{"email":"a@b.c","password":"` + strings.Repeat("비", 5000) + `"}`,
	}, hostileBodies...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := DecodeCredentials(body)
		checkOutcome(t, err)
		if err != nil {
			return
		}
		textOK(t, "email", got.Email)
		textOK(t, "password", got.Password)
		// The email of a failed login goes into activity_log.email, VARCHAR(254).
		if utf8.RuneCountInString(got.Email) > maxEmail || got.Email != strings.TrimSpace(got.Email) {
			t.Fatalf("email %q accepted: over %d characters or untrimmed", got.Email, maxEmail)
		}
		// A plausible address is already normalized, so it matches the stored one.
		if norm, ok := NormalizeEmail(got.Email); ok && norm != got.Email {
			t.Fatalf("email %q not normalized (%q)", got.Email, norm)
		}
	})
}

func FuzzDecodeToken(f *testing.F) {
	for _, s := range append([]string{
		`{"refresh":"eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoxfQ.sig"}`,
		`{"token":"eyJhbGciOiJub25lIn0.e30."}`,
		`{"refresh":"  "}`,
		`{"token":12345678901234567890123}`,
		`{"token":"` + strings.Repeat("a.", 5000) + `"}`,
		`{"refresh":"a","refresh":"b"}`,
	}, hostileBodies...) {
		f.Add([]byte(s), "refresh")
		f.Add([]byte(s), "token")
	}
	f.Fuzz(func(t *testing.T, body []byte, field string) {
		if field != "refresh" && field != "token" { // the only fields the API reads
			field = "token"
		}
		got, err := DecodeToken(body, field)
		checkOutcome(t, err)
		if err != nil {
			return
		}
		textOK(t, field, got)
		// Only the named field is read: encoding/json must agree on its value.
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("token %q accepted from a body encoding/json refuses: %v", got, err)
		}
		raw, ok := m[field]
		if !ok {
			t.Fatalf("token %q accepted without a %q field", got, field)
		}
		var s string
		if json.Unmarshal(raw, &s) == nil && s != got {
			t.Fatalf("token %q, but the %q field holds %q", got, field, s)
		}
	})
}

func FuzzDecodeBackfill(f *testing.F) {
	for _, s := range append([]string{
		`{"from":"2026-01-05T00:00:00Z","to":"2026-01-12T00:00:00Z","granularity":"weekly"}`,
		`{"from":"2026-01-05T09:00:00+09:00","to":" 2026-01-06T00:00:00.123456789Z ","granularity":"daily"}`,
		`{"from":"2026-01-05T00:00:00Z","to":"2026-01-05T00:00:00Z","granularity":"daily"}`,
		`{"from":"2026-01-05T00:00:00Z","to":"2099-01-01T00:00:00Z","granularity":"daily"}`,
		`{"from":"0000-01-01T00:00:00+23:59","to":"0000-01-02T00:00:00Z","granularity":"daily"}`,
		`{"from":"9999-12-31T23:59:59-23:59","to":"2026-01-01T00:00:00Z","granularity":"daily"}`,
		`{"from":"2026-01-05","to":"2026-01-06T00:00:00Z","granularity":"hourly"}`,
		`{"from":"2026-02-30T00:00:00Z","to":"2026-13-01T25:00:00Z","granularity":"DAILY"}`,
		`{"from":20260105,"to":20260106,"granularity":"daily"}`,
	}, hostileBodies...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := DecodeBackfill(body, now)
		checkOutcome(t, err)
		if err != nil {
			return
		}
		if got.Granularity != GranularityDaily && got.Granularity != GranularityWeekly {
			t.Fatalf("granularity %q accepted", got.Granularity)
		}
		if !got.From.Before(got.To) || got.To.After(now) {
			t.Fatalf("range %s..%s accepted (now %s)", got.From, got.To, now)
		}
		if got.From.Location() != time.UTC || got.To.Location() != time.UTC {
			t.Fatalf("range %s..%s not in UTC", got.From, got.To)
		}
		// The range becomes the backfill workflow's JSON input.
		if _, err := json.Marshal(got); err != nil {
			t.Fatalf("range %s..%s cannot be encoded: %v", got.From, got.To, err)
		}
	})
}
