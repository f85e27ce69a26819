//go:build ignore

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

	"github.com/go-sql-driver/mysql"

	"github.com/logetl/logetl/internal/activitylog"
	"github.com/logetl/logetl/internal/synthetic"
)

// The specification's generate.json vector (github.com/fernet/spec).
const (
	specSecret = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4="
	specToken  = "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA=="
)

var specNow = time.Date(1985, 10, 26, 1, 20, 0, 0, time.FixedZone("PDT", -7*3600))

func TestFernetProducesTheSpecificationToken(t *testing.T) {
	f, err := NewFernetFromString(specSecret)
	if err != nil {
		t.Fatal(err)
	}
	var iv [16]byte
	for i := range iv {
		iv[i] = byte(i)
	}
	if got := string(f.AppendToken(nil, []byte("hello"), specNow, iv)); got != specToken {
		t.Fatalf("token\n got %s\nwant %s", got, specToken)
	}
	plain, stamp, err := f.Decrypt([]byte(specToken))
	if err != nil || string(plain) != "hello" || !stamp.Equal(specNow) {
		t.Fatalf("decrypt spec token: %q %v %v", plain, stamp, err)
	}
}

func TestFernetRejectsTamperedTokens(t *testing.T) {
	f, err := NewFernetFromString(specSecret)
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewFernet(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		raw := []byte(specToken)
		if raw[i] == 'A' {
			raw[i] = 'B'
		} else {
			raw[i] = 'A'
		}
		return raw
	}
	cases := []struct {
		name  string
		f     *Fernet
		token []byte
	}{
		{"flipped ciphertext", f, flip(40)},
		{"flipped signature", f, flip(len(specToken) - 6)},
		{"flipped version", f, flip(0)},
		{"truncated", f, []byte(specToken[:40])},
		{"not base64", f, []byte("gAAAA!!!!")},
		{"other key", other, []byte(specToken)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := tc.f.Decrypt(tc.token); !errors.Is(err, ErrFernetToken) {
				t.Fatalf("decrypt: %v, want ErrFernetToken", err)
			}
		})
	}
}

func TestFernetRoundTripsEveryPaddingLength(t *testing.T) {
	f, err := NewFernet(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0).UTC()
	for n := 0; n <= 33; n++ {
		msg := bytes.Repeat([]byte{'x'}, n)
		a, b := f.Encrypt(msg, now), f.Encrypt(msg, now)
		if bytes.Equal(a, b) {
			t.Fatalf("%d bytes: two encryptions gave the same token (IV not random)", n)
		}
		plain, stamp, err := f.Decrypt(a)
		if err != nil || !bytes.Equal(plain, msg) || !stamp.Equal(now) {
			t.Fatalf("%d bytes: %q %v %v", n, plain, stamp, err)
		}
	}
}

// The old format must hold every record, readable back with the key: a JSON array of Fernet
// tokens, each of one JSON line, the whole gzipped.
func TestLegacyWriterWritesDecryptableEnvelope(t *testing.T) {
	key := bytes.Repeat([]byte{9}, 32)
	f, err := NewFernet(key)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)
	g := synthetic.NewGenerator(synthetic.Options{Rows: 500, Seed: 3, Start: start, End: start.Add(time.Hour)})
	recs := make([]activitylog.Record, 500)
	var out bytes.Buffer
	lw, err := NewLegacyWriter(&out, f, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		recs[i] = g.Next()
		recs[i].ID = uint64(i + 1)
		if i == 0 {
			ua := "Ünïcode \"quoted\" \\ agent\t😀"
			recs[i].UserAgent = ua
		}
		if err := lw.Write(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	if lw.Rows() != 500 || lw.PlainBytes() <= 0 {
		t.Fatalf("rows %d, plain bytes %d", lw.Rows(), lw.PlainBytes())
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
	if len(tokens) != len(recs) {
		t.Fatalf("%d tokens for %d records", len(tokens), len(recs))
	}
	for i, tok := range tokens {
		line, stamp, err := f.Decrypt([]byte(tok))
		if err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
		if stamp.Unix() != recs[i].OccurredAt.Unix() {
			t.Fatalf("token %d stamped %v, record at %v", i, stamp, recs[i].OccurredAt)
		}
		var got struct {
			ID        uint64  `json:"id"`
			Timestamp string  `json:"timestamp"`
			RequestID string  `json:"request_id"`
			UserID    *uint64 `json:"user_id"`
			Action    string  `json:"action"`
			Path      string  `json:"path"`
			Status    int     `json:"status_code"`
			PostID    *uint64 `json:"post_id"`
			IP        string  `json:"ip"`
			UserAgent string  `json:"user_agent"`
			Email     *string `json:"email"`
			Message   string  `json:"message"`
		}
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatalf("token %d holds no JSON object: %v: %s", i, err, line)
		}
		if bytes.ContainsFunc(line, func(r rune) bool { return r > 0x7e }) {
			t.Fatalf("line %d is not ASCII-only as Python's json.dumps writes it: %s", i, line)
		}
		r := recs[i]
		ts, err := time.Parse("2006-01-02T15:04:05.999999-07:00", got.Timestamp)
		if err != nil || !ts.Equal(r.OccurredAt) {
			t.Fatalf("line %d timestamp %q (%v), want %v", i, got.Timestamp, err, r.OccurredAt)
		}
		if got.ID != r.ID || got.RequestID != r.RequestID || got.Action != r.Action || got.Path != r.Path ||
			got.Status != r.Status || got.IP != r.ClientIP || got.UserAgent != r.UserAgent || got.Message != r.Message ||
			!sameOpt(got.UserID, r.UserID) || !sameOpt(got.PostID, r.PostID) || !sameOpt(got.Email, r.Email) {
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
	if got := percentile(d[:1], 0.99); got != time.Millisecond {
		t.Errorf("p99 of one value = %v", got)
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
		{errors.New("export child /bin/logetl: exit status 1: logetl bench: export child: read window: invalid connection"), true},
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
