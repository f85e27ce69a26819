package export

import (
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/logetl/logetl/internal/parquetlog"
	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/internal/tablespec"
)

// Pseudonyms are the same whether the sealer memoizes a column (values that repeat) or gives
// the memo up (values that hardly repeat), and whatever batch they were computed in.
func TestPseudonymsAreTheSameWithAndWithoutTheMemo(t *testing.T) {
	spec := tablespec.Builtin().Tables[0]
	p := newTestProtector(t)
	col := -1
	for i, c := range spec.Exported() {
		if c.Name == "user_id" {
			col = i
		}
	}
	tests := []struct {
		name    string
		user    func(i int) int64
		memoOff bool
	}{
		{"repeating users keep the memo", func(i int) int64 { return int64(i % 50) }, false},
		{"unique values give the memo up", func(i int) int64 { return int64(i) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &Exporter{cfg: Config{Spec: spec, FieldEncryption: protect.PerValue, RowGroupRows: parquetlog.DefaultRowGroupRows}, prot: p}
			var st pieceStats
			s := e.newSealer(&st)
			const rows = 3 * memoTrial
			b := parquetlog.NewBatch(spec, rows)
			for i := range rows {
				row := b.Next()
				for j := range row {
					b.Set(row, j, parquet.NullValue())
				}
				b.Set(row, 0, parquet.Int64Value(int64(i+1))) // the id
				b.Set(row, col, parquet.Int64Value(tt.user(i)))
			}
			if err := s.protect(b); err != nil {
				t.Fatal(err)
			}
			if s.memo[col].off != tt.memoOff {
				t.Fatalf("memo off %v, want %v", s.memo[col].off, tt.memoOff)
			}
			for i, row := range b.Rows {
				if got, want := string(row[col].ByteArray()), p.PseudonymUint64("user_id", uint64(tt.user(i))); got != want {
					t.Fatalf("row %d: pseudonym %q, want %q", i, got, want)
				}
			}
		})
	}
}
