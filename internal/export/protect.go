package export

import (
	"encoding/binary"

	"github.com/parquet-go/parquet-go"

	"github.com/logetl/logetl/internal/parquetlog"
	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/internal/tablespec"
)

// sealer applies the spec's treatments to one file's rows, in place: source-form values (from
// the extract) become file-form values (see tablespec's values.go). It is the only place a
// value is pseudonymized or sealed.
type sealer struct {
	cols      []tablespec.Column
	conv      []bool // clear columns whose file form differs from the source form
	prot      Protector
	mode      string
	cache     *protect.SealCache // per-rowgroup mode only
	groupRows int64
	rows      int64
	idCol     int
	// Pseudonyms are memoized per column within a file (a window has few distinct users):
	// integer columns by value, the others by their text. Indexed by column.
	intMemo  []map[uint64][]byte
	textMemo []map[string][]byte
	memo     []memoStats
	text     []byte
	key      [8]byte // an integer's pseudonym input
	st       *pieceStats
}

const maxPseudonymCache = 1 << 16

// memoStats decides whether memoizing a pseudonym column pays: a column of user ids repeats a
// lot, one of session or request ids hardly ever, and there the memo's lookups and inserts into
// a large map cost as much as the HMAC they would save.
type memoStats struct {
	lookups, hits int
	off           bool
}

const (
	memoTrial   = 1 << 13 // lookups before the memo's hit rate is judged
	memoMinHits = 4       // the memo stays on with at least 1 hit in memoMinHits lookups
)

// use reports whether to look v up in the memo, and counts the lookup.
func (m *memoStats) use() bool {
	if m.off {
		return false
	}
	if m.lookups++; m.lookups == memoTrial && m.hits*memoMinHits < m.lookups {
		m.off = true
	}
	return true
}

func (e *Exporter) newSealer(st *pieceStats) *sealer {
	cols := e.cfg.Spec.Exported()
	s := &sealer{cols: cols, conv: make([]bool, len(cols)), prot: e.prot, mode: e.cfg.FieldEncryption,
		groupRows: int64(e.cfg.RowGroupRows), idCol: e.cfg.Spec.Index(e.cfg.Spec.IDColumn),
		intMemo: make([]map[uint64][]byte, len(cols)), textMemo: make([]map[string][]byte, len(cols)),
		memo: make([]memoStats, len(cols)), st: st}
	for i, c := range cols {
		s.conv[i] = c.Treatment == tablespec.Clear && needsConversion(c)
	}
	if s.mode == protect.PerRowGroup {
		s.cache = e.prot.NewSealCache()
	}
	return s
}

// needsConversion tells the clear columns whose source form is not already their file form.
func needsConversion(c tablespec.Column) bool {
	if c.Parquet != "" {
		return true
	}
	switch t := c.MySQLType(); t.Kind {
	case tablespec.KindInt, tablespec.KindYear:
		return c.Physical() == tablespec.PhysInt32
	case tablespec.KindDecimal, tablespec.KindTime:
		return true
	case tablespec.KindBit:
		return t.Bits == 1
	}
	return false
}

// protect converts every row of b. In per-rowgroup mode the cache is reset exactly where the
// Parquet writer starts a new row group (it flushes every RowGroupRows rows), so equal values
// share a ciphertext only inside one row group.
func (s *sealer) protect(b *parquetlog.Batch) error {
	for _, row := range b.Rows {
		if s.cache != nil && s.rows > 0 && s.rows%s.groupRows == 0 {
			s.cache.Reset()
		}
		s.rows++
		s.st.add(uint64(row[s.idCol].Int64()))
		for j := range row {
			v := row[j]
			if v.IsNull() {
				continue
			}
			c := &s.cols[j]
			switch c.Treatment {
			case tablespec.Clear:
				if !s.conv[j] {
					continue
				}
				fv, err := tablespec.FileValue(*c, v)
				if err != nil {
					return err
				}
				if fv.Kind() == parquet.ByteArray {
					fv = parquet.ByteArrayValue(b.Copy(fv.ByteArray()))
				}
				b.Set(row, j, fv)
			case tablespec.Pseudonym:
				b.Set(row, j, parquet.ByteArrayValue(s.pseudonym(b, j, *c, v)))
			case tablespec.Seal:
				s.text = tablespec.AppendText(s.text[:0], *c, v)
				var sealed []byte
				if s.cache != nil {
					sealed = s.cache.Seal(c.Name, s.text)
				} else {
					sealed = s.prot.AppendSeal(b.Alloc(s.prot.SealedSize(len(s.text))), c.Name, s.text)
				}
				b.Set(row, j, parquet.ByteArrayValue(sealed))
			}
		}
	}
	return nil
}

// pseudonym is the column's pseudonym of v: integers as 8 bytes big-endian (the encoding of the
// files written before table specs), other kinds as their canonical text. A pseudonym that is
// not memoized lives in b's arena.
func (s *sealer) pseudonym(b *parquetlog.Batch, j int, c tablespec.Column, v parquet.Value) []byte {
	switch c.MySQLType().Kind {
	case tablespec.KindInt, tablespec.KindYear, tablespec.KindBit:
		n := uint64(v.Int64())
		binary.BigEndian.PutUint64(s.key[:], n)
		if !s.memo[j].use() {
			return s.prot.AppendPseudonym(b.Alloc(s.prot.PseudonymSize()), c.PseudonymDomain(), s.key[:])
		}
		memo := s.intMemo[j]
		if memo == nil {
			memo = map[uint64][]byte{}
			s.intMemo[j] = memo
		}
		if p, ok := memo[n]; ok {
			s.memo[j].hits++
			return p
		}
		if len(memo) >= maxPseudonymCache {
			clear(memo)
		}
		p := s.prot.AppendPseudonym(make([]byte, 0, s.prot.PseudonymSize()), c.PseudonymDomain(), s.key[:])
		memo[n] = p
		return p
	}
	s.text = tablespec.AppendText(s.text[:0], c, v)
	if !s.memo[j].use() {
		return s.prot.AppendPseudonym(b.Alloc(s.prot.PseudonymSize()), c.PseudonymDomain(), s.text)
	}
	memo := s.textMemo[j]
	if memo == nil {
		memo = map[string][]byte{}
		s.textMemo[j] = memo
	}
	if p, ok := memo[string(s.text)]; ok {
		s.memo[j].hits++
		return p
	}
	if len(memo) >= maxPseudonymCache {
		clear(memo)
	}
	p := s.prot.AppendPseudonym(make([]byte, 0, s.prot.PseudonymSize()), c.PseudonymDomain(), s.text)
	memo[string(s.text)] = p
	return p
}

// pieceStats is what the protect stage learns about a file's rows.
type pieceStats struct {
	rows    int64
	minID   uint64
	maxID   uint64
	hasRows bool
}

func (st *pieceStats) add(id uint64) {
	if !st.hasRows || id < st.minID {
		st.minID = id
	}
	if !st.hasRows || id > st.maxID {
		st.maxID = id
	}
	st.hasRows = true
	st.rows++
}
