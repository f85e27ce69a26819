//go:build faults

package faults

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
)

// TestMain prints the fault summary after the tests. The package builds only with -tags faults
// (`make test-faults`): its tests restart the machine's MariaDB, which would fail whatever
// package `make test` tests at the same moment, and they take minutes. A missing service fails
// them.
func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	// The summary goes to LOGETL_FAULTS_SUMMARY (scripts/test-faults.sh prints it last), or to
	// stdout when run by hand.
	if len(results.rows) > 0 || len(results.notes) > 0 {
		if path := os.Getenv("LOGETL_FAULTS_SUMMARY"); path != "" {
			f, err := os.Create(path)
			if err != nil {
				fmt.Fprintf(os.Stderr, "faults: summary: %v\n", err)
				printSummary(os.Stdout)
			} else {
				printSummary(f)
				f.Close()
			}
		} else {
			printSummary(os.Stdout)
		}
	}
	os.Exit(code)
}

// result is one line of the summary: what a fault did to the rows of its windows.
type result struct {
	Fault      string
	Windows    int
	MySQLRows  int64
	S3Rows     int64
	Duplicated int
	Retried    string // what was retried: windows, attempts, requests
	Verdict    string
}

var results struct {
	mu    sync.Mutex
	rows  []result
	notes []string
}

func record(r result) {
	results.mu.Lock()
	defer results.mu.Unlock()
	results.rows = append(results.rows, r)
}

func note(format string, args ...any) {
	results.mu.Lock()
	defer results.mu.Unlock()
	results.notes = append(results.notes, fmt.Sprintf(format, args...))
}

func printSummary(w io.Writer) {
	results.mu.Lock()
	defer results.mu.Unlock()
	fmt.Fprintln(w, "== fault summary: rows in MySQL vs rows in S3 (read from the Parquet objects), objects duplicated ==")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FAULT\tWINDOWS\tMYSQL ROWS\tS3 ROWS\tDUPLICATED OBJECTS\tRETRIED\tVERDICT")
	for _, r := range results.rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\n", r.Fault, r.Windows, r.MySQLRows, r.S3Rows, r.Duplicated, r.Retried, r.Verdict)
	}
	tw.Flush()
	for _, n := range results.notes {
		fmt.Fprintln(w, "- "+strings.ReplaceAll(n, "\n", "\n  "))
	}
}

// recordAudit adds a fault's audit to the summary and reports whether it passed.
func recordAudit(t *testing.T, fault string, a audit, retried string, extra ...string) {
	t.Helper()
	verdict := "ok"
	if !a.OK() {
		verdict = "FAILED"
	}
	if len(extra) > 0 {
		verdict = strings.Join(append([]string{verdict}, extra...), "; ")
	}
	record(result{Fault: fault, Windows: a.Windows, MySQLRows: a.MySQLRows, S3Rows: a.S3Rows, Duplicated: a.Duplicated, Retried: retried, Verdict: verdict})
	t.Logf("%s: %s", fault, a)
	if !a.OK() {
		t.Errorf("%s: S3 does not hold exactly MySQL's rows: %s", fault, a)
	}
}
