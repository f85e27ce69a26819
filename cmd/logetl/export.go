package main

import (
	"context"
	"errors"
)

// exportCmd is not built yet; its owner replaces this file.
type exportCmd struct{}

func (c *exportCmd) Run(ctx context.Context) error { return errors.New("export: not implemented yet") }
