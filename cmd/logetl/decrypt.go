package main

import (
	"context"
	"errors"
)

// decryptCmd is not built yet; its owner replaces this file.
type decryptCmd struct{}

func (c *decryptCmd) Run(ctx context.Context) error { return errors.New("decrypt: not implemented yet") }
