package main

import (
	"context"
	"errors"
)

// verifyCmd is not built yet; its owner replaces this file.
type verifyCmd struct{}

func (c *verifyCmd) Run(ctx context.Context) error { return errors.New("verify: not implemented yet") }
