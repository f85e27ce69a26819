package export

import (
	"os"
	"runtime/debug"
)

// GCPercent is the garbage collector's target (GOGC) for processes that run exports, unless
// the GOGC environment variable says otherwise.
//
// Most of an export's live heap is a few large pointer-free buffers that live for the whole
// export (the upload's parts, the Parquet row group's pages), which the collector marks at
// almost no cost; with Go's default of 100 the heap still grows to twice that before each
// collection. 50 cuts the peak memory by about a fifth (209 → 163 MiB on the 5M-row benchmark)
// for a GC share of CPU that logetl bench reports (docs/benchmarks.md). It scales with the live
// heap, so unlike a fixed GOMEMLIMIT it cannot make the collector thrash when a worker runs
// several exports at once.
const GCPercent = 50

// TuneGC applies GCPercent to this process unless GOGC is set in the environment, which
// wins. It returns a function that restores the previous setting.
func TuneGC() (restore func()) {
	if _, set := os.LookupEnv("GOGC"); set {
		return func() {}
	}
	prev := debug.SetGCPercent(GCPercent)
	return func() { debug.SetGCPercent(prev) }
}
