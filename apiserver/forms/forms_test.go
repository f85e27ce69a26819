package forms

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var now = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

const validSignup = `{"email":"Kim@Example.COM","nickname":"kim","gender":"F","password":"secret-pass","password2":"secret-pass","name":"김민지","birth_date":"1999-03-02"}`

func TestDecodeSignupAcceptsAValidBodyAndNormalizesTheEmailDomain(t *testing.T) {
	got, err := DecodeSignup([]byte(validSignup), now)
	if err != nil {
		t.Fatalf("DecodeSignup: %v", err)
	}
	want := Signup{Email: "Kim@example.com", Nickname: "kim", Name: "김민지", Gender: "F", Password: "secret-pass",
		BirthDate: time.Date(1999, 3, 2, 0, 0, 0, 0, time.UTC)}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

// with returns validSignup with field set to raw JSON (or removed when raw is "").
func with(field, raw string) string {
	var m map[string]json.RawMessage
	_ = json.Unmarshal([]byte(validSignup), &m)
	if raw == "" {
		delete(m, field)
	} else {
		m[field] = json.RawMessage(raw)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestDecodeSignupReportsDRFFieldErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Errors
	}{
		{"empty body names every required field", ``, Errors{
			"email": {msgRequired}, "nickname": {msgRequired}, "name": {msgRequired}, "gender": {msgRequired},
			"password": {msgRequired}, "password2": {msgRequired}, "birth_date": {msgRequired}}},
		{"bad email", with("email", `"kim@localhost"`), Errors{"email": {"Enter a valid email address."}}},
		{"email with space", with("email", `"kim lee@example.com"`), Errors{"email": {"Enter a valid email address."}}},
		{"email too long", with("email", `"`+strings.Repeat("a", 250)+`@b.com"`), Errors{"email": {"Ensure this field has no more than 254 characters."}}},
		{"null nickname", with("nickname", `null`), Errors{"nickname": {msgNull}}},
		{"blank nickname", with("nickname", `"   "`), Errors{"nickname": {msgBlank}}},
		{"nickname too long", with("nickname", `"`+strings.Repeat("닉", 51)+`"`), Errors{"nickname": {"Ensure this field has no more than 50 characters."}}},
		{"gender not a choice", with("gender", `"X"`), Errors{"gender": {`"X" is not a valid choice.`}}},
		{"gender wrongly typed", with("gender", `true`), Errors{"gender": {msgNotString}}},
		{"name as object", with("name", `{"a":1}`), Errors{"name": {msgNotString}}},
		{"name as list", with("name", `["a"]`), Errors{"name": {msgNotString}}},
		{"password too short", `{"email":"a@b.co","nickname":"n","name":"n","gender":"M","password":"short","password2":"short","birth_date":"2000-01-01"}`,
			Errors{"password": {"Ensure this field has at least 8 characters."}}},
		{"password over bcrypt's 72 bytes", with("password", `"`+strings.Repeat("가", 25)+`"`), Errors{"password": {"Ensure this field has no more than 72 bytes."}}},
		{"passwords differ", with("password2", `"other-pass"`), Errors{"password": {"Password fields didn't match."}}},
		{"impossible date", with("birth_date", `"1999-02-30"`), Errors{"birth_date": {"Date has wrong format. Use one of these formats instead: YYYY-MM-DD."}}},
		{"datetime instead of date", with("birth_date", `"1999-02-03T00:00:00Z"`), Errors{"birth_date": {"Date has wrong format. Use one of these formats instead: YYYY-MM-DD."}}},
		{"date in the future", with("birth_date", `"2026-11-26"`), Errors{"birth_date": {"Birth date cannot be in the future."}}},
		{"date before 1900", with("birth_date", `"1899-12-31"`), Errors{"birth_date": {"Birth date must be on or after 1900-01-01."}}},
		{"null character", with("name", `"a\u0000b"`), Errors{"name": {msgNullChar}}},
		{"list body", `[1,2]`, Errors{NonFieldErrors: {"Invalid data. Expected a dictionary, but got list."}}},
		{"string body", `"hello"`, Errors{NonFieldErrors: {"Invalid data. Expected a dictionary, but got str."}}},
		{"null body", `null`, Errors{NonFieldErrors: {"Invalid data. Expected a dictionary, but got NoneType."}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeSignup([]byte(tt.body), now)
			var got Errors
			if !errors.As(err, &got) {
				t.Fatalf("err = %v (%T), want field errors", err, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("errors = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDecodeSignupAcceptsTodayInTheEarliestTimeZone(t *testing.T) {
	// 10:00 UTC is already 00:00 of the next day at UTC+14: a client there may send that date.
	tomorrow := now.AddDate(0, 0, 1).Format(time.DateOnly)
	if _, err := DecodeSignup([]byte(with("birth_date", `"`+tomorrow+`"`)), now); err != nil {
		t.Fatalf("birth_date %s at %s: %v", tomorrow, now, err)
	}
	dayAfter := now.AddDate(0, 0, 2).Format(time.DateOnly)
	if _, err := DecodeSignup([]byte(with("birth_date", `"`+dayAfter+`"`)), now); err == nil {
		t.Fatalf("birth_date %s at %s accepted", dayAfter, now)
	}
}

func TestMalformedJSONIsAParseError(t *testing.T) {
	for _, body := range []string{`{`, `{"email":`, `{"a":1,}`, `{'a':1}`, "\xff\xfe", strings.Repeat("[", 100000), `{"a":1} trailing`,
		"\f{}", "{}\v", "\u00a0{}", "\u0085{\"email\":\"a@b.c\"}"} {
		_, err := DecodeSignup([]byte(body), now)
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("body %.20q: err = %v (%T), want *ParseError", body, err, err)
			continue
		}
		if !strings.HasPrefix(pe.Error(), "JSON parse error - ") {
			t.Errorf("message %q", pe.Error())
		}
	}
}

func TestInvalidUTF8IsAParseErrorInPythonsWords(t *testing.T) {
	tests := []struct{ body, want string }{
		{`{"title":"a` + "\xff" + `b","body":"x"}`, "'utf-8' codec can't decode byte 0xff in position 11: invalid start byte"},
		{`{"title":"` + "\x80" + `"}`, "'utf-8' codec can't decode byte 0x80 in position 10: invalid start byte"},
		{`{"title":"` + "\xc3(" + `"}`, "'utf-8' codec can't decode byte 0xc3 in position 10: invalid continuation byte"},
		{`{"title":"` + "\xed\xa0\x80" + `"}`, "'utf-8' codec can't decode byte 0xed in position 10: invalid continuation byte"},
		{`{"title":"` + "\xc0\xaf" + `"}`, "'utf-8' codec can't decode byte 0xc0 in position 10: invalid start byte"},
		{`{"title":"t"} ` + "\xe4\xb8", "'utf-8' codec can't decode byte 0xe4 in position 14: unexpected end of data"},
		// Outside any string too: DRF decoded the whole body before parsing it.
		{"\xef\xbb{}", "'utf-8' codec can't decode byte 0xef in position 0: invalid continuation byte"},
	}
	for _, tt := range tests {
		for name, decode := range map[string]func([]byte) error{
			"signup":      func(b []byte) error { _, err := DecodeSignup(b, now); return err },
			"credentials": func(b []byte) error { _, err := DecodeCredentials(b); return err },
			"post":        func(b []byte) error { _, err := DecodePost(b, true); return err },
			"token":       func(b []byte) error { _, err := DecodeToken(b, "token"); return err },
			"backfill":    func(b []byte) error { _, err := DecodeBackfill(b, now); return err },
		} {
			var pe *ParseError
			if err := decode([]byte(tt.body)); !errors.As(err, &pe) || pe.Error() != "JSON parse error - "+tt.want {
				t.Errorf("%s of %q: err = %v, want the parse error %q", name, tt.body, err, tt.want)
			}
		}
	}
}

func TestLoneSurrogatesAreNotAValidString(t *testing.T) {
	for _, title := range []string{`"\ud800"`, `"a\udfffb"`, `"\ud800\u0041"`, `"\udc00\ud800"`, `"\ud800\ud800\udc00"`, `"x\ud83d"`} {
		_, err := DecodePost([]byte(`{"title":`+title+`}`), true)
		if want := (Errors{"title": {msgNotString}}); !reflect.DeepEqual(err, want) {
			t.Errorf("title %s: err = %v, want %v", title, err, want)
		}
	}
	// A surrogate pair is one character; an escaped backslash before "ud800" is no escape.
	for title, want := range map[string]string{`"\ud83d\ude00"`: "😀", `"\\ud800"`: `\ud800`, `"\ufffd"`: "\ufffd"} {
		got, err := DecodePost([]byte(`{"title":`+title+`}`), true)
		if err != nil || got.Title == nil || *got.Title != want {
			t.Errorf("title %s: got %v, %v; want %q", title, deref(got.Title), err, want)
		}
	}
}

func TestDecodePost(t *testing.T) {
	title100 := strings.Repeat("가", 100)
	tests := []struct {
		name      string
		body      string
		partial   bool
		wantTitle *string
		wantBody  *string
		wantErr   Errors
	}{
		{name: "create", body: `{"title":"안녕","body":"본문"}`, wantTitle: ptr("안녕"), wantBody: ptr("본문")},
		{name: "100 Korean characters fit", body: `{"title":"` + title100 + `","body":"b"}`, wantTitle: &title100, wantBody: ptr("b")},
		{name: "SQL and spaces kept verbatim", body: `{"title":" '; DROP TABLE posts; -- ","body":"\\\" OR 1=1 \n"}`,
			wantTitle: ptr(" '; DROP TABLE posts; -- "), wantBody: ptr(`\" OR 1=1 ` + "\n")},
		{name: "number as title, as DRF's CharField", body: `{"title":123,"body":"b"}`, wantTitle: ptr("123"), wantBody: ptr("b")},
		{name: "title missing", body: `{"body":"b"}`, wantErr: Errors{"title": {msgRequired}}},
		{name: "title too long", body: `{"title":"` + title100 + `!","body":"b"}`, wantErr: Errors{"title": {"Ensure this field has no more than 100 characters."}}},
		{name: "title blank", body: `{"title":"","body":"b"}`, wantErr: Errors{"title": {msgBlank}}},
		{name: "title wrongly typed", body: `{"title":false,"body":{}}`, wantErr: Errors{"title": {msgNotString}, "body": {msgNotString}}},
		{name: "patch title only", body: `{"title":"new"}`, partial: true, wantTitle: ptr("new")},
		{name: "patch nothing", body: `{}`, partial: true},
		{name: "patch null body", body: `{"body":null}`, partial: true, wantErr: Errors{"body": {msgNull}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodePost([]byte(tt.body), tt.partial)
			if tt.wantErr != nil {
				var fe Errors
				if !errors.As(err, &fe) || !reflect.DeepEqual(fe, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodePost: %v", err)
			}
			if !reflect.DeepEqual(got.Title, tt.wantTitle) || !reflect.DeepEqual(got.Body, tt.wantBody) {
				t.Fatalf("got title %v body %v, want %v %v", deref(got.Title), deref(got.Body), deref(tt.wantTitle), deref(tt.wantBody))
			}
		})
	}
}

func TestDecodeBackfill(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantErr Errors
	}{
		{name: "valid", body: `{"from":"2026-11-01T00:00:00Z","to":"2026-11-08T00:00:00+09:00","granularity":"weekly"}`},
		{name: "from after to", body: `{"from":"2026-11-02T00:00:00Z","to":"2026-11-01T00:00:00Z","granularity":"daily"}`,
			wantErr: Errors{NonFieldErrors: {"from must be before to."}}},
		{name: "to in the future", body: `{"from":"2026-11-01T00:00:00Z","to":"2026-12-01T00:00:00Z","granularity":"daily"}`,
			wantErr: Errors{"to": {"Ensure this value is not in the future."}}},
		{name: "before 1970, and before year 0 in UTC", body: `{"from":"0000-01-01T00:00:00+01:00","to":"1969-12-31T23:59:59Z","granularity":"daily"}`,
			wantErr: Errors{"from": {"Ensure this value is not before 1970-01-01T00:00:00Z."}, "to": {"Ensure this value is not before 1970-01-01T00:00:00Z."}}},
		{name: "not RFC 3339 and bad granularity", body: `{"from":"yesterday","to":"2026-11-01T00:00:00Z","granularity":"hourly"}`,
			wantErr: Errors{"from": {"Datetime has wrong format. Use RFC 3339, e.g. 2026-11-24T00:00:00Z."}, "granularity": {`"hourly" is not a valid choice.`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeBackfill([]byte(tt.body), now)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if got.To != time.Date(2026, 11, 7, 15, 0, 0, 0, time.UTC) || got.Granularity != "weekly" {
					t.Fatalf("got %+v", got)
				}
				return
			}
			var fe Errors
			if !errors.As(err, &fe) || !reflect.DeepEqual(fe, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// checkOutcome asserts the decoding contract the API relies on: an error is either a
// *ParseError or non-empty field Errors (both answered with 400), never anything else.
func checkOutcome(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var pe *ParseError
	var fe Errors
	switch {
	case errors.As(err, &pe):
	case errors.As(err, &fe):
		if len(fe) == 0 {
			t.Fatal("empty field errors")
		}
		for f, msgs := range fe {
			if len(msgs) == 0 {
				t.Fatalf("field %q without message", f)
			}
		}
	default:
		t.Fatalf("error %v (%T) would not be a 400", err, err)
	}
}

func FuzzDecodeSignup(f *testing.F) {
	for _, s := range []string{validSignup, ``, `{}`, `[]`, `null`, `{"email":1}`, with("birth_date", `"0000-01-01"`),
		with("password", `"`+strings.Repeat("\u00e9", 40)+`"`), `{"email":"a@b.c","nickname":null}`, "\xff{"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := DecodeSignup(body, now)
		checkOutcome(t, err)
		if err != nil {
			return
		}
		// What validates is storable: fits the columns, bcrypt can hash it, the date is sane.
		if _, ok := NormalizeEmail(got.Email); !ok || utf8.RuneCountInString(got.Email) > maxEmail {
			t.Fatalf("invalid email accepted: %q", got.Email)
		}
		if got.Gender != GenderMale && got.Gender != GenderFemale {
			t.Fatalf("gender %q accepted", got.Gender)
		}
		if n := utf8.RuneCountInString(got.Password); n < minPassword || len(got.Password) > maxPasswordBytes {
			t.Fatalf("password of %d chars / %d bytes accepted", n, len(got.Password))
		}
		if utf8.RuneCountInString(got.Nickname) > maxNickname || utf8.RuneCountInString(got.Name) > maxName {
			t.Fatalf("overlong nickname/name accepted")
		}
		if got.BirthDate.Before(earliestBirthDate) || got.BirthDate.After(latestToday(now)) {
			t.Fatalf("birth date %s accepted", got.BirthDate)
		}
	})
}

func FuzzDecodePost(f *testing.F) {
	for _, s := range []string{`{"title":"안녕","body":"본문"}`, `{"title":"","body":""}`, `{"title":1e400,"body":"x"}`,
		`{"title":"` + strings.Repeat("a", 101) + `","body":"x"}`, `{"title":"\ud800","body":"x"}`, `[`, `{"title":null}`} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, partial bool) {
		got, err := DecodePost(body, partial)
		checkOutcome(t, err)
		if err != nil {
			return
		}
		if !partial && (got.Title == nil || got.Body == nil) {
			t.Fatal("create accepted without title or body")
		}
		if got.Title != nil {
			if n := utf8.RuneCountInString(*got.Title); n < 1 || n > maxTitle || strings.TrimSpace(*got.Title) == "" {
				t.Fatalf("title %q accepted", *got.Title)
			}
		}
	})
}

func ptr(s string) *string { return &s }

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
