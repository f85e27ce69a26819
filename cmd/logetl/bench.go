package main

import (
	"context"
	"errors"
)

// benchCmd is not built yet; its owner replaces this file.
type benchCmd struct{}

func (c *benchCmd) Run(ctx context.Context) error { return errors.New("bench: not implemented yet") }
