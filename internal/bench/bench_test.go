package bench

import (
	"bytes"
	"compress/gzip"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/fernet/fernet-go"
	"github.com/go-sql-driver/mysql"

	"github.com/logetl/logetl/internal/activitylog"
	"github.com/logetl/logetl/internal/synthetic"
	"github.com/logetl/logetl/internal/tablespec"
)

// The old format must hold every record, readable back with the key through the maintained
// Fernet package: a JSON array of Fernet tokens, each of one JSON line, the whole gzipped.
func TestLegacyWriterWritesDecryptableEnvelope(t *testing.T) {
	var key fernet.Key
	copy(key[:], bytes.Repeat([]byte{9}, 32))
	start := time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)
	g := synthetic.NewGenerator(synthetic.Options{Rows: 300, Seed: 3, Start: start, End: start.Add(time.Hour)})
	recs := make([]activitylog.Record, 300)
	var out bytes.Buffer
	lw, err := NewLegacyWriter(&out, &key, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		recs[i] = g.Next()
		recs[i].ID = uint64(i + 1)
		if i == 0 {
			recs[i].UserAgent = "Ünïcode \"quoted\" \\ agent\t😀"
		}
		if err := lw.Write(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(&out)
	if err != nil {
		t.Fatal(err)
	}
	envelope, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var tokens []string
	if err := json.Unmarshal(envelope, &tokens); err != nil {
		t.Fatalf("envelope is not a JSON array of strings: %v", err)
	}
	if len(tokens) != len(recs) || lw.Rows() != int64(len(recs)) {
		t.Fatalf("%d tokens, %d rows written, for %d records", len(tokens), lw.Rows(), len(recs))
	}
	for i, tok := range tokens {
		line := fernet.VerifyAndDecrypt([]byte(tok), 0, []*fernet.Key{&key})
		if line == nil {
			t.Fatalf("token %d does not verify", i)
		}
		var got struct {
			ID        uint64  `json:"id"`
			Timestamp string  `json:"timestamp"`
			UserID    *uint64 `json:"user_id"`
			IP        string  `json:"ip"`
			UserAgent string  `json:"user_agent"`
			Email     *string `json:"email"`
		}
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatalf("token %d holds no JSON object: %v: %s", i, err, line)
		}
		if bytes.ContainsFunc(line, func(r rune) bool { return r > 0x7e }) {
			t.Fatalf("line %d is not ASCII-only as Python's json.dumps writes it: %s", i, line)
		}
		r := recs[i]
		if got.ID != r.ID || got.IP != r.ClientIP || got.UserAgent != r.UserAgent || !sameOpt(got.UserID, r.UserID) || !sameOpt(got.Email, r.Email) {
			t.Fatalf("line %d differs from its record:\n%s\n%+v", i, line, r)
		}
	}
}

func sameOpt[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// The wide table is what issue 12 asks of it: at least 20 exported columns of mixed types,
// JSON and DECIMAL among them, nullable columns, and every treatment.
func TestWideTableSpecIsWideAndMixed(t *testing.T) {
	w, err := WideLog()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(w.Spec.Exported()); n < 20 {
		t.Fatalf("%d exported columns, want >= 20", n)
	}
	kinds := map[tablespec.Kind]bool{}
	treatments := map[tablespec.Treatment]bool{}
	nullable := 0
	for _, c := range w.Spec.Columns {
		kinds[c.MySQLType().Kind] = true
		treatments[c.Treatment] = true
		if c.Nullable {
			nullable++
		}
	}
	for _, k := range []tablespec.Kind{tablespec.KindInt, tablespec.KindDecimal, tablespec.KindDouble, tablespec.KindFloat,
		tablespec.KindString, tablespec.KindJSON, tablespec.KindDate, tablespec.KindDatetime, tablespec.KindTimestamp} {
		if !kinds[k] {
			t.Errorf("no %s column", k)
		}
	}
	for _, tr := range []tablespec.Treatment{tablespec.Clear, tablespec.Pseudonym, tablespec.Seal, tablespec.Drop} {
		if !treatments[tr] {
			t.Errorf("no %s column", tr)
		}
	}
	if nullable < 5 {
		t.Errorf("%d nullable columns", nullable)
	}
	for _, name := range []string{tablespec.BuiltinName, w.Name()} {
		if got, err := tableNamed(name); err != nil || got.Name() != name {
			t.Errorf("tableNamed(%q) = %v, %v", name, got.Name(), err)
		}
	}
	if _, err := tableNamed("nope"); err == nil {
		t.Error("tableNamed of an unknown table: no error")
	}
}

func TestPercentileUsesNearestRank(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	cases := []struct {
		p    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0, time.Millisecond}}
	for _, tc := range cases {
		if got := percentile(d, tc.p); got != tc.want {
			t.Errorf("p%.0f = %v, want %v", tc.p*100, got, tc.want)
		}
	}
}

func TestCountGroupsThousands(t *testing.T) {
	for in, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -5000: "-5,000"} {
		if got := count(in); got != want {
			t.Errorf("count(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestDBGoneTellsRestartsFromFailures(t *testing.T) {
	cases := []struct {
		err  error
		gone bool
	}{
		{fmt.Errorf("read window: %w", mysql.ErrInvalidConn), true},
		{fmt.Errorf("begin: %w", driver.ErrBadConn), true},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true},
		{&loadErrors{api: Load{Errors: 3, FirstError: "status 503"}}, true},
		{errors.New("export wrote 10 rows, the window holds 20"), false},
		{fmt.Errorf("insert: %w", &mysql.MySQLError{Number: 1062, Message: "Duplicate entry"}), false},
	}
	for _, tc := range cases {
		if got := dbGone(tc.err); got != tc.gone {
			t.Errorf("dbGone(%v) = %v, want %v", tc.err, got, tc.gone)
		}
	}
}

// Options.defaults applies the exported defaults that cmd/logetl-bench's flags show.
func TestDefaultsAreTheExportedConstants(t *testing.T) {
	o := Options{ExportChild: nil}
	if err := o.defaults(); err == nil {
		t.Fatal("no export child: no error")
	}
	if o.Rows != DefaultRows || o.RowsLarge != 5*DefaultRows || o.WideRows != DefaultRows || o.PurgeRows != DefaultRows/5 ||
		o.Database != DefaultDatabase || o.Settings.RowGroupRows != DefaultRowGroupRows || o.APIDuration != DefaultAPIDuration {
		t.Errorf("defaults %+v", o)
	}
}
