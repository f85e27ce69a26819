package parquetlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/internal/tablespec"
)

// wideSpec has a column of every kind a log table has, clear, nullable or not, plus a
// pseudonym and a sealed column.
const wideSpec = `tables:
  - name: wide
    mysql_table: wide
    time_column: at
    id_column: id
    columns:
      - {name: id, type: bigint unsigned, treatment: clear}
      - {name: at, type: datetime(6), treatment: clear}
      - {name: ts, type: timestamp(3), nullable: true, treatment: clear}
      - {name: i8, type: tinyint, treatment: clear}
      - {name: u16, type: smallint unsigned, nullable: true, treatment: clear}
      - {name: i24, type: mediumint, treatment: clear}
      - {name: u32, type: int unsigned, treatment: clear}
      - {name: i64, type: bigint, nullable: true, treatment: clear}
      - {name: price, type: 'decimal(10,2)', treatment: clear}
      - {name: big, type: 'decimal(30,4)', nullable: true, treatment: clear}
      - {name: f, type: float, treatment: clear}
      - {name: d, type: double, nullable: true, treatment: clear}
      - {name: name, type: varchar(64), treatment: clear}
      - {name: kind, type: "enum('a','b')", treatment: clear}
      - {name: doc, type: json, nullable: true, treatment: clear}
      - {name: raw, type: varbinary(16), nullable: true, treatment: clear}
      - {name: day, type: date, treatment: clear}
      - {name: tod, type: time(6), nullable: true, treatment: clear}
      - {name: yr, type: year, treatment: clear}
      - {name: flag, type: bit(1), treatment: clear}
      - {name: bits, type: bit(12), nullable: true, treatment: clear}
      - {name: actor, type: bigint unsigned, nullable: true, treatment: pseudonym, domain: user_id}
      - {name: email, type: varchar(254), nullable: true, treatment: seal}
      - {name: note, type: text, treatment: drop}
`

func loadSpec(t testing.TB, doc string) tablespec.Spec {
	t.Helper()
	f, err := tablespec.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return f.Tables[0]
}

// sourceRow gives the source-form value of each exported column of the wide spec for row i;
// odd rows leave every nullable column NULL.
func sourceRow(spec tablespec.Spec, i int) []parquet.Value {
	null := i%2 == 1
	vals := map[string]parquet.Value{
		"id": parquet.Int64Value(int64(1000 + i)), "at": parquet.Int64Value(1764000000000000 + int64(i)*1500),
		"ts": parquet.Int64Value(1764000000123000), "i8": parquet.Int64Value(int64(i%256 - 128)), "u16": parquet.Int64Value(65535),
		"i24": parquet.Int64Value(-8388608), "u32": parquet.Int64Value(4294967295), "i64": parquet.Int64Value(-1 << 62),
		"price": parquet.ByteArrayValue([]byte(fmt.Sprintf("%d.%02d", i, i%100))), "big": parquet.ByteArrayValue([]byte("-99999999999999999999999999.9999")),
		"f": parquet.FloatValue(1.25), "d": parquet.DoubleValue(-2.5e300), "name": parquet.ByteArrayValue([]byte(fmt.Sprintf("name %d é", i%7))),
		"kind": parquet.ByteArrayValue([]byte("b")), "doc": parquet.ByteArrayValue([]byte(`{"k":[1,"x"]}`)), "raw": parquet.ByteArrayValue([]byte{0, 1, 255}),
		"day": parquet.Int32Value(20416), "tod": parquet.Int64Value(86399999999), "yr": parquet.Int64Value(2026), "flag": parquet.Int64Value(int64(i % 2)),
		"bits": parquet.Int64Value(4095), "actor": parquet.Int64Value(int64(i % 5)), "email": parquet.ByteArrayValue([]byte(fmt.Sprintf("u%d@example.org", i))),
	}
	out := make([]parquet.Value, 0, len(spec.Exported()))
	for _, c := range spec.Exported() {
		v := vals[c.Name]
		if null && c.Nullable {
			v = parquet.NullValue()
		}
		out = append(out, v)
	}
	return out
}

