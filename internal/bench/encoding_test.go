//go:build ignore

package bench

import (
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/logetl/logetl/internal/parquetlog"
	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/internal/synthetic"
)

// rowPlainSealed is parquetlog.Row with the ciphertext columns PLAIN-encoded instead of
// dictionary-encoded: what per-value encryption, where every ciphertext is unique, could write.
type rowPlainSealed struct {
	LogID         int64     `parquet:"log_id"`
	OccurredAt    time.Time `parquet:"occurred_at,timestamp(microsecond)"`
	RequestID     string    `parquet:"request_id"`
	UserPseudonym *string   `parquet:"user_pseudonym,optional,dict"`
	Action        string    `parquet:"action,dict"`
	Method        string    `parquet:"method,dict"`
	Route         string    `parquet:"route,dict"`
	Path          string    `parquet:"path,dict"`
	Status        int32     `parquet:"status"`
	PostID        *int64    `parquet:"post_id,optional"`
	ClientIPEnc   []byte    `parquet:"client_ip_enc"`
	UserAgentEnc  []byte    `parquet:"user_agent_enc"`
	EmailEnc      []byte    `parquet:"email_enc,optional"`
	Message       string    `parquet:"message,dict"`
}

// sealedRows makes n rows as the export's per-value mode does: every ciphertext unique.
func sealedRows(tb testing.TB, n int) []parquetlog.Row {
	kr, err := protect.GenerateKeyring()
	if err != nil {
		tb.Fatal(err)
	}
	prot, err := protect.NewProtector(kr)
	if err != nil {
		tb.Fatal(err)
	}
	start := time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)
	g := synthetic.NewGenerator(synthetic.Options{Rows: n, Seed: 1, Start: start, End: start.Add(time.Hour)})
	rows := make([]parquetlog.Row, n)
	for i := range rows {
		r := g.Next()
		row := parquetlog.Row{LogID: int64(i + 1), OccurredAt: r.OccurredAt, RequestID: r.RequestID, Action: r.Action,
			Method: r.Method, Route: r.Route, Path: r.Path, Status: int32(r.Status), Message: r.Message}
		if r.UserID != nil {
			p := prot.Pseudonym(*r.UserID)
			row.UserPseudonym = &p
		}
		if r.PostID != nil {
			v := int64(*r.PostID)
			row.PostID = &v
		}
		row.ClientIPEnc = prot.Seal("client_ip", []byte(r.ClientIP))
		row.UserAgentEnc = prot.Seal("user_agent", []byte(r.UserAgent))
		if r.Email != nil {
			row.EmailEnc = prot.Seal("email", []byte(*r.Email))
		}
		rows[i] = row
	}
	return rows
}

// BenchmarkSealedColumnEncoding compares dictionary and PLAIN encoding of the ciphertext
// columns for per-value encryption, with the same codec and row groups: the dictionary of
// unique values costs a hash map of every ciphertext and a second copy of the column in the
// dictionary page, and saves nothing (docs/benchmarks.md, "Export rate").
func BenchmarkSealedColumnEncoding(b *testing.B) {
	const n = 100_000
	rows := sealedRows(b, n)
	plain := make([]rowPlainSealed, n)
	for i, r := range rows {
		plain[i] = rowPlainSealed(r)
	}
	opts := []parquet.WriterOption{parquet.Compression(&parquet.Zstd), parquet.MaxRowsPerRowGroup(n)}
	b.Run("dict", func(b *testing.B) {
		benchWrite(b, n, func(c *byteCounter) error {
			w := parquet.NewGenericWriter[parquetlog.Row](c, opts...)
			if _, err := w.Write(rows); err != nil {
				return err
			}
			return w.Close()
		})
	})
	b.Run("plain", func(b *testing.B) {
		benchWrite(b, n, func(c *byteCounter) error {
			w := parquet.NewGenericWriter[rowPlainSealed](c, opts...)
			if _, err := w.Write(plain); err != nil {
				return err
			}
			return w.Close()
		})
	})
}

func benchWrite(b *testing.B, n int, write func(*byteCounter) error) {
	b.ReportAllocs()
	var c byteCounter
	for b.Loop() {
		c = byteCounter{}
		if err := write(&c); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(c.n)/float64(n), "bytes/row")
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// The benchmark's two row types must stay the same columns in the same order, or it compares
// different files.
func TestPlainSealedRowMatchesRowColumns(t *testing.T) {
	a, p := parquet.SchemaOf(parquetlog.Row{}), parquet.SchemaOf(rowPlainSealed{})
	if len(a.Columns()) != len(p.Columns()) {
		t.Fatalf("%d columns, plain variant %d", len(a.Columns()), len(p.Columns()))
	}
	for i, c := range a.Columns() {
		if c[0] != p.Columns()[i][0] {
			t.Fatalf("column %d: %s, plain variant %s", i, c[0], p.Columns()[i][0])
		}
	}
}
