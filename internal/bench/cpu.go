package bench

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CPUUse is the CPU time that each process spent during one measurement, next to its wall
// time: on a 2-core machine, a phase whose processes add up to about 2 × wall was CPU-bound.
// MySQL and S3 are 0 when their process is not found on this machine.
type CPUUse struct {
	WallSeconds float64 `json:"wall_seconds"`
	// Bench is this process (the load generator and the API server, or the exporter).
	Bench float64 `json:"bench_seconds"`
	// Children are the export child processes that ended during the measurement.
	Children float64 `json:"children_seconds,omitempty"`
	MySQL    float64 `json:"mysql_seconds"`
	S3       float64 `json:"s3_seconds,omitempty"`
	// LoadAverage is the machine's 1-minute load average at the end: other work on a shared
	// machine shows up here.
	LoadAverage float64 `json:"load_average"`
}

// cpuMeter reads the CPU time of the bench, the database server and the S3 server.
type cpuMeter struct {
	mysqlPID, s3PID int
}

type cpuSnapshot struct {
	at                        time.Time
	self, children, mysql, s3 time.Duration
}

// newCPUMeter finds the MariaDB/MySQL server process and the versitygw listening on s3Addr.
func newCPUMeter(s3Addr string) *cpuMeter {
	m := &cpuMeter{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		switch strings.TrimSpace(string(comm)) {
		case "mariadbd", "mysqld":
			if m.mysqlPID == 0 {
				m.mysqlPID = pid
			}
		case "versitygw":
			cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if s3Addr != "" && bytes.Contains(cmdline, []byte(s3Addr)) {
				m.s3PID = pid
			}
		}
	}
	return m
}

func (m *cpuMeter) snapshot() cpuSnapshot {
	s := cpuSnapshot{at: time.Now(), mysql: procCPU(m.mysqlPID), s3: procCPU(m.s3PID)}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru) == nil {
		s.children = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return s
}

// since is the CPU use between an earlier snapshot and now.
func (m *cpuMeter) since(start cpuSnapshot) CPUUse {
	end := m.snapshot()
	return CPUUse{
		WallSeconds: end.at.Sub(start.at).Seconds(),
		Bench:       (end.self - start.self).Seconds(),
		Children:    (end.children - start.children).Seconds(),
		MySQL:       (end.mysql - start.mysql).Seconds(),
		S3:          (end.s3 - start.s3).Seconds(),
		LoadAverage: loadAverage(),
	}
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times; 100 on every Linux platform Go
// supports.
const clockTicks = 100

// procCPU is the user+system CPU time of process pid, or 0.
func procCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; the fields after its ')' are fixed.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0
	}
	// After ')': state is field 3, so utime (14) and stime (15) are f[11] and f[12].
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clockTicks
}

func loadAverage() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
