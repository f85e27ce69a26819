package export

import (
	"os"
	"runtime/debug"
	"testing"
)

// currentGCPercent reads GOGC's effective value without changing it.
func currentGCPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func TestTuneGCLowersGOGCUnlessTheEnvironmentSetsIt(t *testing.T) {
	tests := []struct {
		name   string
		env    *string // nil: GOGC unset
		before int
		want   int
	}{
		{"unset", nil, 100, GCPercent},
		{"set by the operator", ptrTo("200"), 200, 200},
		{"set to off", ptrTo("off"), -1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GOGC", "")
			if tt.env == nil {
				os.Unsetenv("GOGC")
			} else {
				os.Setenv("GOGC", *tt.env)
			}
			orig := debug.SetGCPercent(tt.before)
			defer debug.SetGCPercent(orig)

			restore := TuneGC()
			if got := currentGCPercent(); got != tt.want {
				t.Errorf("GOGC during exports = %d, want %d", got, tt.want)
			}
			restore()
			if got := currentGCPercent(); got != tt.before {
				t.Errorf("GOGC after restore = %d, want %d", got, tt.before)
			}
		})
	}
}

func ptrTo(s string) *string { return &s }