// fileForm protects and converts source values as the export does: pseudonyms, seals, and
// FileValue for clear columns.
func fileForm(t testing.TB, spec tablespec.Spec, p *protect.Protector, src []parquet.Value) []parquet.Value {
	t.Helper()
	out := make([]parquet.Value, len(src))
	for i, c := range spec.Exported() {
		v := src[i]
		switch {
		case v.IsNull():
		case c.Treatment == tablespec.Pseudonym:
			v = parquet.ByteArrayValue([]byte(p.PseudonymUint64(c.PseudonymDomain(), uint64(v.Int64()))))
		case c.Treatment == tablespec.Seal:
			v = parquet.ByteArrayValue(p.Seal(c.Name, tablespec.AppendText(nil, c, v)))
		default:
			var err error
			if v, err = tablespec.FileValue(c, v); err != nil {
				t.Fatal(err)
			}
		}
		out[i] = v
	}
	return out
}

func writeBatches(t testing.TB, spec tablespec.Spec, rows [][]parquet.Value, batch int, opts WriterOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	b := NewBatch(spec, batch)
	flush := func() {
		if err := w.Write(b.Rows); err != nil {
			t.Fatal(err)
		}
		b.Reset()
	}
	for _, vals := range rows {
		row := b.Next()
		for i, v := range vals {
			if v.Kind() == parquet.ByteArray || v.Kind() == parquet.FixedLenByteArray {
				if v.Kind() == parquet.ByteArray {
					v = parquet.ByteArrayValue(b.Copy(v.ByteArray()))
				}
			}
			b.Set(row, i, v)
		}
		if b.Full() {
			flush()
		}
	}
	flush()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Rows() != int64(len(rows)) {
		t.Fatalf("Rows() = %d, want %d", w.Rows(), len(rows))
	}
	return buf.Bytes()
}

