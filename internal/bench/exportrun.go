package bench

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/export"
	"github.com/logetl/logetl/internal/lake"
	"github.com/logetl/logetl/internal/manifest"
	"github.com/logetl/logetl/internal/partition"
	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/internal/s3store"
	"github.com/logetl/logetl/internal/tablespec"
)

// ExportSettings are the exporter's tunables that the bench varies.
type ExportSettings struct {
	Compression     string `json:"compression"`
	FieldEncryption string `json:"field_encryption"`
	RowGroupRows    int    `json:"row_group_rows"`
}

// S3Target is where an export uploads: the bench's own versitygw.
type S3Target struct {
	Config    config.S3 `json:"config"`
	AccessKey string    `json:"access_key"`
	SecretKey string    `json:"secret_key"`
}

// ExportResult is one export of one window.
type ExportResult struct {
	Rate
	Files       int     `json:"files"`
	OutputBytes int64   `json:"output_bytes"`
	BytesPerRow float64 `json:"bytes_per_row"`
	// TailSeconds is the time from the last byte of Parquet handed to the upload to the end
	// of the export: the last parts, the completion of the multipart upload and the manifest.
	TailSeconds float64 `json:"tail_seconds"`
}

// newExporter builds an exporter of windows of the given length with a fresh keyring (the keys'
// values do not change any size or speed).
func newExporter(db *sql.DB, store export.Store, spec tablespec.Spec, windowLen time.Duration, s ExportSettings) (*export.Exporter, error) {
	prefix := "bench-"
	if _, ok := store.(*countingStore); ok {
		prefix = "bench-counted-"
	}
	grid, err := partition.NewGrid(windowLen, time.UTC)
	if err != nil {
		return nil, err
	}
	kr, err := protect.GenerateKeyring()
	if err != nil {
		return nil, err
	}
	prot, err := protect.NewProtector(kr)
	if err != nil {
		return nil, err
	}
	return export.New(export.Config{
		Spec: spec,
		// One prefix per window length: a lake records its grid, and the bench exports both.
		Layout:          lake.Layout{Prefix: prefix + windowLen.String(), Table: spec.Name},
		Grid:            grid,
		Compression:     s.Compression,
		RowGroupRows:    s.RowGroupRows,
		FieldEncryption: s.FieldEncryption,
		WriterVersion:   "logetl bench",
	}, db, store, prot)
}

func openS3(ctx context.Context, t S3Target) (*s3store.Store, error) {
	return s3store.New(ctx, t.Config, s3store.WithStaticCredentials(t.AccessKey, t.SecretKey))
}

// runExport exports window w to store and times it until the last upload and manifest are done.
func runExport(ctx context.Context, db *sql.DB, store export.Store, spec tablespec.Spec, w partition.Window, s ExportSettings) (ExportResult, error) {
	exp, err := newExporter(db, store, spec, w.End.Sub(w.Start), s)
	if err != nil {
		return ExportResult{}, err
	}
	defer export.TuneGC()() // as logetl worker and logetl export run it
	began := time.Now()
	var encoded time.Time
	// The exporter reports progress last when a file's encoder has flushed its final bytes
	// into the upload.
	res, err := exp.ExportWindow(ctx, w, func(export.Progress) { encoded = time.Now() })
	if err != nil {
		return ExportResult{}, err
	}
	end := time.Now()
	r := exportResult(res.Manifests, end.Sub(began))
	if !encoded.IsZero() {
		r.TailSeconds = end.Sub(encoded).Seconds()
	}
	return r, nil
}

func exportResult(ms []manifest.Manifest, d time.Duration) ExportResult {
	var rows, size int64
	for _, m := range ms {
		rows += m.Rows
		size += m.Bytes
	}
	r := ExportResult{Rate: newRate(rows, 0, d), Files: len(ms), OutputBytes: size}
	if rows > 0 {
		r.BytesPerRow = float64(size) / float64(rows)
	}
	return r
}

// countingStore is an export.Store whose uploads keep nothing: it counts their bytes. Everything
// else (manifests, the layout descriptor, coverage, locks) goes to the store it wraps, under a
// prefix of its own. The no-S3 export and the size comparison use it, so that their encodings
// cost no disk and no S3 time.
type countingStore struct {
	export.Store
	uploaded int64
}

