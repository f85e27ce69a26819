package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/logetl/logetl/internal/localsvc"
)

// Temporal is a Temporal dev server (`temporal server start-dev`) run by a test: in-memory
// store, loopback only, free ports, logetl's search attributes registered.
type Temporal struct {
	Address     string // gRPC frontend host:port
	Namespace   string
	MetricsAddr string
	LogPath     string
	child       *localsvc.Child
}

// TemporalBinary locates the Temporal CLI: $PATH, then $(go env GOPATH)/bin.
func TemporalBinary() (string, error) { return localsvc.FindTool("", "temporal") }

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) { return localsvc.FreePort() }

// StartTemporal starts a dev server whose log goes to logDir/temporal.log and waits until its
// frontend answers health checks (at most 90s). Call Stop when done.
func StartTemporal(ctx context.Context, logDir string) (*Temporal, error) {
	ports := make([]int, 3)
	for i := range ports {
		var err error
		if ports[i], err = localsvc.FreePort(); err != nil {
			return nil, err
		}
	}
	dev := localsvc.TemporalDev{IP: "127.0.0.1", Port: ports[0], HTTPPort: ports[1], MetricsPort: ports[2]}
	spec, err := dev.Spec(nil)
	if err != nil {
		return nil, err
	}
	t := &Temporal{
		Address:     net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])),
		Namespace:   "default",
		MetricsAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[2])),
		LogPath:     filepath.Join(logDir, "temporal.log"),
	}
	logf, err := os.Create(t.LogPath)
	if err != nil {
		return nil, fmt.Errorf("temporal log: %w", err)
	}
	spec.Output = logf
	t.child, err = localsvc.StartChild(spec)
	logf.Close() // the child has its own descriptor
	if err != nil {
		return nil, err
	}
	err = localsvc.WaitReady(ctx, 90*time.Second, 300*time.Millisecond, t.child.Done(), func(ctx context.Context) error {
		return localsvc.TemporalReady(ctx, t.Address, t.Namespace)
	})
	if err != nil {
		_ = t.Stop()
		if errors.Is(err, localsvc.ErrExited) {
			return nil, fmt.Errorf("temporal dev server exited at start: %s", localsvc.Tail(t.LogPath, 2000))
		}
		return nil, fmt.Errorf("temporal dev server at %s: %w (log %s)", t.Address, err, t.LogPath)
	}
	return t, nil
}

// Dial returns a client of this server.
func (t *Temporal) Dial() (client.Client, error) {
	return client.Dial(client.Options{HostPort: t.Address, Namespace: t.Namespace, Logger: localsvc.QuietLogger})
}

// Stop ends the server (its whole process group) and waits for it.
func (t *Temporal) Stop() error {
	if t.child == nil {
		return nil
	}
	if t.child.Stop(15 * time.Second) {
		return errors.New("temporal dev server did not stop on SIGTERM within 15s; killed")
	}
	return nil
}

// RunWithTemporal is the TestMain of a package whose tests share one Temporal dev server: it
// starts it into *srv (its log in a fresh temporary folder), runs the tests, stops it, removes the
// folder and exits with the tests' code.
func RunWithTemporal(m interface{ Run() int }, prefix string, srv **Temporal) {
	dir, err := os.MkdirTemp("", "logetl-"+prefix+"-test")
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s tests: %v\n", prefix, err)
		os.Exit(1)
	}
	s, err := StartTemporal(context.Background(), dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s tests: %v\n", prefix, err)
		os.Exit(1)
	}
	*srv = s
	code := m.Run()
	_ = s.Stop()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}
