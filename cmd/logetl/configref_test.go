package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite docs/configuration.md from the flag definitions")

// configReference renders every setting of every command from kong's model of the CLI: the
// flag, its environment variable, its default and its help, once per setting, with the
// commands that take it.
func configReference(t *testing.T) string {
	t.Helper()
	var c cli
	parser, err := kong.New(&c, kong.Name("logetl"), defaults(), kong.Exit(func(int) {}))
	if err != nil {
		t.Fatal(err)
	}
	type setting struct {
		flag, env, def, help string
		commands             []string
	}
	byName := map[string]*setting{}
	var order []string
	var walk func(n *kong.Node, path string)
	walk = func(n *kong.Node, path string) {
		for _, f := range n.Flags {
			if f.Hidden || f.Name == "help" {
				continue
			}
			// A flag name means one setting, unless commands give it different meanings.
			key := f.Name + "\x00" + f.Help
			s, ok := byName[key]
			if !ok {
				s = &setting{flag: "--" + f.Name, def: f.Default, help: f.Help}
				if len(f.Envs) > 0 {
					s.env = strings.Join(f.Envs, ", ")
				}
				if f.IsBool() && s.def == "" {
					s.def = "false"
				}
				byName[key] = s
				order = append(order, key)
			}
			if path != "" && !slices.Contains(s.commands, path) {
				s.commands = append(s.commands, path)
			}
		}
		for _, child := range n.Children {
			p := strings.TrimSpace(path + " " + child.Name)
			walk(child, p)
		}
	}
	walk(parser.Model.Node, "")
	slices.Sort(order)

	var b strings.Builder
	b.WriteString("# Configuration reference\n\n")
	b.WriteString("<!-- Generated from the flag definitions by `go test ./cmd/logetl -run TestConfigurationReference -update-docs`; do not edit. -->\n\n")
	b.WriteString("Every setting is a flag and an environment variable; a flag wins over its variable, and the\n")
	b.WriteString("variable over the default. `logetl <command> --help` prints the same text. Table specs\n")
	b.WriteString("(`--tables`, [tables.md](tables.md)) set a table's window, time zone and retention, which win\n")
	b.WriteString("over `--window` and `--timezone` for that table. Durations take Go's syntax (`90s`, `15m`, `1h`);\n")
	b.WriteString("ranges also take days (`30d`). The tool programs beside logetl document their own settings:\n")
	b.WriteString("`bin/logetl-dev --help` (the stack of `make run`) and `bin/logetl-bench --help` ([benchmarks.md](benchmarks.md)).\n\n")
	b.WriteString("| Flag | Environment | Default | Commands | Meaning |\n|---|---|---|---|---|\n")
	cell := func(s string) string {
		s = strings.ReplaceAll(s, "|", `\|`)
		return strings.ReplaceAll(s, "\n", " ")
	}
	for _, name := range order {
		s := byName[name]
		cmds := "all"
		if len(s.commands) > 0 && len(s.commands) < len(parser.Model.Node.Children) {
			cmds = strings.Join(s.commands, ", ")
		}
		def := s.def
		if def != "" {
			def = "`" + def + "`"
		}
		env := s.env
		if env != "" {
			env = "`" + env + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", s.flag, env, def, cell(cmds), cell(s.help))
	}
	return b.String()
}

// docs/configuration.md is what the flag definitions say; rewrite it with -update-docs.
func TestConfigurationReference(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "configuration.md")
	want := configReference(t)
	if *updateDocs {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (write it with: go test ./cmd/logetl -run TestConfigurationReference -update-docs)", err)
	}
	if string(got) != want {
		t.Fatalf("docs/configuration.md is stale: go test ./cmd/logetl -run TestConfigurationReference -update-docs")
	}
}
