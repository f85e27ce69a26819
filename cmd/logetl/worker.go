package main

import (
	"context"
	"errors"
)

// workerCmd is not built yet; its owner replaces this file.
type workerCmd struct{}

func (c *workerCmd) Run(ctx context.Context) error { return errors.New("worker: not implemented yet") }
