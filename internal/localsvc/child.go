package localsvc

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ChildSpec is one child process to start.
type ChildSpec struct {
	// Path and Args are the program and its arguments (Args without the program name).
	Path string
	Args []string
	// Env is the complete environment; nil means the parent's.
	Env []string
	// Dir is the working directory; empty means the parent's.
	Dir string
	// Output receives stdout and stderr; nil discards them.
	Output io.Writer
	// DieWithParent sends the child SIGTERM when the parent dies without cleaning up.
	DieWithParent bool
}

// Child is a started process in a process group of its own, reaped in the background: Stop
// and the exit reach everything it spawned.
type Child struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // Wait's, valid once done is closed
}

// StartChild starts spec. The child outlives any context: end it with Stop.
func StartChild(spec ChildSpec) (*Child, error) {
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Env = spec.Env
	cmd.Dir = spec.Dir
	cmd.Stdout, cmd.Stderr = spec.Output, spec.Output
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Output that is not a file goes through a pipe: a grandchild that keeps it open must not
	// hold up the reaping for more than a moment.
	cmd.WaitDelay = 2 * time.Second
	if spec.DieWithParent {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Path, err)
	}
	c := &Child{cmd: cmd, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		// The leader is gone; whatever it left behind in its group goes with it.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		close(c.done)
	}()
	return c, nil
}

// PID is the child's process id.
func (c *Child) PID() int { return c.cmd.Process.Pid }

// Done is closed once the child has exited and been reaped.
func (c *Child) Done() <-chan struct{} { return c.done }

// Exited reports whether the child has exited.
func (c *Child) Exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Err is the child's exit (nil for status 0); valid once Done is closed.
func (c *Child) Err() error {
	<-c.done
	return c.err
}

// Describe says how the child exited ("exit status 1", "killed by SIGKILL"); valid once Done
// is closed.
func (c *Child) Describe() string { return DescribeExit(c.Err()) }

// Signal sends sig to the child's whole process group.
func (c *Child) Signal(sig syscall.Signal) {
	_ = syscall.Kill(-c.cmd.Process.Pid, sig)
}

// Stop sends SIGTERM to the process group, then SIGKILL after grace, and returns once the
// child is reaped; killed says whether SIGKILL was needed. Calling it again is harmless.
func (c *Child) Stop(grace time.Duration) (killed bool) {
	if c.Exited() {
		return false
	}
	c.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		return false
	case <-time.After(grace):
		c.Signal(syscall.SIGKILL)
		<-c.done
		return true
	}
}

// DescribeExit spells an exec Wait error the way a status line wants it.
func DescribeExit(err error) string {
	if err == nil {
		return "exit status 0"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by " + unix.SignalName(ws.Signal())
		}
		return fmt.Sprintf("exit status %d", ee.ExitCode())
	}
	return err.Error()
}

// AppendLog opens path for appending (creating it 0600), for a child's Output.
func AppendLog(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log %s: %w", path, err)
	}
	return f, nil
}

// Tail is the last n bytes of the file at path, for an error about a child that died.
func Tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
