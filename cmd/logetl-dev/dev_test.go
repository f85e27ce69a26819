package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

func TestLogetlBinaryDefaultsToTheOneBesideThisExecutable(t *testing.T) {
	dir := t.TempDir()
	self := filepath.Join(dir, "logetl-dev")
	var c devCmd
	if _, err := c.logetlBinary(self); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "logetl")+" not found") || !strings.Contains(err.Error(), "LOGETL_DEV_LOGETL") {
		t.Fatalf("missing logetl: err = %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "logetl"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := c.logetlBinary(self); err != nil || got != filepath.Join(dir, "logetl") {
		t.Fatalf("logetlBinary = %q, %v", got, err)
	}
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c.Logetl = plain
	if _, err := c.logetlBinary(self); err == nil || !strings.Contains(err.Error(), "not an executable") {
		t.Fatalf("non-executable --logetl: err = %v", err)
	}
}

// --help documents every setting: each flag has a help text and an environment variable.
func TestEveryFlagHasHelpAndAnEnvironmentVariable(t *testing.T) {
	var c devCmd
	parser, err := kong.New(&c, kong.Name("logetl-dev"), kong.Exit(func(int) {}))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range parser.Model.Node.Flags {
		if f.Name == "help" {
			continue
		}
		names[f.Name] = true
		if f.Help == "" || len(f.Envs) == 0 {
			t.Errorf("--%s: help %q, env %v", f.Name, f.Help, f.Envs)
		}
	}
	for _, want := range []string{"logetl", "data-dir", "mysql-dsn", "temporal-bin", "versitygw-bin", "stop-grace"} {
		if !names[want] {
			t.Errorf("no --%s flag", want)
		}
	}
	if f := flagNamed(parser, "logetl"); f == nil || f.Envs[0] != "LOGETL_DEV_LOGETL" {
		t.Errorf("--logetl env = %v", f)
	}
}

func flagNamed(p *kong.Kong, name string) *kong.Flag {
	for _, f := range p.Model.Node.Flags {
		if f.Name == name {
			return f
		}
	}
	return nil
}
