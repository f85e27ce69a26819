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
	fmt.Fprintf(out, "data:    activity_log %s rows in the window (N), %s in the large window (5N); wide_log %s rows; seed %d; export %s %s, %s-row groups, %d MiB parts x %d\n",
		count(int64(r.Dataset.Rows)), count(int64(r.Dataset.RowsLarge)), count(int64(r.Dataset.WideRows)), r.Dataset.Seed, r.Settings.Compression, r.Settings.FieldEncryption,
		count(int64(r.Settings.RowGroupRows)), r.S3.PartSize>>20, r.S3.UploadConcurrency)
	fmt.Fprintln(out)
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "table\tcolumns\textract limit rows/s\treader rows/s\texport rows/s\tno S3 rows/s\texport/extract\tbytes/row\tpeak RSS N / 5N MiB\t")
	ty := r.Typed
	fmt.Fprintf(w, "activity_log, typed (documented)\t14\t%s\t\t%s\t\t%.2f\t%.1f\t%.1f / %.1f\t\n", count(int64(ty.ExtractPerSec)), count(int64(ty.ExportPerSec)), ty.Ratio, ty.BytesPerRow, ty.PeakRSSMiB, ty.PeakRSSLarge)
	for _, t := range r.Tables {
		rss := fmt.Sprintf("%.1f", t.Memory.Small.PeakRSSMiB)
		if t.Memory.Large.Rows > 0 {
			rss += fmt.Sprintf(" / %.1f", t.Memory.Large.PeakRSSMiB)
		}
		fmt.Fprintf(w, "%s, spec-driven\t%d\t%s\t%s\t%s\t%s\t%.2f\t%.1f\t%s\t\n", t.Table, t.Columns, count(int64(t.Extract.RowsPerSec)), count(int64(t.Reader.RowsPerSec)),
			count(int64(t.Export.RowsPerSec)), count(int64(t.ExportNoS3.RowsPerSec)), t.ExportRatio, t.Export.BytesPerRow, rss)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out)
	w = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "measure\tresult\ttarget")
	for _, t := range r.Tables {
		fmt.Fprintf(w, "export / extract limit, %s\t%.2f (%.1f s for %s rows)\t%s\n", t.Table, t.ExportRatio, t.Export.Seconds, count(t.Export.Rows), verdict(r.Targets, "export_vs_extract_"+t.Table))
	}
	if len(r.Tables) > 0 {
		a := r.Tables[0]
		fmt.Fprintf(w, "activity_log ratio vs typed (documented %.2f)\t%+.2f\t%s\n", ty.Ratio, a.ExportRatio-ty.Ratio, verdict(r.Targets, "ratio_vs_typed"))
		fmt.Fprintf(w, "activity_log bytes/row vs typed (documented %.1f)\t%.3fx\t%s\n", ty.BytesPerRow, a.Export.BytesPerRow/ty.BytesPerRow, verdict(r.Targets, "bytes_per_row_vs_typed"))
		fmt.Fprintf(w, "activity_log peak RSS, %s rows\t%.1f MiB\t%s\n", count(a.Memory.Large.Rows), a.Memory.Large.PeakRSSMiB, verdict(r.Targets, "peak_rss_large_mib"))
		fmt.Fprintf(w, "  growth large / small\t%.2fx\t%s\n", a.Memory.Growth, verdict(r.Targets, "peak_rss_growth"))
	}
	fmt.Fprintf(w, "S3 upload alone of activity_log's %.0f MB\t%.1f MB/s, %.1f s\t\n", float64(r.UploadAlone.Bytes)/1e6, r.UploadAlone.MBps, r.UploadAlone.Seconds)
	fmt.Fprintf(w, "old format (JSON lines, Fernet, gzip), activity_log\t%.1f bytes/row\t\n", r.Size.Legacy.BytesPerRow)
	for _, v := range r.Size.Variants {
		fmt.Fprintf(w, "  Parquet %s, %s\t%.1f bytes/row, %.3f of old\t%s\n", v.Compression, v.FieldEncryption, v.BytesPerRow, v.RatioToLegacy,
			verdict(r.Targets, "size_ratio_"+v.Compression+"_"+v.FieldEncryption))
	}
	p := r.Purge
	for _, run := range []struct {
		name string
		r    PurgeRun
	}{{"purge (internal/retention), pause " + fmt.Sprintf("%.0f ms", p.Purge.PauseMs), p.Purge}, {"  purge, no pause", p.PurgeNoPause}, {"  bare DELETE ... ORDER BY id LIMIT n", p.Bare}} {
		fmt.Fprintf(w, "%s, %s rows, chunks of %d\t%s rows/s, longest chunk %.1f ms\t\n", run.name, count(run.r.Rows), run.r.ChunkRows, count(int64(run.r.RowsPerSec)), run.r.LongestChunkMs)
	}
	fmt.Fprintf(w, "  ratio purge (no pause) / bare DELETE\t%.2f\t\n", p.Ratio)
	a := r.API
	fmt.Fprintf(w, "API POST /blog/create/ (botclient), %d concurrent\t%s req/s, p50 %.1f ms, p99 %.1f ms (%d errors)\t\n", a.API.Concurrency, count(int64(a.API.PerSec)), a.API.P50ms, a.API.P99ms, a.API.Errors)
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
	type phase struct {
		name string
		cpu  *CPUUse
	}
	var phases []phase
	for _, t := range r.Tables {
		phases = append(phases, phase{"extract " + t.Table, t.Extract.CPU}, phase{"  spec reader", t.Reader.CPU},
			phase{"export " + t.Table, t.Export.CPU}, phase{"  export, no S3", t.ExportNoS3.CPU},
			phase{"  child, " + count(t.Memory.Small.Rows) + " rows", t.Memory.Small.Export.CPU})
		if t.Memory.Large.Rows > 0 {
			phases = append(phases, phase{"  child, " + count(t.Memory.Large.Rows) + " rows", t.Memory.Large.Export.CPU})
		}
	}
	phases = append(phases, phase{"upload alone", r.UploadAlone.CPU}, phase{"API", r.API.API.CPU}, phase{"  raw transactions", r.API.Raw.CPU})
	for _, p := range phases {
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
