package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/logetl/logetl/internal/botclient"
	"github.com/logetl/logetl/internal/config"
)

// botCmd drives the API with bot traffic directly, without Temporal.
type botCmd struct {
	Signup   botSignupCmd   `cmd:"" name:"signup" help:"Create N bot accounts (bot{i}@bot.com) through the API."`
	Activity botActivityCmd `cmd:"" name:"activity" help:"Run N bot sessions: log in a random bot, create, update, view and delete a post."`
}

// newBotClient checks a bot command's -n and makes its API client.
func newBotClient(api config.APIClient, n int) (*botclient.Client, error) {
	if n < 1 {
		return nil, fmt.Errorf("-n must be at least 1")
	}
	return botclient.New(api.APIURL, nil)
}

type botSignupCmd struct {
	config.APIClient
	N int `short:"n" default:"1" help:"How many accounts."`
}

func (c *botSignupCmd) Run(ctx context.Context) error {
	bc, err := newBotClient(c.APIClient, c.N)
	if err != nil {
		return err
	}
	for i := 0; i < c.N; i++ {
		bot, err := bc.SignupBot(ctx, time.Now())
		if err != nil {
			return err
		}
		fmt.Println("signed up", botclient.BotEmail(bot))
	}
	return nil
}

type botActivityCmd struct {
	config.APIClient
	N int `short:"n" default:"1" help:"How many sessions."`
}

func (c *botActivityCmd) Run(ctx context.Context) error {
	bc, err := newBotClient(c.APIClient, c.N)
	if err != nil {
		return err
	}
	rnd := rand.New(rand.NewPCG(rand.Uint64(), uint64(time.Now().UnixNano())))
	failed := 0
	for i := 0; i < c.N; i++ {
		s, err := bc.RunSession(ctx, rnd)
		switch {
		case err != nil:
			failed++
			fmt.Println("failed:", err)
		case s.Skipped:
			fmt.Println("skipped", botclient.BotEmail(s.Bot), "(cannot log in)")
		default:
			fmt.Printf("%s: %d actions\n", botclient.BotEmail(s.Bot), s.Actions)
		}
	}
	if failed == c.N {
		return fmt.Errorf("all %d sessions failed", c.N)
	}
	return nil
}