func (c *countingStore) Upload(_ context.Context, key string, body io.Reader, _ string, _ ...s3store.UploadOption) (s3store.UploadInfo, error) {
	n, err := io.Copy(io.Discard, body)
	c.uploaded += n
	return s3store.UploadInfo{Key: key, Size: n, ETag: fmt.Sprintf("\"count-%d\"", n)}, err
}

// ChildSpec is what the parent asks of an export child process.
type ChildSpec struct {
	// Table is the bench table's lake name (activity_log or wide_log).
	Table    string         `json:"table"`
	DSN      string         `json:"dsn"`
	S3       S3Target       `json:"s3"`
	Start    time.Time      `json:"start"`
	End      time.Time      `json:"end"`
	Settings ExportSettings `json:"settings"`
	// HeapProfile, when set, is where the child writes its heap profile (allocations and
	// in-use memory) after the export.
	HeapProfile string `json:"heap_profile,omitempty"`
}

// ChildResult is what an export child reports: its export and its own peak memory.
type ChildResult struct {
	Export ExportResult `json:"export"`
	// VmHWMKiB is the peak resident set size from /proc/self/status, read after the export.
	VmHWMKiB int64 `json:"vm_hwm_kib"`
	// GoSysMiB is the memory the Go runtime obtained from the OS (heap, stacks, metadata).
	GoSysMiB float64 `json:"go_sys_mib"`
	// PeakHeapMiB is the largest Go heap (live objects and garbage not yet swept) sampled
	// every 20ms during the export.
	PeakHeapMiB float64 `json:"peak_heap_mib"`
	NumGC       uint32  `json:"num_gc"`
	// GCCPUSeconds and CPUSeconds are the runtime's estimates of the CPU time its collector
	// and the whole process used during the export: the price of a lower GOGC.
	GCCPUSeconds float64 `json:"gc_cpu_seconds"`
	CPUSeconds   float64 `json:"cpu_seconds"`
}

// cpuMetrics are the runtime's CPU estimates that ChildResult reports.
var cpuMetrics = []string{"/cpu/classes/gc/total:cpu-seconds", "/cpu/classes/total:cpu-seconds"}

func readCPU() (gc, total float64) {
	s := make([]metrics.Sample, len(cpuMetrics))
	for i, name := range cpuMetrics {
		s[i].Name = name
	}
	metrics.Read(s)
	return s[0].Value.Float64(), s[1].Value.Float64()
}

// RunChild is the body of the export child process: it reads a ChildSpec from in, exports the
// window to S3 and writes a ChildResult to out. Nothing else runs in the process, so its peak
// RSS is the export's.
func RunChild(ctx context.Context, in io.Reader, out io.Writer) error {
	var spec ChildSpec
	if err := json.NewDecoder(in).Decode(&spec); err != nil {
		return fmt.Errorf("export child: read spec: %w", err)
	}
	tbl, err := tableNamed(spec.Table)
	if err != nil {
		return fmt.Errorf("export child: %w", err)
	}
	db, err := sql.Open("mysql", spec.DSN)
	if err != nil {
		return fmt.Errorf("export child: %w", err)
	}
	defer db.Close()
	store, err := openS3(ctx, spec.S3)
	if err != nil {
		return fmt.Errorf("export child: %w", err)
	}
	stopSampling := sampleHeap()
	gc0, cpu0 := readCPU()
	res, err := runExport(ctx, db, store, tbl.Spec, partition.Window{Start: spec.Start, End: spec.End}, spec.Settings)
	peakHeap := stopSampling()
	gc1, cpu1 := readCPU()
	if err != nil {
		return fmt.Errorf("export child: %w", err)
	}
	if spec.HeapProfile != "" {
		if err := writeHeapProfile(spec.HeapProfile); err != nil {
			return fmt.Errorf("export child: %w", err)
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	hwm, err := procStatusKiB("VmHWM")
	if err != nil {
		return fmt.Errorf("export child: %w", err)
	}
	return json.NewEncoder(out).Encode(ChildResult{
		Export:       res,
		VmHWMKiB:     hwm,
		GoSysMiB:     float64(ms.Sys) / (1 << 20),
		PeakHeapMiB:  float64(peakHeap) / (1 << 20),
		NumGC:        ms.NumGC,
		GCCPUSeconds: gc1 - gc0,
		CPUSeconds:   cpu1 - cpu0,
	})
}

// sampleHeap records the largest heap until the returned function is called, which returns it.
func sampleHeap() func() uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	done := make(chan struct{})
	peak := make(chan uint64, 1)
	go func() {
		var hi uint64
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > hi {
				hi = v
			}
			select {
			case <-t.C:
			case <-done:
				peak <- hi
				return
			}
		}
	}()
	return func() uint64 {
		close(done)
		return <-peak
	}
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("heap profile: %w", err)
	}
	return f.Close()
}

