package devstack

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/logetl/logetl/internal/localsvc"
)

// Spec describes one child process of the dev stack.
type Spec struct {
	// Name is the component name shown on the status lines and used for the log file.
	Name string
	// Path and Args are the program and its arguments (Args without the program name).
	Path string
	Args []string
	// Env is the complete environment of the child.
	Env []string
	// Dir is the working directory; empty means the supervisor's.
	Dir string
	// LogPath receives the child's stdout and stderr, appended across restarts.
	LogPath string
	// Ready reports nil once the child serves; started is when this run of the child began.
	// Nil means the child counts as ready as soon as it has started.
	Ready func(ctx context.Context, started time.Time) error
	// ReadyURL is shown on the "ready" status line.
	ReadyURL string
	// ReadyTimeout bounds how long one run may take to become ready before it is reported.
	ReadyTimeout time.Duration
	// Console picks the lines of the child's output that also belong on the status terminal:
	// it returns the message to report, or false. Nil: the output only goes to the log.
	Console func(line string) (string, bool)
}

// Backoff is the restart delay policy of crashed children.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
	// Reset: a run that lasted at least this long starts the next backoff from Initial again.
	Reset time.Duration
}

// DefaultBackoff doubles from one second up to 30 seconds.
var DefaultBackoff = Backoff{Initial: time.Second, Max: 30 * time.Second, Reset: time.Minute}

// Process supervises one child: it starts it in its own process group, restarts it with
// backoff when it exits on its own, and stops the whole group on Stop.
type Process struct {
	spec    Spec
	backoff Backoff
	status  *Status

	stopOnce sync.Once
	stopCh   chan struct{}
	done     chan struct{}

	mu       sync.Mutex
	child    *localsvc.Child
	ready    bool
	readyCh  chan struct{} // closed when the current run becomes ready
	starts   int
	lastExit string
}

// Start launches the child and its supervising goroutine. The process runs until Stop is
// called; ctx only bounds the readiness probes.
func Start(ctx context.Context, spec Spec, backoff Backoff, status *Status) *Process {
	p := &Process{
		spec:    spec,
		backoff: backoff,
		status:  status,
		stopCh:  make(chan struct{}),
		done:    make(chan struct{}),
		readyCh: make(chan struct{}),
	}
	go p.supervise(ctx)
	return p
}

// Name is the component name.
func (p *Process) Name() string { return p.spec.Name }

// Starts says how many times the child has been started so far.
func (p *Process) Starts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts
}

// PID is the process id of the current run, or 0 when it is not running.
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.child == nil {
		return 0
	}
	return p.child.PID()
}

