package parquetlog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// writeFile encodes rows with opts into memory, writing them in batches of batch rows.
func writeFile(t testing.TB, rows []Row, batch int, opts WriterOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, opts)
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	for chunk := range slices.Chunk(rows, max(batch, 1)) {
		if err := w.Write(chunk); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if w.Rows() != int64(len(rows)) {
		t.Fatalf("Rows() = %d, want %d", w.Rows(), len(rows))
	}
	return buf.Bytes()
}

// readAll decodes every row of data, reading in small batches to cross row groups.
func readAll(t testing.TB, data []byte) ([]Row, map[string]string) {
	t.Helper()
	r, err := OpenReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("OpenReader: %v", err)
	}
	defer r.Close()
	var out []Row
	buf := make([]Row, 13)
	for {
		n, err := r.Read(buf)
		for _, row := range buf[:n] {
			out = append(out, cloneRow(row))
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
	}
	if int64(len(out)) != r.NumRows() {
		t.Fatalf("read %d rows, NumRows() = %d", len(out), r.NumRows())
	}
	return out, r.Metadata()
}

// cloneRow detaches a row from the reader's buffers, which the next Read may reuse.
func cloneRow(r Row) Row {
	r.ClientIPEnc = bytes.Clone(r.ClientIPEnc)
	r.UserAgentEnc = bytes.Clone(r.UserAgentEnc)
	if r.EmailEnc != nil {
		r.EmailEnc = bytes.Clone(r.EmailEnc)
	}
	return r
}

func assertRowsEqual(t *testing.T, got, want []Row) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d rows, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.OccurredAt.Equal(w.OccurredAt) || g.OccurredAt.Location() != time.UTC {
			t.Fatalf("row %d occurred_at = %v, want %v in UTC", i, g.OccurredAt, w.OccurredAt)
		}
		g.OccurredAt, w.OccurredAt = time.Time{}, time.Time{}
		if len(w.EmailEnc) == 0 && len(g.EmailEnc) == 0 {
			g.EmailEnc, w.EmailEnc = nil, nil
		}
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("row %d differs:\n got  %+v\n want %+v", i, g, w)
		}
	}
}

func TestWriterReaderRoundTripWithEveryCodec(t *testing.T) {
	p := newProtector(t)
	rows, _ := makeRows(1, 503, p, p)
	tests := []struct {
		codec     string
		wantCodec format.CompressionCodec
		groupRows int
		batch     int
	}{
		{"", format.Zstd, 100, 1000},
		{"zstd", format.Zstd, 64, 7},
		{"snappy", format.Snappy, 100, 250},
		{"gzip", format.Gzip, 97, 1},
		{"none", format.Uncompressed, 1000, 503},
	}
	for _, tt := range tests {
		t.Run("codec="+tt.codec, func(t *testing.T) {
			groups := 0
			data := writeFile(t, rows, tt.batch, WriterOptions{
				Compression:  tt.codec,
				RowGroupRows: tt.groupRows,
				Metadata:     map[string]string{MetaWindowStart: "2026-11-24T10:00:00Z", MetaAEADKeyID: "a1"},
				OnRowGroup:   func() { groups++ },
			})
			got, meta := readAll(t, data)
			assertRowsEqual(t, got, rows)
			if meta[MetaSchemaVersion] != strconv.Itoa(SchemaVersion) || meta[MetaWindowStart] != "2026-11-24T10:00:00Z" || meta[MetaAEADKeyID] != "a1" {
				t.Fatalf("metadata = %v", meta)
			}

			f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			wantGroups := (len(rows) + tt.groupRows - 1) / tt.groupRows
			if len(f.RowGroups()) != wantGroups || groups != wantGroups {
				t.Fatalf("%d row groups in file, OnRowGroup called %d times, want %d", len(f.RowGroups()), groups, wantGroups)
			}
			for i, rg := range f.Metadata().RowGroups {
				// Exactly RowGroupRows rows in every group but the last, whatever the batch
				// sizes: the pipeline resets its SealCache by counting rows.
				if want := min(int64(tt.groupRows), int64(len(rows)-i*tt.groupRows)); rg.NumRows != want {
					t.Fatalf("row group %d has %d rows, want %d", i, rg.NumRows, want)
				}
				for _, c := range rg.Columns {
					if c.MetaData.Codec != tt.wantCodec {
						t.Fatalf("column %v codec %v, want %v", c.MetaData.PathInSchema, c.MetaData.Codec, tt.wantCodec)
					}
				}
			}
		})
	}
}

