package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// BotsInput is the argument of the bot workflows: how many bots act in one run.
type BotsInput struct {
	N int `json:"n"`
}

// BotsResult summarizes a bot run.
type BotsResult struct {
	Succeeded int `json:"succeeded"`
	Skipped   int `json:"skipped"`
	Failed    int `json:"failed"`
	Actions   int `json:"actions"`
}

// MaxBots bounds one run's bots so that a typo in a schedule cannot flood the API.
const MaxBots = 1000

// botActivityOptions: a bot's HTTP calls are short; a few attempts ride out an API restart,
// and a bot that still fails is counted rather than failing the whole run.
func botActivityOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        10 * time.Second,
			MaximumAttempts:        3,
			NonRetryableErrorTypes: []string{ErrTypeConfig, ErrTypeBadInput},
		},
	}
}

func validateBots(n int) error {
	if n < 1 || n > MaxBots {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("bots: n=%d must be in 1..%d", n, MaxBots), ErrTypeBadInput, nil)
	}
	return nil
}

// SignupBots creates N bot accounts (bot{i}@bot.com) through the API, one activity per account.
// They run one after the other because each picks the next free index.
func SignupBots(ctx workflow.Context, in BotsInput) (BotsResult, error) {
	if err := validateBots(in.N); err != nil {
		return BotsResult{}, err
	}
	ctx = workflow.WithActivityOptions(ctx, botActivityOptions())
	var res BotsResult
	for i := 0; i < in.N; i++ {
		var r SignupBotResult
		if err := workflow.ExecuteActivity(ctx, ActivitySignupBot).Get(ctx, &r); err != nil {
			workflow.GetLogger(ctx).Warn("bot signup failed", "error", err)
			res.Failed++
			continue
		}
		res.Succeeded++
		res.Actions++
	}
	if res.Succeeded == 0 {
		return res, fmt.Errorf("bots: all %d signups failed", in.N)
	}
	return res, nil
}

// BotActivity runs N bot sessions in parallel: each logs in a random bot and creates, updates,
// views and deletes a post. One activity holds one bot's whole session, so its tokens stay in
// the activity and never reach workflow history.
func BotActivity(ctx workflow.Context, in BotsInput) (BotsResult, error) {
	if err := validateBots(in.N); err != nil {
		return BotsResult{}, err
	}
	ctx = workflow.WithActivityOptions(ctx, botActivityOptions())
	futures := make([]workflow.Future, in.N)
	for i := range futures {
		futures[i] = workflow.ExecuteActivity(ctx, ActivityBotSession)
	}
	var res BotsResult
	for _, f := range futures {
		var r BotSessionResult
		switch err := f.Get(ctx, &r); {
		case err != nil:
			workflow.GetLogger(ctx).Warn("bot session failed", "error", err)
			res.Failed++
		case r.Skipped:
			res.Skipped++
		default:
			res.Succeeded++
			res.Actions += r.Actions
		}
	}
	if res.Failed == in.N {
		return res, fmt.Errorf("bots: all %d sessions failed", in.N)
	}
	return res, nil
}
