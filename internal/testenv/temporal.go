package testenv

import (
	"context"
	"errors"
	"fmt"
	"go/build"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/logetl/logetl/workflows"
)

// Temporal is a Temporal dev server (`temporal server start-dev`) run by a test: in-memory
// store, loopback only, free ports, logetl's search attributes registered.
type Temporal struct {
	Address     string // gRPC frontend host:port
	Namespace   string
	MetricsAddr string
	LogPath     string
	cmd         *exec.Cmd
	exited      chan struct{}
}

// TemporalBinary locates the Temporal CLI: $PATH, then $(go env GOPATH)/bin.
func TemporalBinary() (string, error) {
	if p, err := exec.LookPath("temporal"); err == nil {
		return p, nil
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		gopath = build.Default.GOPATH
	}
	p := filepath.Join(gopath, "bin", "temporal")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("temporal CLI not found in PATH nor %s (run scripts/services.sh tools)", p)
	}
	return p, nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StartTemporal starts a dev server whose log goes to logDir/temporal.log and waits until its
// frontend answers health checks (at most 90s). Call Stop when done.
func StartTemporal(ctx context.Context, logDir string) (*Temporal, error) {
	bin, err := TemporalBinary()
	if err != nil {
		return nil, err
	}
	ports := make([]int, 3)
	for i := range ports {
		if ports[i], err = FreePort(); err != nil {
			return nil, err
		}
	}
	t := &Temporal{
		Address:     net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])),
		Namespace:   "default",
		MetricsAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[2])),
		LogPath:     filepath.Join(logDir, "temporal.log"),
		exited:      make(chan struct{}),
	}
	logf, err := os.Create(t.LogPath)
	if err != nil {
		return nil, fmt.Errorf("temporal log: %w", err)
	}
	args := []string{"server", "start-dev", "--headless", "--ip", "127.0.0.1",
		"--port", strconv.Itoa(ports[0]), "--http-port", strconv.Itoa(ports[1]), "--metrics-port", strconv.Itoa(ports[2]),
		"--log-level", "warn"}
	args = append(args, workflows.StartDevFlags()...)
	t.cmd = exec.Command(bin, args...)
	t.cmd.Stdout, t.cmd.Stderr = logf, logf
	t.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := t.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		_ = t.cmd.Wait()
		logf.Close()
		close(t.exited)
	}()
	if err := t.waitReady(ctx, 90*time.Second); err != nil {
		_ = t.Stop()
		return nil, err
	}
	return t, nil
}

func (t *Temporal) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-t.exited:
			log, _ := os.ReadFile(t.LogPath)
			return fmt.Errorf("temporal dev server exited at start: %s", tail(log, 2000))
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		c, err := client.Dial(client.Options{HostPort: t.Address, Namespace: t.Namespace, Logger: quietLogger{}})
		if err == nil {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err = c.CheckHealth(cctx, &client.CheckHealthRequest{})
			cancel()
			if err == nil {
				// The default namespace is registered asynchronously: wait until it answers.
				cctx, cancel = context.WithTimeout(ctx, 5*time.Second)
				_, err = c.WorkflowService().DescribeNamespace(cctx, &workflowservice.DescribeNamespaceRequest{Namespace: t.Namespace})
				cancel()
			}
			c.Close()
			if err == nil {
				return nil
			}
		}
		lastErr = err
		time.Sleep(300 * time.Millisecond)
	}
	return fmt.Errorf("temporal dev server at %s not ready after %s (log %s): %w", t.Address, timeout, t.LogPath, lastErr)
}

// Dial returns a client of this server.
func (t *Temporal) Dial() (client.Client, error) {
	return client.Dial(client.Options{HostPort: t.Address, Namespace: t.Namespace, Logger: quietLogger{}})
}

// Stop ends the server (its whole process group) and waits for it.
func (t *Temporal) Stop() error {
	if t.cmd == nil || t.cmd.Process == nil {
		return nil
	}
	select {
	case <-t.exited:
		return nil
	default:
	}
	_ = syscall.Kill(-t.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-t.exited:
		return nil
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-t.cmd.Process.Pid, syscall.SIGKILL)
		<-t.exited
		return errors.New("temporal dev server did not stop on SIGTERM within 15s; killed")
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// quietLogger drops the SDK client's own logs; tests report failures themselves.
type quietLogger struct{}

func (quietLogger) Debug(string, ...interface{}) {}
func (quietLogger) Info(string, ...interface{})  {}
func (quietLogger) Warn(string, ...interface{})  {}
func (quietLogger) Error(string, ...interface{}) {}

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
