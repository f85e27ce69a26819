package mysqlconn

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

func TestDriverConfigForcesUTCAndFillsOnlyWhatTheDSNLeavesOpen(t *testing.T) {
	tests := []struct {
		name                 string
		dsn                  string
		opts                 Options
		connect, read, write time.Duration
		interpolate          bool
	}{
		{"API defaults", "u:p@tcp(db:3306)/logetl", API(), ConnectTimeout, APIReadTimeout, WriteTimeout, true},
		{"pipeline defaults", "u:p@tcp(db:3306)/logetl", Pipeline(), ConnectTimeout, PipelineReadTimeout, WriteTimeout, false},
		{"schema: no read timeout", "u:p@tcp(db:3306)/logetl", Schema(), ConnectTimeout, 0, WriteTimeout, false},
		{"the DSN's timeouts win", "u:p@tcp(db:3306)/logetl?timeout=2s&readTimeout=15m&writeTimeout=1m", Pipeline(), 2 * time.Second, 15 * time.Minute, time.Minute, false},
		{"parseTime and loc are forced", "u:p@tcp(db:3306)/logetl?parseTime=false&loc=Local", Pipeline(), ConnectTimeout, PipelineReadTimeout, WriteTimeout, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseDSN(tt.dsn)
			if err != nil {
				t.Fatal(err)
			}
			got := driverConfig(cfg, tt.opts)
			if !got.ParseTime || got.Loc != time.UTC {
				t.Errorf("parseTime %v loc %v", got.ParseTime, got.Loc)
			}
			if got.Timeout != tt.connect || got.ReadTimeout != tt.read || got.WriteTimeout != tt.write || got.InterpolateParams != tt.interpolate {
				t.Errorf("timeouts %s/%s/%s interpolate %v, want %s/%s/%s %v", got.Timeout, got.ReadTimeout, got.WriteTimeout, got.InterpolateParams,
					tt.connect, tt.read, tt.write, tt.interpolate)
			}
			if cfg.Logger == got.Logger && cfg.ReadTimeout != got.ReadTimeout {
				t.Error("driverConfig modified its input")
			}
		})
	}
}

func TestPoolLimitsOfTheProfiles(t *testing.T) {
	for name, o := range map[string]Options{"api": API(), "pipeline": Pipeline(), "schema": Schema()} {
		db, err := Open(context.Background(), "u:p@tcp(127.0.0.1:1)/logetl", o)
		if err != nil {
			t.Fatal(err)
		}
		if got := db.Stats().MaxOpenConnections; got != o.MaxOpenConns || got == 0 {
			t.Errorf("%s: max open %d, want %d (never unlimited)", name, got, o.MaxOpenConns)
		}
		db.Close()
	}
	// A worker runs 4 activities of up to two connections each: the pool must not starve them.
	if Pipeline().MaxOpenConns < 2*4 {
		t.Errorf("pipeline pool of %d connections", Pipeline().MaxOpenConns)
	}
}

func TestInvalidDSNIsAConfigErrorThatHidesThePassword(t *testing.T) {
	for _, dsn := range []string{
		"root:s3cret@tcp(127.0.0.1:3306)logetl", // no slash before the database
		"root:s3cret@tcp(127.0.0.1:3306/logetl", // unterminated address
		"root:s3cret@tcp(127.0.0.1:3306)/logetl?parseTime=maybe",
	} {
		_, err := Open(context.Background(), dsn, Pipeline())
		if !errors.Is(err, ErrInvalidDSN) {
			t.Fatalf("%v is not ErrInvalidDSN", err)
		}
		if !strings.Contains(err.Error(), "--mysql-dsn") || strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("error %q: want the setting named and no password", err)
		}
	}
}

// TestAHungServerFailsTheConnectionWithinTheConnectTimeout: a server that accepts TCP
// connections and never sends its greeting makes Open with ping fail at the connect timeout,
// however long the read timeout (the migrator has none), with a message that says so.
func TestAHungServerFailsTheConnectionWithinTheConnectTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	held := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held <- c // accepted, never answered
		}
	}()
	t.Cleanup(func() { // after the parallel subtests
		l.Close()
		for len(held) > 0 {
			(<-held).Close()
		}
	})
	dsn := "u:p@tcp(" + l.Addr().String() + ")/logetl"
	tests := []struct {
		name string
		dsn  string
		opts Options
		want string
	}{
		{"api", dsn, API(), "within 5s"},
		{"pipeline", dsn, Pipeline(), "within 5s"},
		{"schema, which has no read timeout", dsn, Schema(), "within 5s"},
		{"the DSN's timeout", dsn + "?timeout=1s", Pipeline(), "within 1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.opts.Ping = true
			done := make(chan error, 1)
			go func() {
				db, err := Open(context.Background(), tt.dsn, tt.opts)
				if err == nil {
					db.Close()
				}
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("Open with ping succeeded against a server that never answers")
				}
				if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "did not complete the connection "+tt.want) ||
					!strings.Contains(err.Error(), l.Addr().String()) {
					t.Fatalf("error %q: want the address and the connect timeout", err)
				}
			case <-time.After(time.Minute): // not a speed check: only keeps a hang from stalling the run
				t.Fatal("Open is still waiting on a hung server after a minute")
			}
		})
	}
}