func TestSchemaHasUTCMicrosTimestampsAndDictionaryStrings(t *testing.T) {
	p := newProtector(t)
	rows, _ := makeRows(2, 300, p, p)
	lowCardinality := []string{"action", "method", "route", "path", "message", "user_pseudonym"}
	sealed := []string{"client_ip_enc", "user_agent_enc", "email_enc"}
	tests := []struct {
		name        string
		plainSealed bool
		wantDict    []string
		wantPlain   []string
	}{
		// per-rowgroup encryption: repeated ciphertexts, the dictionary stores each once.
		{"dictionary sealed columns", false, append(slices.Clone(lowCardinality), sealed...), nil},
		// per-value encryption: every ciphertext is unique, a dictionary would only cost memory.
		{"plain sealed columns", true, lowCardinality, sealed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := writeFile(t, rows, 300, WriterOptions{RowGroupRows: 150, PlainSealed: tt.plainSealed})
			got, _ := readAll(t, data)
			assertRowsEqual(t, got, rows)
			f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			var ts *format.TimestampType
			for _, el := range f.Metadata().Schema {
				if el.Name == "occurred_at" {
					ts, _ = el.LogicalType.Value.(*format.TimestampType)
				}
			}
			if ts == nil || !ts.IsAdjustedToUTC {
				t.Fatalf("occurred_at logical type = %+v, want TIMESTAMP(MICROS, isAdjustedToUTC=true)", ts)
			}
			if _, micros := ts.Unit.Value.(*format.MicroSeconds); !micros {
				t.Fatalf("occurred_at unit = %v, want MICROS", ts.Unit.String())
			}
			for _, rg := range f.Metadata().RowGroups {
				for _, c := range rg.Columns {
					name := c.MetaData.PathInSchema[0]
					dict := slices.Contains(c.MetaData.Encoding, format.RLEDictionary) || slices.Contains(c.MetaData.Encoding, format.PlainDictionary)
					if slices.Contains(tt.wantDict, name) && !dict {
						t.Errorf("column %s encodings %v, want a dictionary", name, c.MetaData.Encoding)
					}
					if slices.Contains(tt.wantPlain, name) && (dict || !slices.Contains(c.MetaData.Encoding, format.Plain)) {
						t.Errorf("column %s encodings %v, want PLAIN without a dictionary", name, c.MetaData.Encoding)
					}
				}
			}
		})
	}
}

func TestMetadataSchemaVersionCannotBeOverridden(t *testing.T) {
	data := writeFile(t, nil, 1, WriterOptions{Metadata: map[string]string{MetaSchemaVersion: "999", "custom": "x"}})
	_, meta := readAll(t, data)
	if meta[MetaSchemaVersion] != strconv.Itoa(SchemaVersion) || meta["custom"] != "x" {
		t.Fatalf("metadata = %v", meta)
	}
}

func TestEmptyFileIsValidParquet(t *testing.T) {
	for _, codec := range Codecs {
		t.Run(codec, func(t *testing.T) {
			groups := 0
			data := writeFile(t, nil, 1, WriterOptions{Compression: codec, OnRowGroup: func() { groups++ }})
			if groups != 0 {
				t.Fatalf("OnRowGroup called %d times for an empty file", groups)
			}
			r, err := OpenReader(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatalf("OpenReader of an empty file: %v", err)
			}
			defer r.Close()
			if r.NumRows() != 0 {
				t.Fatalf("NumRows = %d", r.NumRows())
			}
			n, err := r.Read(make([]Row, 4))
			if n != 0 || !errors.Is(err, io.EOF) {
				t.Fatalf("Read = %d, %v; want 0, io.EOF", n, err)
			}
			f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Schema().Columns()) != len(rowSchema.Columns()) {
				t.Fatalf("empty file has %d columns, want the full schema's %d", len(f.Schema().Columns()), len(rowSchema.Columns()))
			}
		})
	}
}

func TestIdenticalInputsGiveIdenticalFiles(t *testing.T) {
	p := newProtector(t)
	rows, _ := makeRows(3, 200, p, p)
	meta := map[string]string{"a": "1", "b": "2", "c": "3", "d": "4"}
	first := writeFile(t, rows, 50, WriterOptions{RowGroupRows: 64, Metadata: meta})
	for range 3 {
		if again := writeFile(t, rows, 33, WriterOptions{RowGroupRows: 64, Metadata: meta}); !bytes.Equal(first, again) {
			t.Fatal("the same rows and options gave different bytes")
		}
	}
}

func TestNewWriterRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts WriterOptions
		want string
	}{
		{"unknown codec", WriterOptions{Compression: "lzo"}, `unknown compression "lzo"`},
		{"negative row group", WriterOptions{RowGroupRows: -1}, "must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewWriter(io.Discard, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewWriter error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestWriteAfterCloseFails(t *testing.T) {
	w, err := NewWriter(io.Discard, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Write([]Row{{LogID: 1}}); err == nil {
		t.Fatal("Write after Close succeeded")
	}
}

// failingWriter accepts limit bytes, then fails, like a broken upload stream.
type failingWriter struct{ limit int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.limit {
		n := f.limit
		f.limit = 0
		return n, errors.New("upload stream broke")
	}
	f.limit -= len(p)
	return len(p), nil
}

func TestOutputErrorsAreReturnedAndSticky(t *testing.T) {
	p := newProtector(t)
	rows, _ := makeRows(4, 100, p, p)
	w, err := NewWriter(&failingWriter{limit: 10}, WriterOptions{RowGroupRows: 10})
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	for chunk := range slices.Chunk(rows, 10) {
		if werr = w.Write(chunk); werr != nil {
			break
		}
	}
	if werr == nil {
		werr = w.Close()
	}
	if werr == nil || !strings.Contains(werr.Error(), "upload stream broke") {
		t.Fatalf("error = %v, want the output's error", werr)
	}
	if err := w.Write(rows[:1]); err == nil {
		t.Fatal("Write after a failed write succeeded")
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close after a failed write succeeded")
	}
}

func TestOpenReaderRejectsOtherFiles(t *testing.T) {
	type other struct {
		Name string `parquet:"name"`
	}
	var otherFile bytes.Buffer
	if err := parquet.Write(&otherFile, []other{{Name: "x"}}); err != nil {
		t.Fatal(err)
	}
	type wrongType struct {
		LogID string `parquet:"log_id"`
	}
	var wrongFile bytes.Buffer
	if err := parquet.Write(&wrongFile, []wrongType{{LogID: "x"}}); err != nil {
		t.Fatal(err)
	}
	good := writeFile(t, nil, 1, WriterOptions{})
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"not parquet", []byte("this is a CSV file,\n1,2,3\n"), "no PAR1 magic at the end"},
		{"empty", nil, "0 bytes is too short"},
		{"truncated", good[:len(good)-5], "no PAR1 magic at the end"},
		{"footer length corrupted", append(bytes.Clone(good[:len(good)-5]), 0x7f, 'P', 'A', 'R', '1'), "footer length"},
		{"other schema", otherFile.Bytes(), `no column "log_id"`},
		{"wrong column type", wrongFile.Bytes(), `column "log_id"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := OpenReader(bytes.NewReader(tt.data), int64(len(tt.data)))
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("OpenReader error = %v, want ErrCorrupt saying %q", err, tt.want)
			}
		})
	}
}

// TestNoClearValueInFileBytes writes rows whose IPs, user agents and emails are distinctive
// strings, with each codec and both field-encryption modes, and searches the file's bytes for
// them. The control file (same values in a clear column) proves the search would find them.
func TestNoClearValueInFileBytes(t *testing.T) {
	p := newProtector(t)
	secrets := []string{"203.0.113.250", "2001:db8:dead:beef::77", "SecretAgent/9.9 (canary-ua)", "canary.person@example.net"}
	var rows []Row
	for i := range 60 {
		s := secrets[i%len(secrets)]
		rows = append(rows, Row{LogID: int64(i), OccurredAt: fixtureStart, Action: "user.login_failed", Message: "m"})
		rows[i].ClientIPEnc = []byte(s) // replaced below
		_ = s
	}
	for _, mode := range []string{"per-value", "per-rowgroup"} {
		for _, codec := range Codecs {
			t.Run(mode+"/"+codec, func(t *testing.T) {
				var s sealer = p
				cache := p.NewSealCache()
				if mode == "per-rowgroup" {
					s = cache
				}
				var buf bytes.Buffer
				w, err := NewWriter(&buf, WriterOptions{Compression: codec, RowGroupRows: 16, OnRowGroup: cache.Reset})
				if err != nil {
					t.Fatal(err)
				}
				for i := range rows {
					v := secrets[i%len(secrets)]
					row := rows[i]
					row.ClientIPEnc = s.Seal("client_ip", []byte(v))
					row.UserAgentEnc = s.Seal("user_agent", []byte(v))
					row.EmailEnc = s.Seal("email", []byte(v))
					if err := w.Write([]Row{row}); err != nil {
						t.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				for _, v := range secrets {
					if bytes.Contains(buf.Bytes(), []byte(v)) {
						t.Fatalf("clear value %q found in the file", v)
					}
				}
			})
		}
	}
	control := writeFile(t, []Row{{Message: secrets[2]}}, 1, WriterOptions{Compression: "none"})
	if !bytes.Contains(control, []byte(secrets[2])) {
		t.Fatal("control: a clear value in an uncompressed file was not found; the search is broken")
	}
}

// TestPerRowGroupSealingDedupsWithinRowGroupsOnly follows the pipeline's idiom: batches sized
// with RowsUntilFlush, the SealCache reset in OnRowGroup. Each row group then stores each
// distinct user agent once, and no ciphertext appears in two row groups.
func TestPerRowGroupSealingDedupsWithinRowGroupsOnly(t *testing.T) {
	p := newProtector(t)
	cache := p.NewSealCache()
	const n, groupRows = 2000, 500
	var perRowGroup bytes.Buffer
	w, err := NewWriter(&perRowGroup, WriterOptions{Compression: "none", RowGroupRows: groupRows, OnRowGroup: cache.Reset})
	if err != nil {
		t.Fatal(err)
	}
	for written := 0; written < n; {
		batch := min(128, w.RowsUntilFlush(), n-written)
		rows, _ := makeRows(uint64(written), batch, p, cache)
		if err := w.Write(rows); err != nil {
			t.Fatal(err)
		}
		written += batch
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rowsPerValue, _ := makeRows(0, n, p, p)
	perValue := writeFile(t, rowsPerValue, 128, WriterOptions{Compression: "none", RowGroupRows: groupRows})

	uaBytes := func(data []byte) int64 {
		f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		for _, rg := range f.Metadata().RowGroups {
			for _, c := range rg.Columns {
				if c.MetaData.PathInSchema[0] == "user_agent_enc" {
					total += c.MetaData.TotalCompressedSize
				}
			}
		}
		return total
	}
	// 30 distinct user agents per row group instead of 500 sealed values: far smaller.
	if pr, pv := uaBytes(perRowGroup.Bytes()), uaBytes(perValue); pr*5 > pv {
		t.Fatalf("user_agent_enc: %d bytes per-rowgroup vs %d per-value; the dictionary did not dedup", pr, pv)
	}

	f, err := parquet.OpenFile(bytes.NewReader(perRowGroup.Bytes()), int64(perRowGroup.Len()))
	if err != nil {
		t.Fatal(err)
	}
	groupOf := map[string]int{}
	for g, rg := range f.RowGroups() {
		rr := parquet.NewGenericRowGroupReader[Row](rg)
		buf := make([]Row, 100)
		for {
			k, err := rr.Read(buf)
			for _, row := range buf[:k] {
				key := string(row.UserAgentEnc)
				if prev, ok := groupOf[key]; ok && prev != g {
					t.Fatalf("a ciphertext appears in row groups %d and %d", prev, g)
				}
				groupOf[key] = g
			}
			if err != nil {
				break
			}
		}
	}
	if len(groupOf) > 4*30 {
		t.Fatalf("%d distinct user_agent ciphertexts, want at most 30 per row group", len(groupOf))
	}
}

// TestDuckDBReadsTheFiles checks that another engine reads our files: counts, types and values,
// for every codec and a file with several row groups, plus an empty file.
func TestDuckDBReadsTheFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("DuckDB check is slow; skipped under -short")
	}
	p := newProtector(t)
	rows, _ := makeRows(5, 257, p, p)
	dir := t.TempDir()
	for _, codec := range Codecs {
		data := writeFile(t, rows, 100, WriterOptions{Compression: codec, RowGroupRows: 60, Metadata: map[string]string{MetaWindowStart: "2026-11-24T10:00:00Z"}})
		if err := os.WriteFile(filepath.Join(dir, "part-"+codec+".parquet"), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The per-value pipeline's layout (PLAIN ciphertext columns) must read the same.
	plain := writeFile(t, rows, 100, WriterOptions{RowGroupRows: 60, PlainSealed: true})
	if err := os.WriteFile(filepath.Join(dir, "part-plainsealed.parquet"), plain, 0o600); err != nil {
		t.Fatal(err)
	}
	empty := writeFile(t, nil, 1, WriterOptions{})
	emptyPath := filepath.Join(dir, "empty.parquet")
	if err := os.WriteFile(emptyPath, empty, 0o600); err != nil {
		t.Fatal(err)
	}

	glob := filepath.Join(dir, "part-*.parquet")
	// Per-codec counts and the type DuckDB gives occurred_at.
	out := duckdb(t, fmt.Sprintf(`SELECT filename, count(*)::VARCHAR AS n, any_value(typeof(occurred_at)) AS ts_type,
		count(DISTINCT user_pseudonym)::VARCHAR AS users
		FROM read_parquet('%s', filename=true) GROUP BY filename ORDER BY filename`, glob))
	if len(out) != len(Codecs)+1 {
		t.Fatalf("DuckDB saw %d files, want %d: %v", len(out), len(Codecs)+1, out)
	}
	wantUsers := map[string]bool{}
	for _, r := range rows {
		if r.UserPseudonym != nil {
			wantUsers[*r.UserPseudonym] = true
		}
	}
	for _, row := range out {
		if row["n"] != strconv.Itoa(len(rows)) {
			t.Errorf("%s: DuckDB counts %s rows, want %d", row["filename"], row["n"], len(rows))
		}
		if row["ts_type"] != "TIMESTAMP WITH TIME ZONE" {
			t.Errorf("%s: occurred_at is %s in DuckDB, want TIMESTAMP WITH TIME ZONE", row["filename"], row["ts_type"])
		}
		if row["users"] != strconv.Itoa(len(wantUsers)) {
			t.Errorf("%s: %s distinct pseudonyms, want %d", row["filename"], row["users"], len(wantUsers))
		}
	}

	// Every value of every row, for each codec.
	for _, codec := range append(slices.Clone(Codecs), "plainsealed") {
		path := filepath.Join(dir, "part-"+codec+".parquet")
		got := duckdb(t, fmt.Sprintf(`SELECT log_id::VARCHAR AS log_id, epoch_us(occurred_at)::VARCHAR AS us, request_id,
			coalesce(user_pseudonym, '<null>') AS pseudonym, action, method, route, path, status::VARCHAR AS status,
			coalesce(post_id::VARCHAR, '<null>') AS post_id, hex(client_ip_enc) AS ip, hex(user_agent_enc) AS ua,
			coalesce(hex(email_enc), '<null>') AS email, message
			FROM read_parquet('%s') ORDER BY log_id`, path))
		if len(got) != len(rows) {
			t.Fatalf("%s: DuckDB returned %d rows, want %d", codec, len(got), len(rows))
		}
		for i, r := range rows {
			want := map[string]string{
				"log_id": strconv.FormatInt(r.LogID, 10), "us": strconv.FormatInt(r.OccurredAt.UnixMicro(), 10),
				"request_id": r.RequestID, "pseudonym": "<null>", "action": r.Action, "method": r.Method,
				"route": r.Route, "path": r.Path, "status": strconv.Itoa(int(r.Status)), "post_id": "<null>",
				"ip": fmt.Sprintf("%X", r.ClientIPEnc), "ua": fmt.Sprintf("%X", r.UserAgentEnc), "email": "<null>",
				"message": r.Message,
			}
			if r.UserPseudonym != nil {
				want["pseudonym"] = *r.UserPseudonym
			}
			if r.PostID != nil {
				want["post_id"] = strconv.FormatInt(*r.PostID, 10)
			}
			if r.EmailEnc != nil {
				want["email"] = fmt.Sprintf("%X", r.EmailEnc)
			}
			if !reflect.DeepEqual(got[i], want) {
				t.Fatalf("%s row %d: DuckDB gives\n %v\nwant\n %v", codec, i, got[i], want)
			}
		}
	}

	// The empty file has the schema and no rows; its metadata is readable too.
	got := duckdb(t, fmt.Sprintf(`SELECT (SELECT count(*) FROM read_parquet('%[1]s'))::VARCHAR AS n,
		(SELECT count(*) FROM parquet_schema('%[1]s'))::VARCHAR AS cols,
		(SELECT decode(value) FROM parquet_kv_metadata('%[1]s') WHERE decode(key) = '%[2]s') AS version`, emptyPath, MetaSchemaVersion))
	if len(got) != 1 || got[0]["n"] != "0" || got[0]["cols"] != strconv.Itoa(len(rowSchema.Columns())+1) || got[0]["version"] != strconv.Itoa(SchemaVersion) {
		t.Fatalf("DuckDB on the empty file: %v", got)
	}
}

// duckdb runs sql with tools/duckdb/query.mjs and returns its rows, every value as a string.
func duckdb(t *testing.T, sql string) []map[string]string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := runDuckDB(root, sql)
	if err != nil {
		t.Fatalf("%v\n(install with: scripts/services.sh duckdb)", err)
	}
	return rows
}
