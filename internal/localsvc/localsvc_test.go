package localsvc

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestFreePortCanBeListenedOn(t *testing.T) {
	p, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	if p <= 0 || p > 65535 {
		t.Fatalf("port %d", p)
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		t.Fatalf("listen on the free port: %v", err)
	}
	defer l.Close()
	addr, err := FreeAddr()
	if err != nil || !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("FreeAddr = %q, %v", addr, err)
	}
	if err := PortOpen(context.Background(), l.Addr().String()); err != nil {
		t.Errorf("PortOpen of a listening port: %v", err)
	}
}

func TestFindToolSaysWhereItLookedAndHowToInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("GOPATH", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	_, err := FindTool("", "logetl-no-such-tool")
	if err == nil {
		t.Fatal("found a tool that does not exist")
	}
	for _, want := range []string{"logetl-no-such-tool not found", "PATH", "$(go env GOPATH)/bin", "/usr/sbin", "scripts/services.sh tools"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if p, err := FindTool("/opt/x/temporal", "temporal"); err != nil || p != "/opt/x/temporal" {
		t.Errorf("configured path: %q, %v", p, err)
	}
}

func TestFindToolLooksInGoBin(t *testing.T) {
	gopath := t.TempDir()
	t.Setenv("PATH", t.TempDir())
	t.Setenv("GOPATH", gopath)
	bin := filepath.Join(gopath, "bin", "versitygw")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if p, err := FindTool("", "versitygw"); err != nil || p != bin {
		t.Errorf("FindTool = %q, %v; want %s", p, err, bin)
	}
}

func TestChildStopEndsASleepWithSIGTERM(t *testing.T) {
	c, err := StartChild(ChildSpec{Path: "sleep", Args: []string{"60"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Exited() {
		t.Fatal("sleep exited at once")
	}
	if killed := c.Stop(10 * time.Second); killed {
		t.Error("sleep needed SIGKILL")
	}
	if !c.Exited() || c.Describe() != "killed by SIGTERM" {
		t.Errorf("after Stop: exited %v, %q", c.Exited(), c.Describe())
	}
	if err := syscall.Kill(c.PID(), 0); err == nil {
		t.Errorf("pid %d still exists after Stop (not reaped)", c.PID())
	}
	c.Stop(time.Second) // again: harmless
}

func TestChildStopKillsAProcessGroupThatIgnoresSIGTERM(t *testing.T) {
	// The shell ignores SIGTERM and so does its sleep, a grandchild in the same group.
	ready := make(chan struct{})
	out := NewLineWriter(func(line string) {
		if line == "trapped" {
			close(ready)
		}
	})
	c, err := StartChild(ChildSpec{Path: "sh", Args: []string{"-c", "trap '' TERM; sleep 60 & echo trapped; wait"}, Output: out})
	if err != nil {
		t.Fatal(err)
	}
	select { // SIGTERM before the trap is set would end the shell at once
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("the shell did not set its trap")
	}
	began := time.Now()
	if killed := c.Stop(300 * time.Millisecond); !killed {
		t.Error("Stop did not need SIGKILL for a process ignoring SIGTERM")
	}
	if time.Since(began) > 10*time.Second {
		t.Errorf("Stop took %s", time.Since(began))
	}
	if d := c.Describe(); d != "killed by SIGKILL" {
		t.Errorf("exit = %q", d)
	}
	if pids := liveInGroup(c.PID()); len(pids) > 0 {
		t.Errorf("processes %v of the child's group outlived Stop", pids)
	}
}

// liveInGroup lists the processes of group pgid that are not zombies (a killed grandchild
// stays a zombie until whoever inherited it reaps it).
func liveInGroup(pgid int) []int {
	var live []int
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:]) // state ppid pgrp ...
		if len(f) < 3 || f[0] == "Z" || f[2] != strconv.Itoa(pgid) {
			continue
		}
		pid, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(d, "/proc/"), "/stat"))
		live = append(live, pid)
	}
	return live
}

