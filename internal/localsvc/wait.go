package localsvc

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrExited is returned by WaitReady when the child exits before it is ready.
var ErrExited = errors.New("exited before it was ready")

// WaitReady polls probe (each call bounded by 3s) every interval until it answers nil, the
// child's done channel closes (nil: not watched), ctx ends or timeout passes; then it returns
// the last probe error.
func WaitReady(ctx context.Context, timeout, interval time.Duration, done <-chan struct{}, probe func(context.Context) error) error {
	deadline := time.Now().Add(timeout)
	for {
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := probe(pctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s: %w", timeout, err)
		}
		select {
		case <-done:
			return ErrExited
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}