func readRows(t testing.TB, data []byte) (*Reader, [][]parquet.Value) {
	t.Helper()
	r, err := OpenReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]parquet.Value
	buf := make([]parquet.Row, 7)
	for {
		n, err := r.Read(buf)
		for _, row := range buf[:n] {
			out = append(out, row.Clone())
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if int64(len(out)) != r.NumRows() {
		t.Fatalf("read %d rows, NumRows %d", len(out), r.NumRows())
	}
	return r, out
}

func newProtector(t testing.TB) *protect.Protector {
	t.Helper()
	k, err := protect.GenerateKeyring()
	if err != nil {
		t.Fatal(err)
	}
	p, err := protect.NewProtector(k)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEveryKindRoundTripsThroughAFileAcrossRowGroups(t *testing.T) {
	spec := loadSpec(t, wideSpec)
	p := newProtector(t)
	var src, want [][]parquet.Value
	for i := 0; i < 50; i++ {
		s := sourceRow(spec, i)
		src = append(src, s)
		want = append(want, fileForm(t, spec, p, s))
	}
	for _, mode := range protect.Modes {
		for _, codec := range Codecs {
			t.Run(mode+"/"+codec, func(t *testing.T) {
				data := writeBatches(t, spec, want, 9, WriterOptions{Compression: codec, RowGroupRows: 16, FieldEncryption: mode})
				r, got := readRows(t, data)
				if len(r.File().RowGroups()) != 4 {
					t.Errorf("%d row groups, want 4 of at most 16 rows", len(r.File().RowGroups()))
				}
				if r.Spec().Policy().Fingerprint() != spec.Policy().Fingerprint() {
					t.Error("the file's policy is not the writer's")
				}
				cols := r.Spec().Exported()
				for i := range want {
					for j, c := range cols {
						g, w := got[i][j], want[i][j]
						if g.IsNull() != w.IsNull() || !g.IsNull() && !parquet.Equal(g, w) {
							t.Fatalf("row %d column %s = %v, want %v", i, c.ParquetName(), g, w)
						}
						if c.Treatment != tablespec.Clear || g.IsNull() {
							continue
						}
						back, err := tablespec.SourceValue(c, g)
						if err != nil {
							t.Fatal(err)
						}
						if a, b := tablespec.AppendText(nil, c, back), tablespec.AppendText(nil, c, src[i][j]); !bytes.Equal(a, b) {
							t.Fatalf("row %d column %s reads back as %q, was %q", i, c.Name, a, b)
						}
					}
				}
				if _, err := p.Open("email", got[0][len(cols)-1].ByteArray()); err != nil {
					t.Fatalf("sealed email does not open: %v", err)
				}
			})
		}
	}
}

func TestAnEmptyFileIsAValidFileOfTheFullSchema(t *testing.T) {
	spec := loadSpec(t, wideSpec)
	data := writeBatches(t, spec, nil, 4, WriterOptions{})
	r, rows := readRows(t, data)
	if len(rows) != 0 || len(r.File().Schema().Fields()) != len(spec.Exported()) {
		t.Fatalf("%d rows, %d columns", len(rows), len(r.File().Schema().Fields()))
	}
}

func TestIdenticalInputsGiveIdenticalBytes(t *testing.T) {
	spec := loadSpec(t, wideSpec)
	p := newProtector(t)
	var rows [][]parquet.Value
	for i := 0; i < 20; i++ {
		rows = append(rows, fileForm(t, spec, p, sourceRow(spec, i)))
	}
	meta := map[string]string{MetaWindowStart: "2026-11-24T10:00:00Z", "b": "2", "a": "1"}
	a := writeBatches(t, spec, rows, 5, WriterOptions{Metadata: meta})
	b := writeBatches(t, spec, rows, 7, WriterOptions{Metadata: meta})
	if !bytes.Equal(a, b) {
		t.Fatal("the same rows written in other batch sizes differ")
	}
}

func TestWriterOwnsTheSchemaAndPolicyMetadata(t *testing.T) {
	spec := loadSpec(t, wideSpec)
	data := writeBatches(t, spec, nil, 4, WriterOptions{Metadata: map[string]string{MetaSchemaVersion: "99", MetaPolicy: "{}", MetaTable: "other"}})
	r, _ := readRows(t, data)
	m := r.Metadata()
	if m[MetaSchemaVersion] != "1" || m[MetaTable] != "wide" || m[MetaPolicy] != spec.Policy().Marshal() {
		t.Fatalf("metadata %v", m)
	}
}

// The files written before table specs (parquetlog.Row, schema version 1) read with the
// built-in spec, value for value as the decrypt of that time printed them.
func TestVersionOneFilesReadWithTheBuiltinSpec(t *testing.T) {
	data, err := os.ReadFile("testdata/v1/activity_log.parquet")
	if err != nil {
		t.Fatal(err)
	}
	r, rows := readRows(t, data)
	if _, ok := r.Metadata()[MetaPolicy]; ok {
		t.Fatal("the fixture is not a version 1 file")
	}
	builtin, _ := tablespec.Builtin().Table(tablespec.BuiltinName)
	if r.Spec().Policy().Fingerprint() != builtin.Policy().Fingerprint() {
		t.Fatal("a version 1 file is not read with the built-in spec")
	}
	f, err := os.Open("testdata/v1/activity_log.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	cols := r.Spec().Exported()
	for i := 0; sc.Scan(); i++ {
		var want map[string]any
		if err := json.Unmarshal(sc.Bytes(), &want); err != nil {
			t.Fatal(err)
		}
		for j, c := range cols {
			if c.Treatment != tablespec.Clear {
				continue
			}
			v, err := tablespec.SourceValue(c, rows[i][j])
			if err != nil {
				t.Fatal(err)
			}
			var got any
			if err := json.Unmarshal(tablespec.JSON(c, v), &got); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want[c.ParquetName()]) {
				t.Fatalf("row %d %s = %v, the version 1 decrypt printed %v", i, c.ParquetName(), got, want[c.ParquetName()])
			}
		}
	}
}

func TestFilesOfOtherProgramsOrSchemasAreRefused(t *testing.T) {
	spec := loadSpec(t, wideSpec)
	good := writeBatches(t, spec, nil, 4, WriterOptions{})
	var foreign bytes.Buffer
	type other struct {
		A int64 `parquet:"a"`
	}
	w := parquet.NewGenericWriter[other](&foreign)
	if _, err := w.Write([]other{{1}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// A logetl policy over a schema that is not its own.
	var mismatched bytes.Buffer
	w2 := parquet.NewGenericWriter[other](&mismatched, parquet.KeyValueMetadata(MetaSchemaVersion, "1"), parquet.KeyValueMetadata(MetaPolicy, spec.Policy().Marshal()))
	if err := w2.Close(); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"not parquet": []byte("hello, this is not a parquet file at all"), "truncated": good[:len(good)/2],
		"another program's file": foreign.Bytes(), "a schema other than its policy": mismatched.Bytes(),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := OpenReader(bytes.NewReader(data), int64(len(data)))
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("OpenReader = %v, want ErrCorrupt", err)
			}
		})
	}
}
