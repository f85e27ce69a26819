package main

import (
	"context"
	"errors"
)

// botCmd is not built yet; its owner replaces this file.
type botCmd struct{}

func (c *botCmd) Run(ctx context.Context) error { return errors.New("bot: not implemented yet") }
