//go:build integration

package botclient

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/logetl/logetl/apiserver"
	"github.com/logetl/logetl/internal/testenv"
)

var db *testenv.Database

func TestMain(m *testing.M) { testenv.RunWithDatabase(m, "botclient", &db) }

// newAPI serves the real API on an empty database.
func newAPI(t *testing.T) *Client {
	t.Helper()
	if err := db.Truncate(context.Background(), "activity_log", "posts", "users"); err != nil {
		t.Fatal(err)
	}
	srv, err := apiserver.New(apiserver.Options{DB: db.DB, JWTSecret: []byte("botclient-test-secret-0123456789abcdef"), BcryptCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	c, err := New(ts.URL, ts.Client())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func countActions(t *testing.T, action string) int {
	t.Helper()
	var n int
	if err := db.DB.QueryRow("SELECT COUNT(*) FROM activity_log WHERE action = ?", action).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSignupBotNumbersAccountsAfterTheUserCount(t *testing.T) {
	ctx := context.Background()
	c := newAPI(t)
	now := time.Now()
	tests := []struct {
		name     string
		preTaken int // a bot number signed up by hand first, 0 = none
		wantBot  int
	}{
		{"first bot on an empty API", 0, 1},
		{"next number after one user", 0, 2},
		{"skips a number that is already taken", 4, 5}, // 3 users → tries bot4, taken → bot5
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.preTaken > 0 {
				if _, err := c.Signup(ctx, SignupRequest{Email: BotEmail(tt.preTaken), Nickname: fmt.Sprintf("bot%d", tt.preTaken), Gender: "F",
					Password: BotPassword, Password2: BotPassword, Name: "봇", BirthDate: "2000-01-01"}); err != nil {
					t.Fatal(err)
				}
			}
			bot, err := c.SignupBot(ctx, now)
			if err != nil {
				t.Fatal(err)
			}
			if bot != tt.wantBot {
				t.Fatalf("signed up bot %d, want bot %d", bot, tt.wantBot)
			}
			if _, err := c.Login(ctx, BotEmail(bot), BotPassword); err != nil {
				t.Fatalf("new bot cannot log in: %v", err)
			}
		})
	}
}

func TestRunSessionMakesTheFourPostActionsAsTheBot(t *testing.T) {
	ctx := context.Background()
	c := newAPI(t)
	if _, err := c.SignupBot(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	s, err := c.RunSession(ctx, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if s.Skipped || s.Actions != 5 || s.Bot != 1 {
		t.Fatalf("session %+v, want 5 actions by bot1", s)
	}
	for _, a := range []string{"user.login", "post.create", "post.update", "post.view", "post.delete"} {
		if n := countActions(t, a); n != 1 {
			t.Errorf("%s rows = %d, want 1", a, n)
		}
	}
	var posts int
	if err := db.DB.QueryRow("SELECT COUNT(*) FROM posts").Scan(&posts); err != nil || posts != 0 {
		t.Fatalf("posts left = %d (%v), want 0", posts, err)
	}
}

func TestRunSessionSkipsAnAccountThatIsNotABot(t *testing.T) {
	ctx := context.Background()
	c := newAPI(t)
	if _, err := c.Signup(ctx, SignupRequest{Email: "person@example.com", Nickname: "person", Gender: "M",
		Password: "a-real-password", Password2: "a-real-password", Name: "사람", BirthDate: "1990-05-05"}); err != nil {
		t.Fatal(err)
	}
	s, err := c.RunSession(ctx, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Skipped || s.Actions != 0 {
		t.Fatalf("session %+v, want skipped", s)
	}
	if n := countActions(t, "post.create"); n != 0 {
		t.Fatalf("post.create rows = %d", n)
	}
}

func TestClientReportsAPIErrorsWithTheirStatus(t *testing.T) {
	ctx := context.Background()
	c := newAPI(t)
	_, err := c.Login(ctx, "nobody@bot.com", "wrong-password")
	if StatusOf(err) != http.StatusUnauthorized {
		t.Fatalf("login error %v, want 401", err)
	}
	if _, err := c.GetPost(ctx, 999999); StatusOf(err) != http.StatusNotFound {
		t.Fatalf("get error %v, want 404", err)
	}
	if _, err := New("ftp://x", nil); err == nil {
		t.Fatal("ftp url accepted")
	}
}

// Errors reach Temporal history (activity failures), so they name the bot by number only.
func TestSignupErrorsNameTheBotByNumberNotByEmail(t *testing.T) {
	ctx := context.Background()
	c := newAPI(t)
	// A clock years ahead makes the bot's birth date (its today) a future date, which the API
	// refuses with a 400 that is not about a taken email.
	_, err := c.SignupBot(ctx, time.Now().AddDate(5, 0, 0))
	if StatusOf(err) != http.StatusBadRequest {
		t.Fatalf("signup with a future birth date: %v, want a 400", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "bot 1") || strings.Contains(msg, "@") || strings.Contains(msg, BotPassword) {
		t.Fatalf("error %q: want it to name bot 1 and hold no email or password", msg)
	}
}
