package main

import (
	"context"
	"errors"
)

// apiCmd is not built yet; its owner replaces this file.
type apiCmd struct{}

func (c *apiCmd) Run(ctx context.Context) error { return errors.New("api: not implemented yet") }
