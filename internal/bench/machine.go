package bench

import (
	"bufio"
	"context"
	"database/sql"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Machine describes where the bench ran.
type Machine struct {
	Cores     int     `json:"cores"`
	MemoryGiB float64 `json:"memory_gib"`
	CPUModel  string  `json:"cpu_model"`
	GoVersion string  `json:"go_version"`
	OS        string  `json:"os"`
	Arch      string  `json:"arch"`
	// The database server and the settings that bound its write and read rates.
	MySQLVersion          string  `json:"mysql_version"`
	InnoDBBufferPoolMiB   float64 `json:"innodb_buffer_pool_mib"`
	InnoDBFlushLogAtTrxCm int     `json:"innodb_flush_log_at_trx_commit"`
}

func describeMachine(ctx context.Context, db *sql.DB) Machine {
	m := Machine{
		Cores:     runtime.NumCPU(),
		GoVersion: runtime.Version(),
		OS:        runtime.GOOS,
		Arch:      runtime.GOARCH,
		CPUModel:  procField("/proc/cpuinfo", "model name"),
	}
	if kb, err := strconv.ParseFloat(strings.TrimSuffix(procField("/proc/meminfo", "MemTotal"), " kB"), 64); err == nil {
		m.MemoryGiB = kb / (1 << 20)
	}
	var pool int64
	if db.QueryRowContext(ctx, "SELECT VERSION(), @@innodb_buffer_pool_size, @@innodb_flush_log_at_trx_commit").
		Scan(&m.MySQLVersion, &pool, &m.InnoDBFlushLogAtTrxCm) == nil {
		m.InnoDBBufferPoolMiB = float64(pool) / (1 << 20)
	}
	return m
}

// procField returns the value of the first "name : value" line of a /proc file, or "".
func procField(path, name string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
