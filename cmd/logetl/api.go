package main

import (
	"context"
	"fmt"

	"github.com/logetl/logetl/apiserver"
	"github.com/logetl/logetl/apiserver/auth"
	"github.com/logetl/logetl/apiserver/store"
	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/launcher"
	"github.com/logetl/logetl/internal/schema"
)

// apiCmd serves the REST API until the process is told to stop.
type apiCmd struct {
	config.MySQL
	config.API
	config.DataDir
	config.Temporal
	config.Export
	config.Tables
	config.Ranges
}

func (c *apiCmd) Run(ctx context.Context) error {
	secret, err := auth.LoadSecret(c.JWTSecret, c.Production, c.Path("jwt-secret"))
	if err != nil {
		return err
	}
	if !c.NoMigrate {
		if err := schema.Apply(ctx, c.MySQLDSN); err != nil {
			return err
		}
	}
	db, err := store.Open(c.MySQLDSN)
	if err != nil {
		return err
	}
	defer db.Close()
	// Temporal is dialed on the first POST /admin/backfills, so the API serves while Temporal
	// is down; until it is reachable that endpoint answers 503.
	lcfg, err := launcherConfig(c.Temporal, c.Export, c.Tables, c.Ranges)
	if err != nil {
		return err
	}
	backfills := launcher.New(lcfg)
	defer backfills.Close()
	srv, err := apiserver.New(apiserver.Options{
		DB:             db,
		JWTSecret:      secret,
		Backfills:      backfills,
		AdminEmails:    c.AdminEmails,
		TrustedProxies: c.TrustedProxies,
		MaxBodyBytes:   c.MaxBodyBytes,
		RequestTimeout: c.RequestTimeout,
		LoginRate:      apiserver.LoginRate{PerMinute: c.LoginPerMinute, Burst: c.LoginBurst},
		SecureCookies:  c.Production,
	})
	if err != nil {
		return err
	}
	if err := srv.ListenAndServe(ctx, c.APIAddr, c.ShutdownGrace); err != nil {
		return fmt.Errorf("api: %w", err)
	}
	return nil
}
