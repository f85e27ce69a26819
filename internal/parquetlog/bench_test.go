package parquetlog

import (
	"fmt"
	"io"
	"runtime"
	"testing"
)

// countingWriter counts the bytes of the file without keeping them.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// BenchmarkParquetWriter encodes pre-protected rows with each codec and both field-encryption
// modes, reporting rows/s and the output's bytes/row. Each iteration writes one row.
func BenchmarkParquetWriter(b *testing.B) {
	p := newProtector(b)
	const pool = 20_000
	perValue, _ := makeRows(7, pool, p, p)
	cache := p.NewSealCache()
	perRowGroup, _ := makeRows(7, pool, p, cache) // one cache over the pool: one row group's worth
	// As the pipeline does: unique per-value ciphertexts are written PLAIN, per-rowgroup ones
	// through the dictionary.
	for _, mode := range []struct {
		name        string
		rows        []Row
		plainSealed bool
	}{{"per-value", perValue, true}, {"per-rowgroup", perRowGroup, false}} {
		for _, codec := range Codecs {
			b.Run(fmt.Sprintf("mode=%s/codec=%s", mode.name, codec), func(b *testing.B) {
				out := &countingWriter{}
				w, err := NewWriter(out, WriterOptions{Compression: codec, RowGroupRows: pool, PlainSealed: mode.plainSealed})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				const batch = 256
				n := 0
				for b.Loop() {
					i := n % pool
					// Write in batches as the pipeline does; the loop body counts one row.
					if i%batch == 0 {
						end := min(i+batch, pool)
						if err := w.Write(mode.rows[i:end]); err != nil {
							b.Fatal(err)
						}
					}
					n++
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
				written := float64(w.Rows())
				b.ReportMetric(written/b.Elapsed().Seconds(), "rows/s")
				b.ReportMetric(float64(out.n)/written, "bytes/row")
			})
		}
	}
}

// BenchmarkParquetWriterMemory writes one file of b.N rows (per-value rows written as the
// pipeline does, PLAIN ciphertext columns; default row-group bound) and reports the peak heap sampled at every row-group flush and half-way through each
// group. Run it at growing -benchtime=Nx (e.g. 100000x, then 1000000x): the peak must stay flat
// while N grows, since the writer holds at most one row group.
func BenchmarkParquetWriterMemory(b *testing.B) {
	p := newProtector(b)
	const pool = 10_000
	rows, _ := makeRows(9, pool, p, p)
	var peak uint64
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
	}
	runtime.GC()
	w, err := NewWriter(io.Discard, WriterOptions{RowGroupRows: DefaultRowGroupRows, OnRowGroup: sample, PlainSealed: true})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	const batch = 500
	n := 0
	for b.Loop() {
		if i := n % pool; i%batch == 0 {
			if err := w.Write(rows[i : i+batch]); err != nil {
				b.Fatal(err)
			}
			if w.RowsUntilFlush() == DefaultRowGroupRows/2 {
				sample()
			}
		}
		n++
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	sample()
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(w.Rows()), "rows")
}
