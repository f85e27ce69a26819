//go:build ignore

package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable prints the report as the table that docs/benchmarks.md and the README show.
func (r *Report) WriteTable(out io.Writer) error {
	m := r.Machine
	fmt.Fprintf(out, "machine: %d cores, %.1f GiB, %s; %s %s/%s; MariaDB %s (buffer pool %.0f MiB, flush_log_at_trx_commit=%d)\n",
		m.Cores, m.MemoryGiB, m.CPUModel, m.GoVersion, m.OS, m.Arch, m.MySQLVersion, m.InnoDBBufferPoolMiB, m.InnoDBFlushLogAtTrxCm)
	fmt.Fprintf(out, "data:    %s rows in the window, %s in the large window, seed %d; export %s %s, %s-row groups, %d MiB parts x %d\n",
		count(int64(r.Dataset.Rows)), count(int64(r.Dataset.RowsLarge)), r.Dataset.Seed, r.Settings.Compression, r.Settings.FieldEncryption,
		count(int64(r.Settings.RowGroupRows)), r.S3.PartSize>>20, r.S3.UploadConcurrency)
	fmt.Fprintln(out)
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "measure\tresult\ttarget")
	fmt.Fprintf(w, "1 extract limit (plain SELECT, rows discarded)\t%s rows/s, %.1f MB/s of source data\t\n", count(int64(r.Extract.RowsPerSec)), r.Extract.SourceMBps)
	fmt.Fprintf(w, "  typed reader alone (activitylog.WindowReader)\t%s rows/s\t\n", count(int64(r.Reader.RowsPerSec)))
	fmt.Fprintf(w, "2 export to versitygw, end to end\t%s rows/s, %.1f MB/s of source data, %.1f s\t\n", count(int64(r.Export.RowsPerSec)), r.Export.SourceMBps, r.Export.Seconds)
	fmt.Fprintf(w, "  same export into a byte counter (no S3)\t%s rows/s\t\n", count(int64(r.ExportNoS3.RowsPerSec)))
	fmt.Fprintf(w, "  S3 upload alone of the same %.0f MB\t%.1f MB/s, %.1f s\t\n", float64(r.UploadAlone.Bytes)/1e6, r.UploadAlone.MBps, r.UploadAlone.Seconds)
	fmt.Fprintf(w, "  ratio export / extract\t%.2f\t%s\n", r.ExportRatio, verdict(r.Targets, "export_vs_extract"))
	fmt.Fprintf(w, "3 peak RSS of the export, %s rows\t%.1f MiB\t\n", count(r.Memory.Small.Rows), r.Memory.Small.PeakRSSMiB)
	fmt.Fprintf(w, "  peak RSS of the export, %s rows\t%.1f MiB\t%s\n", count(r.Memory.Large.Rows), r.Memory.Large.PeakRSSMiB, verdict(r.Targets, "peak_rss_large_mib"))
	fmt.Fprintf(w, "  growth large / small\t%.2fx\t%s\n", r.Memory.Growth, verdict(r.Targets, "peak_rss_growth"))
	fmt.Fprintf(w, "4 old format (JSON lines, Fernet, gzip)\t%.1f bytes/row\t\n", r.Size.Legacy.BytesPerRow)
	for _, v := range r.Size.Variants {
		fmt.Fprintf(w, "  Parquet %s, %s\t%.1f bytes/row, %.3f of old\t%s\n", v.Compression, v.FieldEncryption, v.BytesPerRow, v.RatioToLegacy,
			verdict(r.Targets, "size_ratio_"+v.Compression+"_"+v.FieldEncryption))
	}
	a := r.API
	fmt.Fprintf(w, "5 API POST /blog/create/, %d concurrent\t%s req/s, p50 %.1f ms, p99 %.1f ms (%d errors)\t\n", a.API.Concurrency, count(int64(a.API.PerSec)), a.API.P50ms, a.API.P99ms, a.API.Errors)
	fmt.Fprintf(w, "  raw post+log transactions, %d concurrent\t%s tx/s, p50 %.1f ms, p99 %.1f ms (%d errors)\t\n", a.Raw.Concurrency, count(int64(a.Raw.PerSec)), a.Raw.P50ms, a.Raw.P99ms, a.Raw.Errors)
	fmt.Fprintf(w, "  ratio API / raw\t%.2f\t%s\n", a.Ratio, verdict(r.Targets, "api_vs_raw"))
	if err := w.Flush(); err != nil {
		return err
	}

	// Where the CPU went: on 2 cores, a phase is CPU-bound when its processes used about
	// 2 x wall; the load average shows work of others on a shared machine.
	fmt.Fprintln(out)
	w = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "CPU seconds during\twall\tbench\texport child\tMariaDB\tversitygw\tload avg\t")
	for _, p := range []struct {
		name string
		cpu  *CPUUse
	}{
		{"1 extract", r.Extract.CPU}, {"  typed reader", r.Reader.CPU}, {"2 export", r.Export.CPU},
		{"  export, no S3", r.ExportNoS3.CPU}, {"  upload alone", r.UploadAlone.CPU},
		{"3 child, " + count(r.Memory.Small.Rows) + " rows", r.Memory.Small.Export.CPU},
		{"  child, " + count(r.Memory.Large.Rows) + " rows", r.Memory.Large.Export.CPU},
		{"5 API", r.API.API.CPU}, {"  raw transactions", r.API.Raw.CPU},
	} {
		if p.cpu == nil {
			continue
		}
		c := p.cpu
		fmt.Fprintf(w, "%s\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t\n", p.name, c.WallSeconds, c.Bench, c.Children, c.MySQL, c.S3, c.LoadAverage)
	}
	return w.Flush()
}

// verdict is "target >= 0.8: pass" for the named target, or "" when it has none.
func verdict(ts []Target, name string) string {
	for _, t := range ts {
		if t.Name == name {
			v := "MISS"
			if t.Pass {
				v = "pass"
			}
			return fmt.Sprintf("target %s %g: %s", t.Op, t.Limit, v)
		}
	}
	return ""
}

// count formats n with thousands separators.
func count(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