func TestChildOutputAndExitStatus(t *testing.T) {
	var lines []string
	w := NewLineWriter(func(l string) { lines = append(lines, l) })
	c, err := StartChild(ChildSpec{Path: "sh", Args: []string{"-c", "echo one; echo two >&2; printf three; exit 3"}, Output: w})
	if err != nil {
		t.Fatal(err)
	}
	<-c.Done()
	if d := c.Describe(); d != "exit status 3" {
		t.Errorf("exit = %q", d)
	}
	if strings.Join(lines, "|") != "one|two" {
		t.Errorf("lines = %q (an unfinished line is held back)", lines)
	}
}

func TestStartChildOfAMissingProgram(t *testing.T) {
	if _, err := StartChild(ChildSpec{Path: filepath.Join(t.TempDir(), "missing")}); err == nil {
		t.Fatal("started a program that does not exist")
	}
}

func TestWaitReadyStopsWhenTheChildExits(t *testing.T) {
	c, err := StartChild(ChildSpec{Path: "true"})
	if err != nil {
		t.Fatal(err)
	}
	err = WaitReady(context.Background(), time.Minute, 10*time.Millisecond, c.Done(), func(context.Context) error {
		return errors.New("not yet")
	})
	if !errors.Is(err, ErrExited) {
		t.Errorf("WaitReady = %v, want ErrExited", err)
	}
	calls := 0
	err = WaitReady(context.Background(), time.Minute, time.Millisecond, nil, func(context.Context) error {
		if calls++; calls < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("WaitReady = %v after %d probes", err, calls)
	}
	err = WaitReady(context.Background(), 20*time.Millisecond, time.Millisecond, nil, func(context.Context) error { return errors.New("never") })
	if err == nil || !strings.Contains(err.Error(), "never") {
		t.Errorf("timeout error %v lacks the last probe error", err)
	}
}

func TestSpecsOfTheServices(t *testing.T) {
	gw, err := VersityGW{Bin: "/x/versitygw", Addr: "127.0.0.1:7070", Region: "r", Root: "/data", Sidecar: "/meta", AccessKey: "ak", SecretKey: "sk"}.Spec([]string{"A=1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(gw.Args, " "); got != "--port 127.0.0.1:7070 --region r --quiet posix --sidecar /meta /data" {
		t.Errorf("versitygw args %q", got)
	}
	if strings.Contains(strings.Join(gw.Args, " "), "sk") {
		t.Error("the secret is in argv")
	}
	if v, _ := LookupEnv(gw.Env, "ROOT_SECRET_ACCESS_KEY"); v != "sk" {
		t.Errorf("versitygw env %q", gw.Env)
	}
	tp, err := TemporalDev{Bin: "/x/temporal", IP: "127.0.0.1", Port: 7233, MetricsPort: 9000, Namespace: "ns"}.Spec(nil)
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Join(tp.Args, " ")
	for _, want := range []string{"server start-dev --ip 127.0.0.1 --port 7233 --headless", "--metrics-port 9000", "--search-attribute", "--namespace ns"} {
		if !strings.Contains(args, want) {
			t.Errorf("temporal args %q lack %q", args, want)
		}
	}
}

func TestEnvHelpers(t *testing.T) {
	env := WithEnv([]string{"A=1", "B=2", "A=3"}, map[string]string{"B": "x", "C": "y"})
	if got := strings.Join(env, " "); got != "A=1 A=3 B=x C=y" {
		t.Errorf("WithEnv = %q", got)
	}
	if v, ok := LookupEnv(env, "A"); !ok || v != "3" {
		t.Errorf("LookupEnv A = %q, %v", v, ok)
	}
	if IsLoopback("10.0.0.1:80") || !IsLoopback("127.0.0.1:80") || !IsLoopback("localhost") {
		t.Error("IsLoopback")
	}
}
