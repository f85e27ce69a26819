//go:build faults

package faults

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/proto"

	"github.com/logetl/logetl/internal/parquetlog"
	"github.com/logetl/logetl/worker"
)

// needle is a value that must appear nowhere outside MySQL and the secret files.
type needle struct {
	kind  string
	value []byte
	// word says which bytes may not touch the match, so that "1.2.3.4" is not found inside
	// "11.2.3.45"; nil for secrets, which match anywhere.
	word func(byte) bool
}

func ipByte(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F' || b == '.' || b == ':'
}

func emailByte(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || strings.IndexByte("._%+-", b) >= 0
}

// matcher finds many needles in one pass: a bitmap of their first two bytes filters the
// positions worth comparing, which keeps hundreds of megabytes of objects quick to scan.
type matcher struct {
	needles  []needle
	first    [1 << 16 / 64]uint64
	byPrefix map[uint16][]int
}

func newMatcher(ns []needle) *matcher {
	m := &matcher{byPrefix: make(map[uint16][]int)}
	for _, n := range ns {
		if len(n.value) < 6 {
			continue // too short to mean anything (and never a secret)
		}
		i := len(m.needles)
		m.needles = append(m.needles, n)
		k := uint16(n.value[0])<<8 | uint16(n.value[1])
		m.first[k>>6] |= 1 << (k & 63)
		m.byPrefix[k] = append(m.byPrefix[k], i)
	}
	return m
}

// scan calls found with the index of each needle that occurs in hay.
func (m *matcher) scan(hay []byte, found func(int)) {
	for i := 0; i+1 < len(hay); i++ {
		k := uint16(hay[i])<<8 | uint16(hay[i+1])
		if m.first[k>>6]&(1<<(k&63)) == 0 {
			continue
		}
		for _, ni := range m.byPrefix[k] {
			n := m.needles[ni]
			if !bytes.HasPrefix(hay[i:], n.value) {
				continue
			}
			if n.word != nil && (i > 0 && n.word(hay[i-1]) || i+len(n.value) < len(hay) && n.word(hay[i+len(n.value)])) {
				continue
			}
			found(ni)
		}
	}
}

// findings collects where needles were found, by kind; values are never printed.
type findings map[string]map[string]int // kind -> place -> count

func (f findings) add(kind, place string) {
	if f[kind] == nil {
		f[kind] = map[string]int{}
	}
	f[kind][place]++
}

func (f findings) String() string {
	var kinds []string
	for k := range f {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var b strings.Builder
	for _, k := range kinds {
		var places []string
		for p, n := range f[k] {
			places = append(places, fmt.Sprintf("%s (%d)", p, n))
		}
		sort.Strings(places)
		if len(places) > 8 {
			places = append(places[:8], fmt.Sprintf("... %d more", len(places)-8))
		}
		fmt.Fprintf(&b, "\n  %s in %s", k, strings.Join(places, ", "))
	}
	return b.String()
}

// needles gathers every secret of the run and a sample of the personal data in MySQL.
func (st *stack) needles(ctx context.Context, t *testing.T) []needle {
	t.Helper()
	var ns []needle
	secret := func(kind string, v []byte) { ns = append(ns, needle{kind: kind, value: v}) }
	secret("JWT secret", []byte(st.jwtSecret))
	secret("S3 secret key", []byte(st.s3.SecretKey))
	secret("bot password", []byte("iambot4084"))
	secret("probe password", []byte(probePassword))

	var kr struct {
		HMAC []struct {
			ID  string `json:"id"`
			Key []byte `json:"key"`
		} `json:"hmac_keys"`
		AEAD []struct {
			ID  string `json:"id"`
			Key []byte `json:"key"`
		} `json:"aead_keys"`
	}
	b, err := os.ReadFile(filepath.Join(st.data, "keyring.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &kr); err != nil {
		t.Fatalf("keyring: %v", err)
	}
	keys := 0
	for _, set := range [][]struct {
		ID  string `json:"id"`
		Key []byte `json:"key"`
	}{kr.HMAC, kr.AEAD} {
		for _, k := range set {
			keys++
			secret("key material (raw)", k.Key)
			secret("key material (base64)", []byte(base64.StdEncoding.EncodeToString(k.Key)))
			secret("key material (base64url)", []byte(base64.RawURLEncoding.EncodeToString(k.Key)))
			secret("key material (hex)", []byte(hex.EncodeToString(k.Key)))
		}
	}
	if keys < 2 {
		t.Fatalf("keyring holds %d keys, want an HMAC and an AEAD key", keys)
	}

	// personal adds a sample of a column's distinct values, plus the run's own probe values,
	// which must be in MySQL (else the run did not exercise what is searched for).
	personal := func(kind, column string, word func(byte) bool, sample string, probes ...string) {
		seen := map[string]bool{}
		rows, err := st.db.DB.QueryContext(ctx, sample)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			seen[v] = true
		}
		rows.Close()
		for _, v := range probes {
			var n int
			if err := st.db.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM activity_log WHERE "+column+" = ?", v).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				t.Errorf("%s %q is not in the activity log: the run did not exercise it", kind, v)
			}
			seen[v] = true
		}
		for v := range seen {
			ns = append(ns, needle{kind: kind, value: []byte(v), word: word})
		}
	}
	personal("client IP", "client_ip", ipByte, `SELECT DISTINCT client_ip FROM activity_log WHERE client_ip NOT IN ('127.0.0.1', '::1') LIMIT 400`, probeIP, lateIP)
	personal("email", "email", emailByte, `(SELECT DISTINCT email FROM activity_log WHERE email IS NOT NULL LIMIT 300) UNION (SELECT email FROM users)`,
		probeFailedEmail, lateEmail)
	// User agents are personal data too; short generic ones (an HTTP library's default) are not
	// distinctive enough to prove anything.
	personal("user agent", "user_agent", nil, `SELECT DISTINCT user_agent FROM activity_log WHERE CHAR_LENGTH(user_agent) >= 24 LIMIT 300`, probeUserAgent, lateAgent)
	return ns
}

