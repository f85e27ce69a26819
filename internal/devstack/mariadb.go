package devstack

import (
	"context"
	"database/sql"
	"fmt"
	"os/exec"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/logetl/logetl/internal/localsvc"
)

// mysqlServerReachable pings the server of dsn without selecting its database, which may not
// exist yet.
func mysqlServerReachable(ctx context.Context, dsn string) error {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return fmt.Errorf("parse MySQL DSN: %w", err)
	}
	cfg.DBName = ""
	cfg.Timeout = 3 * time.Second
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return err
	}
	defer db.Close()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return db.PingContext(pctx)
}

// mysqlAddr is the host:port of dsn, for status lines (never the password).
func mysqlAddr(dsn string) (addr, dbName string) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "?", "?"
	}
	return cfg.Addr, cfg.DBName
}

// ensureMariaDB makes the server of dsn reachable: if it is down and script is set, it runs
// "script mariadb" (install from apt when missing, then start) with output to logPath.
func ensureMariaDB(ctx context.Context, dsn, script, logPath string, status *Status) error {
	addr, _ := mysqlAddr(dsn)
	if err := mysqlServerReachable(ctx, dsn); err == nil {
		return nil
	} else if script == "" || !localsvc.IsLoopback(addr) {
		return fmt.Errorf("MySQL at %s is not reachable (%v); start it (scripts/services.sh mariadb) or set LOGETL_MYSQL_DSN", addr, err)
	}
	status.Report("mariadb", "not reachable at %s: starting it with %s mariadb (log: %s)", addr, script, logPath)
	logFile, err := localsvc.AppendLog(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.CommandContext(ctx, "bash", script, "mariadb")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s mariadb: %w (see %s)", script, err, logPath)
	}
	if err := mysqlServerReachable(ctx, dsn); err != nil {
		return fmt.Errorf("MySQL at %s still not reachable after %s mariadb: %w", addr, script, err)
	}
	return nil
}
