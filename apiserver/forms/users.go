package forms

import (
	"strings"
	"time"
)

// Field bounds follow the users table (migrations/0001_init.sql).
const (
	maxEmail    = 254
	maxNickname = 50
	maxName     = 100
	minPassword = 8
	// bcrypt reads at most 72 bytes; a longer password would be silently cut, so it is refused.
	maxPasswordBytes = 72
)

// Genders a user may declare.
const (
	GenderMale   = "M"
	GenderFemale = "F"
)

// Signup is a validated POST /user/signup/ body.
type Signup struct {
	Email     string
	Nickname  string
	Name      string
	Gender    string
	Password  string
	BirthDate time.Time // midnight UTC of the date
}

// earliestBirthDate keeps out dates that are syntactically fine but certainly typos.
var earliestBirthDate = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)

// DecodeSignup decodes and validates a signup body. now is the server's clock: a birth date is in
// the future only if it is after today everywhere on Earth (UTC+14), so a client whose local
// "today" is ahead of the server's (the old bot sends its own date) is never refused.
func DecodeSignup(body []byte, now time.Time) (Signup, error) {
	o, err := parseObject(body)
	if err != nil {
		return Signup{}, err
	}
	var s Signup
	if email, ok := o.str("email", stringField{required: true, maxLen: maxEmail}); ok {
		if norm, valid := NormalizeEmail(email); valid {
			s.Email = norm
		} else {
			o.errs.Add("email", "Enter a valid email address.")
		}
	}
	s.Nickname, _ = o.str("nickname", stringField{required: true, maxLen: maxNickname})
	s.Name, _ = o.str("name", stringField{required: true, maxLen: maxName})
	s.Gender, _ = o.choice("gender", GenderMale, GenderFemale)
	pw, pwOK := o.str("password", stringField{required: true, minLen: minPassword, maxBytes: maxPasswordBytes})
	pw2, pw2OK := o.str("password2", stringField{required: true, maxBytes: maxPasswordBytes})
	if pwOK && pw2OK && pw != pw2 {
		o.errs.Add("password", "Password fields didn't match.")
	}
	s.Password = pw
	if raw, ok := o.str("birth_date", stringField{required: true}); ok {
		d, err := time.Parse(time.DateOnly, raw)
		switch {
		case err != nil:
			o.errs.Add("birth_date", "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.")
		case d.Before(earliestBirthDate):
			o.errs.Add("birth_date", "Birth date must be on or after 1900-01-01.")
		case d.After(latestToday(now)):
			o.errs.Add("birth_date", "Birth date cannot be in the future.")
		default:
			s.BirthDate = d
		}
	}
	if err := o.errs.orNil(); err != nil {
		return Signup{}, err
	}
	return s, nil
}

// latestToday is the calendar date at UTC+14, the earliest time zone, as midnight UTC.
func latestToday(now time.Time) time.Time {
	y, m, d := now.UTC().Add(14 * time.Hour).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Credentials is a validated POST /user/login/ or /user/token/ body.
type Credentials struct {
	Email    string
	Password string
}

// DecodeCredentials decodes a login body. The email is not checked for syntax: an unknown or
// malformed address is simply a failed login, as in the old service.
func DecodeCredentials(body []byte) (Credentials, error) {
	o, err := parseObject(body)
	if err != nil {
		return Credentials{}, err
	}
	var c Credentials
	if email, ok := o.str("email", stringField{required: true, maxLen: maxEmail}); ok {
		c.Email = strings.TrimSpace(email)
		if norm, valid := NormalizeEmail(c.Email); valid {
			c.Email = norm
		}
	}
	c.Password, _ = o.str("password", stringField{required: true})
	if err := o.errs.orNil(); err != nil {
		return Credentials{}, err
	}
	return c, nil
}

// DecodeToken reads the one token field of POST /user/token/refresh/ ("refresh") and
// /user/token/verify/ ("token").
func DecodeToken(body []byte, field string) (string, error) {
	o, err := parseObject(body)
	if err != nil {
		return "", err
	}
	tok, _ := o.str(field, stringField{required: true})
	if err := o.errs.orNil(); err != nil {
		return "", err
	}
	return tok, nil
}

// NormalizeEmail trims the address and lower-cases its domain (the local part is case
// sensitive by the RFC, as Django keeps it), and reports whether it is a plausible address:
// one @, a local part of printable ASCII without spaces, a dotted domain of letters, digits and
// hyphens.
func NormalizeEmail(s string) (string, bool) {
	s = strings.TrimSpace(s)
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || len(local) > 64 || domain == "" || strings.Contains(domain, "@") {
		return s, false
	}
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return s, false
	}
	for _, r := range local {
		if r <= ' ' || r > '~' || strings.ContainsRune(`"(),:;<>[\]`, r) {
			return s, false
		}
	}
	domain = strings.ToLower(domain)
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return s, false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return s, false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return s, false
			}
		}
	}
	return local + "@" + domain, true
}
