package main

import (
	"context"
	"errors"
)

// schedulesCmd is not built yet; its owner replaces this file.
type schedulesCmd struct{}

func (c *schedulesCmd) Run(ctx context.Context) error { return errors.New("schedules: not implemented yet") }
