package main

import (
	"context"
	"errors"
)

// devCmd is not built yet; its owner replaces this file.
type devCmd struct{}

func (c *devCmd) Run(ctx context.Context) error { return errors.New("dev: not implemented yet") }
