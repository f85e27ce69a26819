package main

import (
	"context"
	"errors"
)

// backfillCmd is not built yet; its owner replaces this file.
type backfillCmd struct{}

func (c *backfillCmd) Run(ctx context.Context) error { return errors.New("backfill: not implemented yet") }
