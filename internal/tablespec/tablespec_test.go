package tablespec

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
)

func TestParseTypeNormalizesBothServersSpellings(t *testing.T) {
	tests := []struct {
		in       string
		kind     Kind
		norm     string
		bits     int
		unsigned bool
	}{
		{"bigint(20) unsigned", KindInt, "bigint unsigned", 64, true},
		{"bigint unsigned", KindInt, "bigint unsigned", 64, true},
		{"INT(11)", KindInt, "int", 32, false},
		{"integer", KindInt, "int", 32, false},
		{"mediumint(8) unsigned zerofill", KindInt, "mediumint unsigned", 24, true},
		{"tinyint(1)", KindInt, "tinyint", 8, false},
		{"smallint(5) unsigned", KindInt, "smallint unsigned", 16, true},
		{"decimal(10,2)", KindDecimal, "decimal(10,2)", 0, false},
		{"decimal", KindDecimal, "decimal(10,0)", 0, false},
		{"numeric(30, 4)", KindDecimal, "decimal(30,4)", 0, false},
		{"float", KindFloat, "float", 0, false},
		{"float(30)", KindDouble, "double", 0, false},
		{"double precision", KindDouble, "double", 0, false},
		{"varchar(255)", KindString, "varchar(255)", 0, false},
		{"longtext", KindString, "longtext", 0, false},
		{"enum('a','b(c)')", KindString, "enum('a','b(c)')", 0, false},
		{"set('x','y')", KindString, "set('x','y')", 0, false},
		{"json", KindJSON, "json", 0, false},
		{"varbinary(16)", KindBytes, "varbinary(16)", 0, false},
		{"mediumblob", KindBytes, "mediumblob", 0, false},
		{"date", KindDate, "date", 0, false},
		{"datetime(6)", KindDatetime, "datetime(6)", 0, false},
		{"datetime", KindDatetime, "datetime", 0, false},
		{"timestamp(3)", KindTimestamp, "timestamp(3)", 0, false},
		{"time(6)", KindTime, "time(6)", 0, false},
		{"year(4)", KindYear, "year", 0, false},
		{"bit(1)", KindBit, "bit(1)", 1, false},
		{"bit(12)", KindBit, "bit(12)", 12, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseType(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got.Kind != tt.kind || got.String() != tt.norm || got.Bits != tt.bits || got.Unsigned != tt.unsigned {
				t.Fatalf("ParseType(%q) = %+v (%s), want kind %s norm %q bits %d unsigned %v", tt.in, got, got, tt.kind, tt.norm, tt.bits, tt.unsigned)
			}
		})
	}
}

func TestParseTypeRefusesTypesWithoutAParquetMapping(t *testing.T) {
	for _, in := range []string{"geometry", "point", "polygon", "vector(3)", "decimal(70,2)", "datetime(7)", "bit(65)", "varchar(x)", ""} {
		if _, err := ParseType(in); err == nil {
			t.Errorf("ParseType(%q) accepted it", in)
		}
	}
}

func TestCompatibleIgnoresLengthsButNotTypeChanges(t *testing.T) {
	tests := []struct {
		have, want string
		ok         bool
	}{
		{"varchar(1024)", "varchar(512)", true},
		{"bigint(20) unsigned", "bigint unsigned", true},
		{"int", "bigint", false},
		{"int unsigned", "int", false},
		{"datetime(6)", "datetime(3)", false},
		{"timestamp(6)", "datetime(6)", false},
		{"decimal(12,2)", "decimal(10,2)", false},
		{"text", "varchar(64)", true},
		{"json", "longtext", false},
		{"varbinary(16)", "varchar(16)", false},
	}
	for _, tt := range tests {
		if got := MustParseType(tt.have).Compatible(MustParseType(tt.want)); got != tt.ok {
			t.Errorf("%s compatible with %s = %v, want %v", tt.have, tt.want, got, tt.ok)
		}
	}
}

