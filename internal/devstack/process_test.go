package devstack

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/logetl/logetl/internal/testenv"
)

// syncBuffer collects status lines written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// alive says whether pid is a running (not zombie) process.
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	var pid int
	testenv.WaitFor(t, "pid file "+path, func() bool {
		b, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && pid > 0
	})
	return pid
}

func TestStopKillsTheWholeProcessGroup(t *testing.T) {
	tests := []struct {
		name       string
		script     string
		wantStatus string
	}{
		{
			name:       "child and grandchild that exit on SIGTERM stop within the grace period",
			script:     `sleep 300 & echo $! > "$1"; wait`,
			wantStatus: "child     stopped",
		},
		{
			name: "child and grandchild that ignore SIGTERM are killed after the grace period",
			// Ignored signals stay ignored across exec, so the sleep ignores SIGTERM too.
			script:     `trap "" TERM; sleep 300 & echo $! > "$1"; wait; wait`,
			wantStatus: "SIGKILL",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			pidFile := filepath.Join(dir, "grandchild.pid")
			var out syncBuffer
			status := NewStatus(&out)
			p := Start(context.Background(), Spec{
				Name: "child", Path: "/bin/sh", Args: []string{"-c", tt.script, "sh", pidFile},
				Env: os.Environ(), LogPath: filepath.Join(dir, "child.log"),
			}, DefaultBackoff, status)
			grandchild := readPID(t, pidFile)
			child := p.PID()
			if !alive(grandchild) || !alive(child) {
				t.Fatalf("child %d or grandchild %d not running before Stop", child, grandchild)
			}
			p.Stop(300 * time.Millisecond)
			testenv.WaitFor(t, "grandchild to be gone", func() bool { return !alive(grandchild) })
			if alive(child) {
				t.Errorf("child %d still running after Stop", child)
			}
			if !strings.Contains(out.String(), tt.wantStatus) {
				t.Errorf("status output lacks %q:\n%s", tt.wantStatus, out.String())
			}
			if p.Starts() != 1 {
				t.Errorf("Starts = %d, want 1 (a stopped child is not restarted)", p.Starts())
			}
		})
	}
}

func TestCrashedChildIsRestartedWithBackoffAndReported(t *testing.T) {
	dir := t.TempDir()
	var out syncBuffer
	p := Start(context.Background(), Spec{
		Name: "crashy", Path: "/bin/sh", Args: []string{"-c", "echo boom; exit 3"},
		Env: os.Environ(), LogPath: filepath.Join(dir, "crashy.log"),
	}, Backoff{Initial: 10 * time.Millisecond, Max: 40 * time.Millisecond, Reset: time.Hour}, NewStatus(&out))
	testenv.WaitFor(t, "three starts", func() bool { return p.Starts() >= 3 })
	p.Stop(time.Second)

	status := out.String()
	for _, want := range []string{
		"crashy    starting",
		"crashy    restarted",
		"exited (exit status 3)",
		"see " + filepath.Join(dir, "crashy.log"),
		"restarting in 10ms",
		"restarting in 20ms",
	} {
		if !strings.Contains(status, want) {
			t.Errorf("status output lacks %q:\n%s", want, status)
		}
	}
	log, err := os.ReadFile(filepath.Join(dir, "crashy.log"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(log), "boom"); n < 3 {
		t.Errorf("log has %d runs' output, want every run appended (>= 3):\n%s", n, log)
	}
}

func TestReadinessIsProbedAndReported(t *testing.T) {
	dir := t.TempDir()
	readyFile := filepath.Join(dir, "ready")
	var out syncBuffer
	p := Start(context.Background(), Spec{
		Name: "slow", Path: "/bin/sh", Args: []string{"-c", `sleep 0.3; touch "$1"; exec sleep 300`, "sh", readyFile},
		Env: os.Environ(), LogPath: filepath.Join(dir, "slow.log"),
		Ready: func(ctx context.Context, started time.Time) error {
			_, err := os.Stat(readyFile)
			return err
		},
		ReadyURL: "file://" + readyFile,
	}, DefaultBackoff, NewStatus(&out))
	defer p.Stop(time.Second)

	if err := p.WaitReady(context.Background(), 20*time.Second); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	if _, err := os.Stat(readyFile); err != nil {
		t.Fatalf("WaitReady returned before the child was ready: %v", err)
	}
	if !strings.Contains(out.String(), "slow      ready at file://"+readyFile) {
		t.Errorf("status output lacks the ready line:\n%s", out.String())
	}
}

func TestWaitReadyFailsWhenTheChildNeverBecomesReady(t *testing.T) {
	dir := t.TempDir()
	var out syncBuffer
	p := Start(context.Background(), Spec{
		Name: "never", Path: "/bin/sh", Args: []string{"-c", "exit 1"},
		Env: os.Environ(), LogPath: filepath.Join(dir, "never.log"),
		Ready: func(ctx context.Context, started time.Time) error { return syscall.ECONNREFUSED },
	}, Backoff{Initial: 10 * time.Millisecond, Max: 10 * time.Millisecond, Reset: time.Hour}, NewStatus(&out))
	defer p.Stop(time.Second)

	err := p.WaitReady(context.Background(), 300*time.Millisecond)
	if err == nil {
		t.Fatal("WaitReady succeeded for a child that exits at once")
	}
	if !strings.Contains(err.Error(), "exit status 1") || !strings.Contains(err.Error(), "never.log") {
		t.Errorf("error %q should name the last exit and the log file", err)
	}
}
