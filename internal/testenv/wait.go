package testenv

import (
	"testing"
	"time"
)

// WaitFor polls cond every 20ms until it holds, failing the test after a generous 30s: long
// enough for a loaded 2-core machine, and never a timing assertion, only a bound on a hang.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