func TestBuiltinSpecKeepsTheSchemaOfVersionOneFiles(t *testing.T) {
	spec, ok := Builtin().Table(BuiltinName)
	if !ok {
		t.Fatal("no built-in activity_log")
	}
	// The columns, physical types and repetition of the files written before table specs.
	want := []struct {
		name     string
		kind     parquet.Kind
		optional bool
	}{
		{"log_id", parquet.Int64, false}, {"occurred_at", parquet.Int64, false}, {"request_id", parquet.ByteArray, false},
		{"user_pseudonym", parquet.ByteArray, true}, {"action", parquet.ByteArray, false}, {"method", parquet.ByteArray, false},
		{"route", parquet.ByteArray, false}, {"path", parquet.ByteArray, false}, {"status", parquet.Int32, false},
		{"post_id", parquet.Int64, true}, {"client_ip_enc", parquet.ByteArray, false}, {"user_agent_enc", parquet.ByteArray, false},
		{"email_enc", parquet.ByteArray, true}, {"message", parquet.ByteArray, false},
	}
	cols := spec.Exported()
	if len(cols) != len(want) {
		t.Fatalf("%d exported columns, want %d", len(cols), len(want))
	}
	for i, w := range want {
		c := cols[i]
		if c.ParquetName() != w.name || c.BaseNode().Type().Kind() != w.kind || c.Nullable != w.optional {
			t.Errorf("column %d = %s %v optional %v, want %s %v %v", i, c.ParquetName(), c.BaseNode().Type().Kind(), c.Nullable, w.name, w.kind, w.optional)
		}
	}
	v1 := parquet.SchemaOf(versionOneRow{})
	for _, c := range cols {
		col, ok := v1.Lookup(c.ParquetName())
		if !ok {
			t.Fatalf("version 1 has no column %s", c.ParquetName())
		}
		if got, want := c.BaseNode().Type().String(), col.Node.Type().String(); got != want {
			t.Errorf("%s: type %s, version 1 files have %s", c.ParquetName(), got, want)
		}
	}
	if got := cols[3].PseudonymDomain(); got != "user_id" {
		t.Errorf("user_pseudonym domain %q, want user_id (pseudonyms must stay those of version 1 files)", got)
	}
}

// versionOneRow is the frozen schema of the activity_log files written before table specs
// (parquetlog.Row of schema version 1).
type versionOneRow struct {
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
	ClientIPEnc   []byte    `parquet:"client_ip_enc,dict"`
	UserAgentEnc  []byte    `parquet:"user_agent_enc,dict"`
	EmailEnc      []byte    `parquet:"email_enc,optional,dict"`
	Message       string    `parquet:"message,dict"`
}

func TestValidateRefusesUnsafeOrUnusableSpecs(t *testing.T) {
	base := func() Spec {
		return Spec{Name: "audit", MySQLTable: "app.audit", TimeColumn: "at", IDColumn: "id", Columns: []Column{
			{Name: "id", Type: "bigint unsigned", Treatment: Clear},
			{Name: "at", Type: "datetime(6)", Treatment: Clear},
			{Name: "email", Type: "varchar(100)", Treatment: Seal},
		}}
	}
	tests := []struct {
		name   string
		change func(*Spec)
		want   string
	}{
		{"a column without treatment", func(s *Spec) { s.Columns[2].Treatment = "" }, "treatment is required"},
		{"an unknown treatment", func(s *Spec) { s.Columns[2].Treatment = "hash" }, "is not clear"},
		{"a protected time column", func(s *Spec) { s.Columns[1].Treatment = Seal }, "must be clear"},
		{"a time column of another type", func(s *Spec) { s.Columns[1].Type = "date" }, "DATETIME or TIMESTAMP"},
		{"a dropped id", func(s *Spec) { s.Columns[0].Treatment = Drop }, "must be one of the exported"},
		{"a nullable id", func(s *Spec) { s.Columns[0].Nullable = true }, "NOT NULL"},
		{"a string id", func(s *Spec) { s.Columns[0].Type = "varchar(36)" }, "must be an integer"},
		{"two columns with one Parquet name", func(s *Spec) { s.Columns[2].As = "ID" }, "both become"},
		{"an upper-case lake name", func(s *Spec) { s.Name = "Audit" }, "lower case"},
		{"a backtick in the table", func(s *Spec) { s.MySQLTable = "a`b" }, "mysql_table"},
		{"an odd window", func(s *Spec) { s.Window = Duration(90 * time.Second) }, "whole number of minutes"},
		{"an unknown zone", func(s *Spec) { s.Timezone = "Mars/Base" }, "timezone"},
		{"a type without mapping", func(s *Spec) { s.Columns[2].Type = "geometry" }, "no Parquet mapping"},
		{"an int32 override of a bigint", func(s *Spec) { s.Columns[0].Parquet = "int32" }, "does not hold"},
		{"an override of a sealed column", func(s *Spec) { s.Columns[2].Parquet = "string" }, "clear columns only"},
		{"a domain on a clear column", func(s *Spec) { s.Columns[2].Treatment = Clear; s.Columns[2].Domain = "x" }, "pseudonym columns only"},
		{"a duplicate column", func(s *Spec) { s.Columns = append(s.Columns, s.Columns[2]) }, "declared twice"},
	}
	if s := base(); s.Validate() != nil {
		t.Fatalf("base spec invalid: %v", s.Validate())
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base()
			tt.change(&s)
			err := s.Validate()
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want ErrInvalid mentioning %q", err, tt.want)
			}
		})
	}
}

