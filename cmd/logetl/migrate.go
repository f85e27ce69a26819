package main

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/schema"
)

type migrateCmd struct {
	config.MySQL
}

func (c *migrateCmd) Run(ctx context.Context) error {
	if err := schema.EnsureDatabase(ctx, c.MySQLDSN); err != nil {
		return err
	}
	db, err := sql.Open("mysql", c.MySQLDSN)
	if err != nil {
		return fmt.Errorf("open MySQL: %w", err)
	}
	defer db.Close()
	return schema.Migrate(ctx, db)
}
