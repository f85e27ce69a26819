package export

import (
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/logetl/logetl/internal/parquetlog"
	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/internal/tablespec"
)

// BenchmarkProtectEncode measures the export's CPU-bound stages without MySQL or S3: rows of
// activity_log in source form (as logtable's reader hands them out), protected by the sealer
// and encoded by parquetlog's writer into io.Discard. The bench program (cmd/logetl-bench)
// measures the whole export against the services; this isolates what logetl's own code costs,
// so a change to protection or encoding can be judged in seconds:
//
//	go test -short -run '^$' -bench ProtectEncode -benchtime 3x ./internal/export
func BenchmarkProtectEncode(b *testing.B) {
	for _, mode := range protect.Modes {
		b.Run(mode, func(b *testing.B) {
			spec := tablespec.Builtin().Tables[0]
			const rows = 200_000
			batches := activityBatches(b, spec, rows, DefaultBatchRows)
			p := newTestProtector(b)
			e := &Exporter{cfg: Config{Spec: spec, FieldEncryption: mode, RowGroupRows: parquetlog.DefaultRowGroupRows}, prot: p}
			work := make([]*parquetlog.Batch, len(batches))
			for i := range work {
				work[i] = parquetlog.NewBatch(spec, DefaultBatchRows)
			}
			var size countingWriter
			b.ReportAllocs()
			for b.Loop() {
				size = 0
				w, err := parquetlog.NewWriter(&size, spec, parquetlog.WriterOptions{FieldEncryption: mode})
				if err != nil {
					b.Fatal(err)
				}
				var st pieceStats
				s := e.newSealer(&st)
				for i, src := range batches {
					dst := work[i]
					dst.Reset()
					copyBatch(dst, src)
					if err := s.protect(dst); err != nil {
						b.Fatal(err)
					}
					if err := w.Write(dst.Rows); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
			b.ReportMetric(float64(size)/rows, "bytes/row")
		})
	}
}

// newTestProtector is a Protector over a fresh keyring.
func newTestProtector(tb testing.TB) *protect.Protector {
	tb.Helper()
	k, err := protect.GenerateKeyring()
	if err != nil {
		tb.Fatal(err)
	}
	p, err := protect.NewProtector(k)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

type countingWriter int64

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}

var _ io.Writer = (*countingWriter)(nil)

// copyBatch refills dst with src's rows, as the reader would: values and their bytes.
func copyBatch(dst, src *parquetlog.Batch) {
	for _, r := range src.Rows {
		row := dst.Next()
		for j, v := range r {
			if v.Kind() == parquet.ByteArray && !v.IsNull() {
				v = parquet.ByteArrayValue(dst.Copy(v.ByteArray()))
			}
			dst.Set(row, j, v)
		}
	}
}

// activityBatches generates rows shaped like the API's activity log (synthetic's data set, in
// source form): a few thousand users, hundreds of user agents, every action, random request ids.
func activityBatches(b *testing.B, spec tablespec.Spec, rows, batchRows int) []*parquetlog.Batch {
	b.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	actions := []string{"user.register", "user.login", "user.login_failed", "post.create", "post.update", "post.delete", "post.read", "user.logout"}
	routes := []string{"/api/register/", "/api/login/", "/api/login/", "/blog/create/", "/blog/update/:id/", "/blog/delete/:id/", "/blog/:id/", "/api/logout/"}
	methods := []string{"POST", "POST", "POST", "POST", "PUT", "DELETE", "GET", "POST"}
	uas := make([]string, 300)
	for i := range uas {
		uas[i] = fmt.Sprintf("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.%d.0 Safari/537.36", 100+i%40, i)
	}
	start := int64(1_764_000_000_000_000)
	col := map[string]int{}
	for i, c := range spec.Exported() {
		col[c.Name] = i
	}
	var out []*parquetlog.Batch
	var cur *parquetlog.Batch
	for i := range rows {
		if cur == nil || cur.Full() {
			cur = parquetlog.NewBatch(spec, batchRows)
			out = append(out, cur)
		}
		a := r.IntN(len(actions))
		row := cur.Next()
		set := func(name string, v parquet.Value) { cur.Set(row, col[name], v) }
		set("id", parquet.Int64Value(int64(1_000_000+i)))
		set("occurred_at", parquet.Int64Value(start+int64(i)*300))
		set("request_id", parquet.ByteArrayValue(cur.Copy(fmt.Appendf(nil, "%016x%016x", r.Uint64(), r.Uint64()))))
		user := parquet.NullValue()
		if a != 0 && a != 2 {
			user = parquet.Int64Value(int64(1 + r.IntN(3000)))
		}
		set("user_id", user)
		set("action", parquet.ByteArrayValue([]byte(actions[a])))
		set("method", parquet.ByteArrayValue([]byte(methods[a])))
		set("route", parquet.ByteArrayValue([]byte(routes[a])))
		post := parquet.NullValue()
		path := routes[a]
		if a >= 3 && a <= 6 {
			id := 1 + r.IntN(50_000)
			post = parquet.Int64Value(int64(id))
			path = fmt.Sprintf("/blog/%d/", id)
		}
		set("path", parquet.ByteArrayValue(cur.Copy([]byte(path))))
		set("status", parquet.Int64Value([]int64{200, 201, 400, 401, 404}[r.IntN(5)]))
		set("post_id", post)
		set("client_ip", parquet.ByteArrayValue(cur.Copy(fmt.Appendf(nil, "10.%d.%d.%d", r.IntN(256), r.IntN(256), r.IntN(256)))))
		set("user_agent", parquet.ByteArrayValue([]byte(uas[r.IntN(len(uas))])))
		email := parquet.NullValue()
		if a == 2 {
			email = parquet.ByteArrayValue(cur.Copy(fmt.Appendf(nil, "user%d@example.com", r.IntN(5000))))
		}
		set("email", email)
		set("message", parquet.ByteArrayValue([]byte(actions[a]+" ok")))
	}
	return out
}
