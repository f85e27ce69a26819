package parquetlog

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/logetl/logetl/internal/protect"
)

// fixtureStart is the time of the first fixture row: a microsecond-precise UTC instant.
var fixtureStart = time.Date(2026, 11, 24, 10, 0, 0, 123456_000, time.UTC)

var (
	fixtureActions = []string{"user.signup", "user.login", "user.login_failed", "post.create", "post.view", "post.update", "post.delete", "token.refresh", "user.withdraw"}
	fixtureMethods = []string{"POST", "POST", "POST", "POST", "GET", "PATCH", "DELETE", "POST", "DELETE"}
	fixtureRoutes  = []string{"/user/signup/", "/user/login/", "/user/login/", "/blog/create/", "/blog/:id/", "/blog/:id/", "/blog/:id/", "/user/token/refresh/", "/user/:id/withdraw/"}
)

// clearRow is what a fixture row was before protection: the test's ground truth.
type clearRow struct {
	UserID    *uint64
	ClientIP  string
	UserAgent string
	Email     *string
}

// sealer is what the fixture needs to protect a row: a Protector, or a SealCache over one.
type sealer interface {
	Seal(field string, plaintext []byte) []byte
}

// makeRows builds n deterministic, realistic rows from seed: a few hundred users, a few dozen
// user agents, IPv4 and IPv6, every action, nullable fields both set and null. Protected fields
// are sealed with s, pseudonyms made with p.
func makeRows(seed uint64, n int, p *protect.Protector, s sealer) ([]Row, []clearRow) {
	rng := rand.New(rand.NewPCG(seed, 42))
	rows := make([]Row, n)
	clear := make([]clearRow, n)
	for i := range rows {
		a := rng.IntN(len(fixtureActions))
		var c clearRow
		if fixtureActions[a] != "user.signup" && fixtureActions[a] != "user.login_failed" {
			uid := uint64(1 + rng.IntN(300))
			c.UserID = &uid
		}
		if rng.IntN(3) == 0 {
			c.ClientIP = fmt.Sprintf("2001:db8:%x::%x", rng.IntN(50), rng.IntN(1000))
		} else {
			c.ClientIP = fmt.Sprintf("198.51.%d.%d", rng.IntN(4), rng.IntN(250))
		}
		c.UserAgent = fmt.Sprintf("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0 Safari/537.36", 100+rng.IntN(30))
		if fixtureActions[a] == "user.login_failed" {
			e := fmt.Sprintf("someone%d@example.org", rng.IntN(20))
			c.Email = &e
		}
		r := Row{
			LogID:      int64(1000 + i),
			OccurredAt: fixtureStart.Add(time.Duration(i)*1500*time.Millisecond + time.Duration(rng.IntN(1000))*time.Microsecond),
			RequestID:  fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64()),
			Action:     fixtureActions[a],
			Method:     fixtureMethods[a],
			Route:      fixtureRoutes[a],
			Path:       fixtureRoutes[a],
			Status:     []int32{200, 201, 204, 400, 401, 404}[rng.IntN(6)],
			Message:    fixtureMethods[a] + " " + fixtureActions[a] + " success",
		}
		if fixtureRoutes[a] == "/blog/:id/" {
			pid := int64(1 + rng.IntN(500))
			r.PostID = &pid
			r.Path = fmt.Sprintf("/blog/%d/", pid)
		}
		if c.UserID != nil {
			ps := p.Pseudonym(*c.UserID)
			r.UserPseudonym = &ps
		}
		r.ClientIPEnc = s.Seal("client_ip", []byte(c.ClientIP))
		r.UserAgentEnc = s.Seal("user_agent", []byte(c.UserAgent))
		if c.Email != nil {
			r.EmailEnc = s.Seal("email", []byte(*c.Email))
		}
		rows[i], clear[i] = r, c
	}
	return rows, clear
}

func newProtector(t interface{ Fatal(...any) }) *protect.Protector {
	k, err := protect.GenerateKeyring()
	if err != nil {
		t.Fatal(err)
	}
	p, err := protect.NewProtector(k)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