// WaitReady blocks until the current run of the child is ready, ctx ends or timeout passes.
func (p *Process) WaitReady(ctx context.Context, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		p.mu.Lock()
		ch, ready := p.readyCh, p.ready
		p.mu.Unlock()
		if ready {
			return nil
		}
		select {
		case <-ch:
		case <-p.done:
			return fmt.Errorf("%s stopped before it was ready", p.spec.Name)
		case <-t.C:
			p.mu.Lock()
			last := p.lastExit
			p.mu.Unlock()
			if last != "" {
				return fmt.Errorf("%s not ready after %s (last exit: %s; see %s)", p.spec.Name, timeout, last, p.spec.LogPath)
			}
			return fmt.Errorf("%s not ready after %s (see %s)", p.spec.Name, timeout, p.spec.LogPath)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (p *Process) supervise(ctx context.Context) {
	defer close(p.done)
	delay := p.backoff.Initial
	for {
		began := time.Now()
		exitDesc, err := p.runOnce(ctx)
		if p.stopping() {
			return
		}
		if time.Since(began) >= p.backoff.Reset {
			delay = p.backoff.Initial
		}
		if err != nil {
			p.status.Report(p.spec.Name, "failed to start (%v); retrying in %s", err, delay)
		} else {
			p.status.Report(p.spec.Name, "exited (%s) after %s: see %s; restarting in %s", exitDesc, roundDuration(time.Since(began)), p.spec.LogPath, delay)
		}
		select {
		case <-time.After(delay):
		case <-p.stopCh:
			return
		}
		delay = min(delay*2, p.backoff.Max)
	}
}

// runOnce starts the child, probes its readiness and waits for it to exit. It returns a
// description of how it exited, or an error when it could not be started at all.
func (p *Process) runOnce(ctx context.Context) (string, error) {
	logFile, err := localsvc.AppendLog(p.spec.LogPath)
	if err != nil {
		return "", err
	}
	defer logFile.Close()
	fmt.Fprintf(logFile, "\n==== logetl-dev: %s %s %s ====\n", time.Now().UTC().Format(time.RFC3339), p.spec.Path, strings.Join(p.spec.Args, " "))
	var out io.Writer = logFile
	if p.spec.Console != nil {
		out = localsvc.Tee{logFile, localsvc.NewLineWriter(func(line string) {
			if msg, ok := p.spec.Console(line); ok {
				p.status.Report(p.spec.Name, "%s", msg)
			}
		})}
	}

	p.mu.Lock()
	if p.stopping() {
		p.mu.Unlock()
		return "stopped", nil
	}
	// Its own process group lets Stop reach every process the child spawned; DieWithParent
	// ends the child even if the supervisor itself is killed without a chance to clean up.
	child, err := localsvc.StartChild(localsvc.ChildSpec{
		Path: p.spec.Path, Args: p.spec.Args, Env: p.spec.Env, Dir: p.spec.Dir,
		Output: out, DieWithParent: true,
	})
	if err != nil {
		p.mu.Unlock()
		return "", err
	}
	p.child = child
	p.starts++
	restart := p.starts > 1
	p.mu.Unlock()

	started := time.Now()
	if restart {
		p.status.Report(p.spec.Name, "restarted (pid %d, log: %s)", child.PID(), p.spec.LogPath)
	} else {
		p.status.Report(p.spec.Name, "starting (pid %d, log: %s)", child.PID(), p.spec.LogPath)
	}

	probeDone := make(chan struct{})
	go func() {
		defer close(probeDone)
		p.probe(ctx, started, child.Done())
	}()
	desc := child.Describe() // waits for the exit
	<-probeDone

	p.mu.Lock()
	p.child = nil
	if p.ready {
		p.ready = false
		p.readyCh = make(chan struct{})
	}
	p.lastExit = desc
	p.mu.Unlock()
	return desc, nil
}

func (p *Process) probe(ctx context.Context, started time.Time, exited <-chan struct{}) {
	// The status line is written before WaitReady is released, so whoever waits for readiness
	// (the supervisor's summary, the tests) sees the line already on the terminal.
	markReady := func() {
		if p.spec.ReadyURL != "" {
			p.status.Report(p.spec.Name, "ready at %s", p.spec.ReadyURL)
		} else {
			p.status.Report(p.spec.Name, "ready")
		}
		p.mu.Lock()
		p.ready = true
		close(p.readyCh)
		p.mu.Unlock()
	}
	if p.spec.Ready == nil {
		markReady()
		return
	}
	timeout := p.spec.ReadyTimeout
	if timeout == 0 {
		timeout = time.Minute
	}
	deadline := time.Now().Add(timeout)
	reported := false
	var lastErr error
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		lastErr = p.spec.Ready(pctx, started)
		cancel()
		if lastErr == nil {
			select {
			case <-exited:
				return
			default:
			}
			markReady()
			return
		}
		if !reported && time.Now().After(deadline) {
			reported = true
			p.status.Report(p.spec.Name, "not ready after %s (%v): see %s", timeout, lastErr, p.spec.LogPath)
		}
		select {
		case <-exited:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (p *Process) stopping() bool {
	select {
	case <-p.stopCh:
		return true
	default:
		return false
	}
}

// Stop ends the child: SIGTERM to its process group, then SIGKILL after grace. It returns
// once the child has exited; calling it again is harmless.
func (p *Process) Stop(grace time.Duration) {
	p.stopOnce.Do(func() {
		p.mu.Lock()
		close(p.stopCh)
		child := p.child
		p.mu.Unlock()
		if child == nil {
			<-p.done
			return
		}
		p.status.Report(p.spec.Name, "stopping (SIGTERM)")
		if child.Stop(grace) {
			<-p.done
			p.status.Report(p.spec.Name, "still running after %s: killed (SIGKILL)", grace)
			return
		}
		<-p.done
		p.status.Report(p.spec.Name, "stopped")
	})
	<-p.done
}

func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}
