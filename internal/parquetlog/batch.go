package parquetlog

import (
	"github.com/parquet-go/parquet-go"

	"github.com/logetl/logetl/internal/tablespec"
)

// Batch is a block of rows of one table on its way through the export's stages (extract,
// protect, encode): one value per exported column and row, in file column order, each carrying
// its column index and definition level, and an arena that owns the bytes the values point to.
// A Batch is reused: Reset invalidates every value of the previous use. The Parquet writer
// copies what it keeps, so a batch can be reset once Writer.Write returns.
type Batch struct {
	Rows  []parquet.Row
	cols  int
	opt   []bool // per column: optional (definition level 1 when present)
	vals  []parquet.Value
	arena arena
}

// NewBatch returns a batch of up to capacity rows of spec's exported columns.
func NewBatch(spec tablespec.Spec, capacity int) *Batch {
	cols := spec.Exported()
	b := &Batch{cols: len(cols), opt: make([]bool, len(cols)), vals: make([]parquet.Value, capacity*len(cols)), Rows: make([]parquet.Row, 0, capacity)}
	for i, c := range cols {
		b.opt[i] = c.Nullable
	}
	return b
}

// Cap is the number of rows the batch holds.
func (b *Batch) Cap() int { return cap(b.Rows) }

// Len is the number of rows in the batch.
func (b *Batch) Len() int { return len(b.Rows) }

// Full reports whether no row can be added.
func (b *Batch) Full() bool { return len(b.Rows) == cap(b.Rows) }

// Reset empties the batch; the values and bytes of its rows become invalid.
func (b *Batch) Reset() {
	clear(b.vals[:len(b.Rows)*b.cols]) // drop references to values' bytes
	b.Rows = b.Rows[:0]
	b.arena.reset()
}

// Next adds a row and returns it, its values unset. The caller sets every value with Set.
func (b *Batch) Next() parquet.Row {
	i := len(b.Rows)
	row := parquet.Row(b.vals[i*b.cols : (i+1)*b.cols : (i+1)*b.cols])
	b.Rows = append(b.Rows, row)
	return row
}

// Set stores v (nil-able: a null value) as column col of row, with the column's levels.
func (b *Batch) Set(row parquet.Row, col int, v parquet.Value) {
	switch {
	case !b.opt[col]:
		row[col] = v.Level(0, 0, col)
	case v.IsNull():
		row[col] = parquet.NullValue().Level(0, 0, col)
	default:
		row[col] = v.Level(0, 1, col)
	}
}

// Copy copies p into the batch's arena and returns the copy, valid until Reset.
func (b *Batch) Copy(p []byte) []byte { return b.arena.copy(p) }

// Alloc returns n bytes of room (length 0, capacity n) in the arena, valid until Reset.
func (b *Batch) Alloc(n int) []byte { return b.arena.alloc(n) }

// arena hands out byte slices from large chunks, so a batch of thousands of strings costs a
// few allocations instead of one per value. Chunks are kept across resets.
type arena struct {
	chunks [][]byte
	cur    int
}

const arenaChunk = 256 << 10

func (a *arena) reset() {
	for i := range a.chunks {
		a.chunks[i] = a.chunks[i][:0]
	}
	a.cur = 0
}

func (a *arena) alloc(n int) []byte {
	for a.cur < len(a.chunks) {
		c := a.chunks[a.cur]
		if cap(c)-len(c) >= n {
			a.chunks[a.cur] = c[:len(c)+n]
			return c[len(c) : len(c) : len(c)+n]
		}
		a.cur++
	}
	c := make([]byte, n, max(arenaChunk, n))
	a.chunks = append(a.chunks, c)
	return c[0:0:n]
}

func (a *arena) copy(p []byte) []byte {
	return append(a.alloc(len(p)), p...)
}
