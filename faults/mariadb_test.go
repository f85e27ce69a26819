//go:build faults

package faults

import (
	"context"
	"database/sql"
	"fmt"
	"os/exec"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/logetl/logetl/internal/testenv"
)

// The machine's MariaDB, as scripts/services.sh starts it (its my.cnf sets user=mysql).
const mariadbd = "/usr/sbin/mariadbd"

// restartMariaDB stops the machine's MariaDB, keeps it down for hold, and starts it again, as an
// operator's restart or a crash-and-respawn of a larger server would. Every other test on the
// machine sees the outage too, so it is kept short; whatever happens, the server is started
// again before returning. It returns how long the server did not answer.
func restartMariaDB(ctx context.Context, hold time.Duration) (time.Duration, error) {
	if _, err := exec.LookPath("start-stop-daemon"); err != nil {
		return 0, fmt.Errorf("start-stop-daemon is needed to restart MariaDB: %w", err)
	}
	began := time.Now()
	// TERM asks for a normal shutdown (connections are closed, in-flight statements fail);
	// KILL only if that takes too long.
	stop := exec.CommandContext(ctx, "start-stop-daemon", "--stop", "--exec", mariadbd, "--retry", "TERM/20/KILL/5")
	stopOut, stopErr := stop.CombinedOutput()
	// An idle small server restarts in well under a second; a real one takes seconds. Holding
	// it down makes the outage long enough for the API load to meet it.
	time.Sleep(hold)
	start := exec.Command("start-stop-daemon", "--start", "--oknodo", "--background", "--exec", mariadbd)
	if out, err := start.CombinedOutput(); err != nil {
		return time.Since(began), fmt.Errorf("start MariaDB again: %v: %s (run scripts/services.sh mariadb)", err, out)
	}
	if stopErr != nil {
		return time.Since(began), fmt.Errorf("stop MariaDB: %v: %s", stopErr, stopOut)
	}
	if err := waitMariaDB(context.WithoutCancel(ctx), 60*time.Second); err != nil {
		return time.Since(began), err
	}
	return time.Since(began), nil
}

// waitMariaDB waits until the server answers a ping.
func waitMariaDB(ctx context.Context, timeout time.Duration) error {
	cfg, err := mysql.ParseDSN(testenv.MySQLServerDSN())
	if err != nil {
		return err
	}
	cfg.Timeout = time.Second
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(timeout)
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := db.PingContext(pctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("MariaDB did not answer within %s of its restart: %w", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
