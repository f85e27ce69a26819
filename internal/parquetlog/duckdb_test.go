//go:build integration

package parquetlog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// runDuckDB runs one statement through the repository's DuckDB helper (node + @duckdb/node-api).
func runDuckDB(root, sql string) ([]map[string]string, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("node is not installed: %w", err)
	}
	if _, err := os.Stat(filepath.Join(root, "tools/duckdb/node_modules/@duckdb/node-api")); err != nil {
		return nil, fmt.Errorf("the @duckdb/node-api package is missing: %w", err)
	}
	cmd := exec.Command(node, filepath.Join(root, "tools/duckdb/query.mjs"), sql)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("duckdb query failed: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var rows []map[string]string
	dec := json.NewDecoder(&stdout)
	for dec.More() {
		var raw map[string]any
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("duckdb output: %w", err)
		}
		row := make(map[string]string, len(raw))
		for k, v := range raw {
			row[k] = fmt.Sprint(v)
		}
		rows = append(rows, row)
	}
	return rows, nil
}