func TestParseRefusesUnknownFieldsSoATypoNeverExportsAColumn(t *testing.T) {
	doc := `tables:
  - name: audit
    mysql_table: audit
    time_column: at
    id_column: id
    columns:
      - {name: id, type: bigint, treatment: clear}
      - {name: at, type: datetime, treatment: clear}
      - {name: email, type: varchar(9), treatmnet: seal}
`
	if _, err := Parse([]byte(doc)); err == nil || !strings.Contains(err.Error(), "treatmnet") {
		t.Fatalf("Parse = %v, want an error naming the unknown field", err)
	}
}

func TestParseReadsSourcesRetentionAndDays(t *testing.T) {
	doc := `sources:
  billing: {dsn_env: BILLING_DSN}
tables:
  - name: audit
    mysql_table: billing.audit_log
    source: billing
    time_column: at
    id_column: id
    timezone: Asia/Seoul
    window: 5m
    retention: 30d
    daily_files_retention: 2w
    columns:
      - {name: id, type: bigint, treatment: clear}
      - {name: at, type: timestamp, nullable: true, treatment: clear}
      - {name: amount, type: 'decimal(12,2)', treatment: clear}
      - {name: actor_id, type: int unsigned, nullable: true, treatment: pseudonym, domain: user_id}
      - {name: secret, type: text, treatment: drop}
`
	f, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	s := f.Tables[0]
	if s.Window.D() != 5*time.Minute || s.Retention.D() != 30*24*time.Hour || s.DailyFilesRetention.D() != 14*24*time.Hour {
		t.Errorf("durations %v %v %v", s.Window, s.Retention, s.DailyFilesRetention)
	}
	if s.Database() != "billing" || s.Table() != "audit_log" || s.QuotedTable() != "`billing`.`audit_log`" {
		t.Errorf("table %q %q %q", s.Database(), s.Table(), s.QuotedTable())
	}
	if got := len(s.Exported()); got != 4 {
		t.Errorf("%d exported columns, want 4 (the dropped one is not)", got)
	}
	if c, _ := s.Column("actor_id"); c.ParquetName() != "actor_id_pseudonym" || c.PseudonymDomain() != "user_id" {
		t.Errorf("actor_id → %s domain %s", c.ParquetName(), c.PseudonymDomain())
	}
	t.Setenv("BILLING_DSN", "u:p@tcp(db:3306)/billing")
	if dsn, err := f.Sources["billing"].Resolve("billing"); err != nil || dsn != "u:p@tcp(db:3306)/billing" {
		t.Errorf("dsn %q %v", dsn, err)
	}
}

func TestPolicyRoundTripsAndItsFingerprintIgnoresSpellings(t *testing.T) {
	spec, _ := Builtin().Table(BuiltinName)
	p := spec.Policy()
	back, err := ParsePolicy(p.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	s2, err := back.Spec()
	if err != nil {
		t.Fatal(err)
	}
	if s2.Policy().Fingerprint() != p.Fingerprint() {
		t.Fatal("fingerprint changed through metadata")
	}
	// MariaDB's spelling of the same types gives the same fingerprint.
	maria := spec
	maria.Columns = append([]Column(nil), spec.Columns...)
	maria.Columns[0].Type = "bigint(20) unsigned"
	if err := maria.Validate(); err != nil {
		t.Fatal(err)
	}
	if maria.Policy().Fingerprint() != p.Fingerprint() {
		t.Error("bigint(20) unsigned and bigint unsigned differ in the fingerprint")
	}
	// A change of protection changes it.
	clearIP := spec
	clearIP.Columns = append([]Column(nil), spec.Columns...)
	clearIP.Columns[10].Treatment, clearIP.Columns[10].As = Clear, ""
	if err := clearIP.Validate(); err != nil {
		t.Fatal(err)
	}
	if clearIP.Policy().Fingerprint() == p.Fingerprint() {
		t.Error("sealing or not sealing client_ip gives the same fingerprint")
	}
}

func TestDecimalBytesHoldTheLargestValueOfThePrecision(t *testing.T) {
	for p, want := range map[int]int{1: 1, 2: 1, 3: 2, 4: 2, 9: 4, 18: 8, 19: 9, 20: 9, 38: 16} {
		if got := DecimalBytes(p); got != want {
			t.Errorf("DecimalBytes(%d) = %d, want %d", p, got, want)
		}
	}
}

func TestParseDurationAcceptsDaysAndWeeks(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 30 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "15m": 15 * time.Minute, "1h30m": 90 * time.Minute} {
		got, err := ParseDuration(in)
		if err != nil || got.D() != want {
			t.Errorf("ParseDuration(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"3 days", "999999999d", "99999999999999999999w"} {
		if d, err := ParseDuration(bad); err == nil {
			t.Errorf("%q accepted as %s", bad, d.D())
		}
	}
	if s := Duration(30 * 24 * time.Hour).String(); s != "30d" {
		t.Errorf("30 days renders %q", s)
	}
}
