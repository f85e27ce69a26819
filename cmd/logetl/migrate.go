package main

import (
	"context"

	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/schema"
)

type migrateCmd struct {
	config.MySQL
}

func (c *migrateCmd) Run(ctx context.Context) error {
	return schema.Apply(ctx, c.MySQLDSN)
}