// procStatusKiB reads one "Name:   1234 kB" line of /proc/self/status.
func procStatusKiB(name string) (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
			return strconv.ParseInt(v, 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("/proc/self/status has no %s", name)
}

// MemoryPoint is the peak memory of one export child.
type MemoryPoint struct {
	Rows int64 `json:"rows"`
	// PeakRSSMiB is the child's peak resident set size (VmHWM, which agrees with rusage).
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	// RusageMaxRSSMiB is the peak as the parent sees it through wait4's rusage. It is only an
	// upper bound: Linux starts a child's maxrss at the high-water mark of the address space it
	// replaced at exec, which for Go's vfork-style start is the parent's.
	RusageMaxRSSMiB float64 `json:"rusage_max_rss_mib"`
	GoSysMiB        float64 `json:"go_sys_mib"`
	PeakHeapMiB     float64 `json:"peak_heap_mib"`
	// GCShare is the collector's share of the child's CPU time (the runtime's estimate).
	GCShare float64      `json:"gc_share"`
	Export  ExportResult `json:"export"`
}

// runChild runs one export child and collects its peak memory.
func runChild(ctx context.Context, cmd *exec.Cmd, spec ChildSpec, stderr io.Writer) (MemoryPoint, error) {
	in, err := json.Marshal(spec)
	if err != nil {
		return MemoryPoint{}, err
	}
	var out, errOut bytes.Buffer
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stdout = &out
	cmd.Stderr = io.MultiWriter(stderr, &errOut)
	if err := cmd.Run(); err != nil {
		last := strings.TrimSpace(errOut.String())
		if i := strings.LastIndexByte(last, '\n'); i >= 0 {
			last = last[i+1:]
		}
		return MemoryPoint{}, fmt.Errorf("export child %s: %w: %s", cmd.Path, err, last)
	}
	var res ChildResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return MemoryPoint{}, fmt.Errorf("export child: bad answer %.200q: %w", out.String(), err)
	}
	p := MemoryPoint{
		Rows:        res.Export.Rows,
		PeakRSSMiB:  float64(res.VmHWMKiB) / 1024,
		GoSysMiB:    res.GoSysMiB,
		PeakHeapMiB: res.PeakHeapMiB,
		Export:      res.Export,
	}
	if res.CPUSeconds > 0 {
		p.GCShare = res.GCCPUSeconds / res.CPUSeconds
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		p.RusageMaxRSSMiB = float64(ru.Maxrss) / 1024 // KiB on Linux
	}
	if p.PeakRSSMiB == 0 {
		return p, errors.New("export child reported no peak RSS")
	}
	return p, nil
}

// Throughput is a byte rate.
type Throughput struct {
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
	MBps    float64 `json:"mb_per_sec"`
	CPU     *CPUUse `json:"cpu,omitempty"`
}

// randomReader yields n pseudo-random (incompressible) bytes, made on the fly.
type randomReader struct {
	rng *rand.ChaCha8
	n   int64
}

func (r *randomReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	_, _ = r.rng.Read(p)
	r.n -= int64(len(p))
	return len(p), nil
}

// uploadAlone times the S3 sink by itself: n incompressible bytes (the export's output size)
// through the same store and multipart settings, with nothing else running.
func uploadAlone(ctx context.Context, store *s3store.Store, n int64) (Throughput, error) {
	body := &randomReader{rng: rand.NewChaCha8([32]byte{1}), n: n}
	began := time.Now()
	info, err := store.Upload(ctx, "bench/upload-alone.bin", body, "application/octet-stream")
	if err != nil {
		return Throughput{}, fmt.Errorf("upload alone: %w", err)
	}
	d := time.Since(began)
	t := Throughput{Bytes: info.Size, Seconds: d.Seconds()}
	if d > 0 {
		t.MBps = float64(info.Size) / 1e6 / d.Seconds()
	}
	return t, store.Delete(ctx, "bench/upload-alone.bin")
}
