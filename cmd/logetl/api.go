package main

import (
	"context"
	"fmt"

	"github.com/logetl/logetl/apiserver"
	"github.com/logetl/logetl/apiserver/auth"
	"github.com/logetl/logetl/apiserver/store"
	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/schema"
)

// apiCmd serves the REST API until the process is told to stop.
type apiCmd struct {
	config.MySQL
	config.API
	config.DataDir
}

func (c *apiCmd) Run(ctx context.Context) error {
	secret, err := auth.LoadSecret(c.JWTSecret, c.Production, c.Path("jwt-secret"))
	if err != nil {
		return err
	}
	if !c.NoMigrate {
		if err := schema.EnsureDatabase(ctx, c.MySQLDSN); err != nil {
			return err
		}
	}
	db, err := store.Open(c.MySQLDSN)
	if err != nil {
		return err
	}
	defer db.Close()
	if !c.NoMigrate {
		if err := schema.Migrate(ctx, db); err != nil {
			return err
		}
	}
	srv, err := apiserver.New(apiserver.Options{
		DB:             db,
		JWTSecret:      secret,
		Backfills:      nil, // the Temporal backfill starter is wired here once it lands
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
