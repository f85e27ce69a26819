package main

import (
	"context"
	"errors"
)

// keysCmd is not built yet; its owner replaces this file.
type keysCmd struct{}

func (c *keysCmd) Run(ctx context.Context) error { return errors.New("keys: not implemented yet") }
