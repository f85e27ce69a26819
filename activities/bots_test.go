//go:build integration

package activities

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"

	"github.com/logetl/logetl/apiserver"
	"github.com/logetl/logetl/internal/botclient"
	"github.com/logetl/logetl/workflows"
)

// newBotActivities serves the real API on the test database, with no users yet.
func newBotActivities(t *testing.T, now func() time.Time) *Activities {
	t.Helper()
	if err := db.Truncate(context.Background(), "posts", "users"); err != nil {
		t.Fatal(err)
	}
	srv, err := apiserver.New(apiserver.Options{DB: db.DB, JWTSecret: []byte("activities-test-secret-0123456789abcdef"), BcryptCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	bc, err := botclient.New(ts.URL, ts.Client())
	if err != nil {
		t.Fatal(err)
	}
	return &Activities{Bots: bc, Now: now}
}

// assertNoSecrets fails when text, something Temporal stores in history, holds an email
// address, the bots' password or a JWT.
func assertNoSecrets(t *testing.T, what, text string) {
	t.Helper()
	for _, bad := range []string{"@", botclient.BotPassword, "eyJ"} {
		if strings.Contains(text, bad) {
			t.Fatalf("%s %q holds %q: no email, password or token may reach Temporal history", what, text, bad)
		}
	}
}

// payloadJSON is the result as the worker stores it in history.
func payloadJSON(t *testing.T, v any) string {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(p.GetData())
}

func TestBotActivitiesReportBotNumbersAndCountsOnly(t *testing.T) {
	a := newBotActivities(t, time.Now)
	env := activityEnv()
	env.RegisterActivity(a.SignupBot)
	env.RegisterActivity(a.BotSession)

	for want := 1; want <= 2; want++ {
		v, err := env.ExecuteActivity(a.SignupBot)
		if err != nil {
			t.Fatal(err)
		}
		var res workflows.SignupBotResult
		if err := v.Get(&res); err != nil {
			t.Fatal(err)
		}
		if res.Bot != want {
			t.Fatalf("signup result %+v, want bot %d", res, want)
		}
		assertNoSecrets(t, "signup result", payloadJSON(t, res))
	}

	v, err := env.ExecuteActivity(a.BotSession)
	if err != nil {
		t.Fatal(err)
	}
	var s workflows.BotSessionResult
	if err := v.Get(&s); err != nil {
		t.Fatal(err)
	}
	if s.Skipped || s.Actions != 5 || s.Bot < 1 || s.Bot > 2 {
		t.Fatalf("session result %+v, want 5 actions by bot 1 or 2", s)
	}
	assertNoSecrets(t, "session result", payloadJSON(t, s))
}

func TestBotSignupFailureNamesNoEmail(t *testing.T) {
	// A clock years ahead sends a birth date in the future: the API's 400 cannot change on retry.
	a := newBotActivities(t, func() time.Time { return time.Now().AddDate(5, 0, 0) })
	env := activityEnv()
	env.RegisterActivity(a.SignupBot)
	_, err := env.ExecuteActivity(a.SignupBot)
	if typ, nonRetryable := appType(err); typ != workflows.ErrTypeBadInput || !nonRetryable {
		t.Fatalf("signup with a future birth date: %v, want non-retryable %s", err, workflows.ErrTypeBadInput)
	}
	assertNoSecrets(t, "activity failure", err.Error())
	if !strings.Contains(err.Error(), "bot 1") {
		t.Fatalf("activity failure %q does not name bot 1", err)
	}
}