// noSecretsLeak compacts the week, stops the api and worker so that their last lines are
// written, and searches every log line of every process and every object of the bucket (raw
// bytes, and every field of every Parquet row, since pages are compressed) for the run's
// secrets and a sample of its personal data.
func (st *stack) noSecretsLeak(t *testing.T, ctx context.Context) {
	if run, err := st.triggerSchedule(ctx, worker.ScheduleID(worker.ScheduleCompactWeek, table)); err != nil {
		t.Errorf("compaction: %v", err)
	} else {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		err := run.Get(cctx, nil)
		cancel()
		if err != nil {
			t.Errorf("compaction run %s: %v", run.GetID(), err)
		}
	}
	st.worker.stop(30 * time.Second)
	st.api.stop(30 * time.Second)

	m := newMatcher(st.needles(ctx, t))
	found := findings{}
	scanned := map[string]int64{}

	// Every log line of every process: api, worker (each start), the CLI runs, Temporal and
	// versitygw.
	logFiles, _ := filepath.Glob(filepath.Join(st.logs, "*"))
	logFiles = append(logFiles, filepath.Join(st.root, "s3", "versitygw.log"))
	for _, f := range logFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Errorf("read log %s: %v", f, err)
			continue
		}
		scanned["log bytes"] += int64(len(data))
		m.scan(data, func(i int) { found.add(m.needles[i].kind, "log "+filepath.Base(f)) })
	}
	if scanned["log bytes"] == 0 {
		t.Error("no log output to search")
	}

	objs, err := st.store.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		data, err := st.store.Get(ctx, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		scanned["objects"]++
		scanned["object bytes"] += int64(len(data))
		m.scan(data, func(i int) { found.add(m.needles[i].kind, "object "+o.Key) })
		if strings.HasSuffix(o.Key, ".parquet") {
			n, err := scanRows(data, m, func(i int) { found.add(m.needles[i].kind, "row of "+o.Key) })
			if err != nil {
				t.Errorf("read %s: %v", o.Key, err)
			}
			scanned["Parquet rows"] += n
		}
	}
	var weekly int
	for _, o := range objs {
		if strings.Contains(o.Key, "/weekly/") && strings.HasSuffix(o.Key, ".parquet") {
			weekly++
		}
	}
	if weekly == 0 {
		t.Error("no weekly object was written: the search covered daily objects only")
	}
	if len(found) > 0 {
		t.Errorf("secrets or clear personal data found:%s", found)
	}

	// Not a log nor an object, but what operators see in the Temporal UI: workflow histories
	// (inputs, results, failures). They must hold neither secrets nor personal data: bots are
	// named by number, tokens stay inside the activity that uses them.
	hist, hscanned, err := st.scanHistories(ctx, m)
	if err != nil {
		t.Errorf("histories: %v", err)
	}
	for kind, places := range hist {
		t.Errorf("%s in Temporal histories: %v", kind, len(places))
	}
	verdict := "none found"
	if len(found) > 0 {
		verdict = "FOUND" + found.String()
	}
	note("security: searched %d log bytes, %d objects (%d bytes, %d Parquet rows field by field) for %d values (JWT secret, S3 secret, %s, passwords, client IPs, emails, user agents): %s",
		scanned["log bytes"], scanned["objects"], scanned["object bytes"], scanned["Parquet rows"], len(m.needles), "keyring keys as raw/base64/base64url/hex", verdict)
	if len(hist) > 0 {
		note("Temporal histories (%d searched; not logs, but visible in the UI) hold:%s", hscanned, hist)
	} else {
		note("Temporal histories (%d searched) hold none of them", hscanned)
	}
}

// scanRows decodes every row of a Parquet file and searches its byte fields (strings,
// pseudonyms and ciphertexts) one by one.
func scanRows(data []byte, m *matcher, found func(int)) (int64, error) {
	r, err := parquetlog.OpenReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return 0, err
	}
	defer r.Close()
	rows := make([]parquet.Row, 2048)
	var buf []byte
	var total int64
	for {
		n, err := r.Read(rows)
		buf = buf[:0]
		for _, row := range rows[:n] {
			for _, v := range row {
				if k := v.Kind(); !v.IsNull() && (k == parquet.ByteArray || k == parquet.FixedLenByteArray) {
					buf = append(buf, v.ByteArray()...)
					buf = append(buf, 0)
				}
			}
		}
		total += int64(n)
		m.scan(buf, found)
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// scanHistories searches the history of every workflow run of the namespace.
func (st *stack) scanHistories(ctx context.Context, m *matcher) (findings, int, error) {
	found := findings{}
	n := 0
	var token []byte
	for {
		resp, err := st.tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{PageSize: 500, NextPageToken: token})
		if err != nil {
			return found, n, err
		}
		for _, e := range resp.Executions {
			it := st.tc.GetWorkflowHistory(ctx, e.Execution.WorkflowId, e.Execution.RunId, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
			for it.HasNext() {
				ev, err := it.Next()
				if err != nil {
					return found, n, err
				}
				// The wire form holds strings and payload data (JSON) as they are.
				b, err := proto.Marshal(ev)
				if err != nil {
					return found, n, err
				}
				m.scan(b, func(i int) { found.add(m.needles[i].kind, e.Type.GetName()) })
			}
			n++
		}
		if token = resp.NextPageToken; len(token) == 0 {
			return found, n, nil
		}
	}
}
