// Package tablespec is the one definition of a log table that logetl exports: which MySQL table it
// reads, its time and id columns, its time zone, window and retention, and for every exported
// column its treatment (clear, pseudonym, seal, drop) and Parquet type. The extract query, the
// field protection, the Parquet schema, the file metadata that decrypt reads back, the lake's
// layout descriptor and the docs' field table all derive from a Spec.
//
// Specs come from one YAML file (--tables); without one, the built-in spec of the API's own
// activity_log table applies (builtin.yaml). Personal data is deny-by-default: a column of the
// MySQL table that the spec does not name is never read, and a named column leaves MySQL only
// with the treatment the spec gives it.
package tablespec

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
)

// ErrInvalid marks a spec that cannot be used; retrying cannot fix it.
var ErrInvalid = errors.New("invalid table spec")

// Treatment is what happens to a column's values on their way to the lake.
type Treatment string

// Treatments.
const (
	// Clear copies the value as is, typed, for analytics.
	Clear Treatment = "clear"
	// Pseudonym replaces the value with a keyed HMAC-SHA256 pseudonym "<key id>:<base64url>",
	// stable under one key so analysts can count and join, irreversible without the key.
	Pseudonym Treatment = "pseudonym"
	// Seal encrypts the value with AES-256-GCM (the configured field-encryption mode); holders
	// of the keyring read it back with `logetl decrypt`.
	Seal Treatment = "seal"
	// Drop never reads the column; it documents that the column was considered.
	Drop Treatment = "drop"
)

// File is the YAML document of --tables.
type File struct {
	// Sources name MySQL servers or databases other than --mysql-dsn's, for tables that live
	// elsewhere.
	Sources map[string]Source `yaml:"sources,omitempty"`
	Tables  []Spec            `yaml:"tables"`
}

// Source is one MySQL database tables may read from.
type Source struct {
	// DSN is a go-sql-driver DSN. Prefer DSNEnv for DSNs with a password.
	DSN string `yaml:"dsn,omitempty"`
	// DSNEnv names an environment variable that holds the DSN.
	DSNEnv string `yaml:"dsn_env,omitempty"`
}

// Resolve returns the DSN, reading DSNEnv if set.
func (s Source) Resolve(name string) (string, error) {
	if s.DSNEnv != "" {
		v := os.Getenv(s.DSNEnv)
		if v == "" {
			return "", fmt.Errorf("%w: source %q: environment variable %s is empty", ErrInvalid, name, s.DSNEnv)
		}
		return v, nil
	}
	if s.DSN == "" {
		return "", fmt.Errorf("%w: source %q has neither dsn nor dsn_env", ErrInvalid, name)
	}
	return s.DSN, nil
}

// Spec declares one exported table.
type Spec struct {
	// Name is the table's name in the lake: the S3 path segment {prefix}/{name}/, the workflow
	// ids, the schedules and the metrics' table label.
	Name string `yaml:"name"`
	// MySQLTable is the source table, "table" or "database.table".
	MySQLTable string `yaml:"mysql_table"`
	// Source names an entry of File.Sources; empty reads from --mysql-dsn.
	Source string `yaml:"source,omitempty"`
	// TimeColumn is the DATETIME or TIMESTAMP column that places a row in a window. Rows whose
	// time is NULL belong to no window and are never exported (the export counts them).
	TimeColumn string `yaml:"time_column"`
	// IDColumn is the unique, increasing integer column (usually the primary key).
	IDColumn string `yaml:"id_column"`
	// Timezone is the IANA zone of the day and week partitions; empty: --timezone.
	Timezone string `yaml:"timezone,omitempty"`
	// Window is the export window length; zero: --window.
	Window Duration `yaml:"window,omitempty"`
	// Retention is how long rows stay in MySQL after their window closed; zero keeps them.
	Retention Duration `yaml:"retention,omitempty"`
	// DailyFilesRetention is how long daily files stay in S3 once their week's compacted file
	// verifies; zero keeps them.
	DailyFilesRetention Duration `yaml:"daily_files_retention,omitempty"`
	// Columns lists every exported (or explicitly dropped) column, in the Parquet file's order.
	Columns []Column `yaml:"columns"`
}

// Column declares one MySQL column and its treatment.
type Column struct {
	// Name is the MySQL column.
	Name string `yaml:"name"`
	// Type is the MySQL column type the export expects (information_schema's COLUMN_TYPE, e.g.
	// "bigint unsigned", "varchar(64)", "datetime(6)", "decimal(10,2)", "json").
	Type string `yaml:"type"`
	// Nullable says the column may hold NULL; its Parquet column is then optional.
	Nullable  bool      `yaml:"nullable,omitempty"`
	Treatment Treatment `yaml:"treatment"`
	// As is the Parquet column name; default: the MySQL name for clear columns, <name>_pseudonym
	// and <name>_enc for pseudonym and seal.
	As string `yaml:"as,omitempty"`
	// Encoding is "dict" or "plain"; default: dict for strings and pseudonyms, plain otherwise.
	Encoding string `yaml:"encoding,omitempty"`
	// Parquet overrides the Parquet type of a clear column: "int32" or "int64" (signed integers of
	// that width, e.g. for an unsigned id that never reaches 2^63; the built-in spec uses them to
	// keep its files' original schema), or
	// "string" (the value's text, e.g. for TIME values outside a day or DECIMAL over 38 digits).
	Parquet string `yaml:"parquet,omitempty"`
	// Domain separates pseudonyms: equal values in columns of the same domain get equal
	// pseudonyms, so they join across tables. Default: the column name.
	Domain string `yaml:"domain,omitempty"`

	typ Type
}

// Duration is a length of time in a spec: Go's syntax (15m, 1h30m) or whole days and weeks
// (30d, 2w).
type Duration time.Duration

// D is the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

var dayWeek = regexp.MustCompile(`^(\d+)([dw])$`)

// ParseDuration reads Go durations and NNd / NNw.
func ParseDuration(s string) (Duration, error) {
	if m := dayWeek.FindStringSubmatch(s); m != nil {
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: duration %q: %v", ErrInvalid, s, err)
		}
		unit := 24 * time.Hour
		if m[2] == "w" {
			unit *= 7
		}
		if n > int64(math.MaxInt64/unit) {
			return 0, fmt.Errorf("%w: duration %q is longer than %d days", ErrInvalid, s, math.MaxInt64/int64(24*time.Hour))
		}
		return Duration(time.Duration(n) * unit), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: want e.g. 15m, 1h, 30d or 2w", s)
	}
	return Duration(d), nil
}

// UnmarshalText implements encoding.TextUnmarshaler (used by the YAML decoder).
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalText writes days when the duration is a whole number of them.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

func (d Duration) String() string {
	td := time.Duration(d)
	if td > 0 && td%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", td/(24*time.Hour))
	}
	s := td.String()
	s = strings.TrimSuffix(s, "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	if s == "" {
		return "0s"
	}
	return s
}

var (
	lakeName    = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	parquetName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
)

// Parse decodes and validates a --tables document. Unknown fields are errors, so a typo never
// silently exports a column the author meant to protect.
func Parse(data []byte) (File, error) {
	var f File
	if err := yaml.UnmarshalWithOptions(data, &f, yaml.DisallowUnknownField(), yaml.Strict()); err != nil {
		return File{}, fmt.Errorf("%w: %s", ErrInvalid, yaml.FormatError(err, false, true))
	}
	if err := f.Validate(); err != nil {
		return File{}, err
	}
	return f, nil
}

// Load reads and validates a --tables file.
func Load(path string) (File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return File{}, fmt.Errorf("%w: read --tables: %v", ErrInvalid, err)
	}
	f, err := Parse(data)
	if err != nil {
		return File{}, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Validate checks every table and that names are unique.
func (f *File) Validate() error {
	if len(f.Tables) == 0 {
		return fmt.Errorf("%w: no tables", ErrInvalid)
	}
	seen := map[string]bool{}
	for i := range f.Tables {
		s := &f.Tables[i]
		if err := s.Validate(); err != nil {
			return err
		}
		if seen[s.Name] {
			return fmt.Errorf("%w: table %q is declared twice", ErrInvalid, s.Name)
		}
		seen[s.Name] = true
		if s.Source != "" {
			if _, ok := f.Sources[s.Source]; !ok {
				return fmt.Errorf("%w: table %q: source %q is not declared under sources", ErrInvalid, s.Name, s.Source)
			}
		}
	}
	return nil
}

// Table returns the spec named name.
func (f File) Table(name string) (Spec, bool) {
	for _, s := range f.Tables {
		if s.Name == name {
			return s, true
		}
	}
	return Spec{}, false
}

// Names lists the tables in file order.
func (f File) Names() []string {
	out := make([]string, len(f.Tables))
	for i, s := range f.Tables {
		out[i] = s.Name
	}
	return out
}

// Validate checks the spec and parses its column types.
func (s *Spec) Validate() error {
	// Validation caches each column's parsed type in the column. Specs are copied by value
	// (an Exporter per activity, per table), and the copies share Columns' backing array: write
	// into a fresh one, so that concurrent Validates of copies of one spec never race.
	s.Columns = slices.Clone(s.Columns)
	fail := func(format string, a ...any) error {
		name := s.Name
		if name == "" {
			name = "(unnamed)"
		}
		return fmt.Errorf("%w: table %s: %s", ErrInvalid, name, fmt.Sprintf(format, a...))
	}
	if !lakeName.MatchString(s.Name) {
		return fail("name %q must be lower case letters, digits and _, starting with a letter (it is an S3 path segment and a workflow id part)", s.Name)
	}
	if s.MySQLTable == "" || strings.ContainsAny(s.MySQLTable, "`\x00") || strings.Count(s.MySQLTable, ".") > 1 {
		return fail("mysql_table %q must be table or database.table", s.MySQLTable)
	}
	if s.Timezone != "" {
		if _, err := time.LoadLocation(s.Timezone); err != nil {
			return fail("timezone %q: %v", s.Timezone, err)
		}
	}
	if w := s.Window.D(); w != 0 && (w < time.Minute || w > 24*time.Hour || w%time.Minute != 0) {
		return fail("window %s must be a whole number of minutes between 1m and 24h", s.Window)
	}
	if s.Retention < 0 || s.DailyFilesRetention < 0 {
		return fail("retention must not be negative")
	}
	if r := s.Retention.D(); r != 0 && r < time.Minute {
		return fail("retention %s is shorter than a minute", s.Retention)
	}
	if len(s.Columns) == 0 {
		return fail("no columns")
	}
	names, outs := map[string]bool{}, map[string]string{}
	exported := 0
	for i := range s.Columns {
		c := &s.Columns[i]
		if err := c.validate(); err != nil {
			return fail("%v", err)
		}
		if names[c.Name] {
			return fail("column %q is declared twice", c.Name)
		}
		names[c.Name] = true
		if c.Treatment == Drop {
			continue
		}
		exported++
		out := strings.ToLower(c.ParquetName())
		if prev, dup := outs[out]; dup {
			return fail("columns %q and %q both become Parquet column %q", prev, c.Name, c.ParquetName())
		}
		outs[out] = c.Name
	}
	if exported == 0 {
		return fail("every column is dropped: nothing to export")
	}
	tc, ok := s.Column(s.TimeColumn)
	switch {
	case s.TimeColumn == "":
		return fail("time_column is required")
	case !ok || tc.Treatment == Drop:
		return fail("time_column %q must be one of the exported columns", s.TimeColumn)
	case tc.Treatment != Clear:
		return fail("time_column %q must be clear (windows, pruning and purges read it)", s.TimeColumn)
	case tc.typ.Kind != KindDatetime && tc.typ.Kind != KindTimestamp:
		return fail("time_column %q is %s; it must be DATETIME or TIMESTAMP", s.TimeColumn, tc.Type)
	case tc.Parquet != "":
		return fail("time_column %q cannot change its Parquet type", s.TimeColumn)
	}
	ic, ok := s.Column(s.IDColumn)
	switch {
	case s.IDColumn == "":
		return fail("id_column is required")
	case !ok || ic.Treatment == Drop:
		return fail("id_column %q must be one of the exported columns", s.IDColumn)
	case ic.Treatment != Clear:
		return fail("id_column %q must be clear (manifests record its range and purges delete by it)", s.IDColumn)
	case ic.typ.Kind != KindInt:
		return fail("id_column %q is %s; it must be an integer", s.IDColumn, ic.Type)
	case ic.Nullable:
		return fail("id_column %q must be NOT NULL", s.IDColumn)
	case ic.Parquet == "string":
		return fail("id_column %q must stay an integer in Parquet", s.IDColumn)
	}
	return nil
}

func (c *Column) validate() error {
	if c.Name == "" || strings.ContainsAny(c.Name, "`\x00") {
		return fmt.Errorf("column name %q is empty or holds a backtick", c.Name)
	}
	switch c.Treatment {
	case Clear, Pseudonym, Seal, Drop:
	case "":
		return fmt.Errorf("column %q: treatment is required (clear, pseudonym, seal or drop): nothing is exported by default", c.Name)
	default:
		return fmt.Errorf("column %q: treatment %q is not clear, pseudonym, seal or drop", c.Name, c.Treatment)
	}
	if c.Treatment == Drop {
		// A dropped column is never read, so its type does not matter; parse it if given.
		if c.Type != "" {
			t, err := ParseType(c.Type)
			if err == nil {
				c.typ = t
			}
		}
		return nil
	}
	if c.Type == "" {
		return fmt.Errorf("column %q: type is required (its MySQL COLUMN_TYPE; `logetl tables inspect` prints it)", c.Name)
	}
	t, err := ParseType(c.Type)
	if err != nil {
		return fmt.Errorf("column %q: %v", c.Name, err)
	}
	c.typ = t
	if c.As != "" && !parquetName.MatchString(c.As) {
		return fmt.Errorf("column %q: as %q must be letters, digits and _ (a Parquet column name every engine accepts)", c.Name, c.As)
	}
	if c.As == "" && !parquetName.MatchString(c.ParquetName()) {
		return fmt.Errorf("column %q: give it an `as` name of letters, digits and _", c.Name)
	}
	switch c.Encoding {
	case "", "dict", "plain":
	default:
		return fmt.Errorf("column %q: encoding %q is not dict or plain", c.Name, c.Encoding)
	}
	if c.Domain != "" && c.Treatment != Pseudonym {
		return fmt.Errorf("column %q: domain applies to pseudonym columns only", c.Name)
	}
	if c.Parquet != "" {
		if c.Treatment != Clear {
			return fmt.Errorf("column %q: parquet applies to clear columns only", c.Name)
		}
		switch {
		case c.Parquet == "string":
		case c.Parquet == "int64" && (t.Kind == KindInt || t.Kind == KindYear):
		case c.Parquet == "int32" && (t.Kind == KindInt && t.Bits <= 16 || t.Kind == KindInt && t.Bits <= 32 && !t.Unsigned || t.Kind == KindYear):
		default:
			return fmt.Errorf("column %q: parquet %q does not hold %s values (int32 holds integers up to 32 signed bits, int64 any integer below 2^63, string anything)", c.Name, c.Parquet, c.Type)
		}
	}
	if c.Treatment == Clear && c.Parquet == "" {
		if t.Kind == KindDecimal && t.Precision > 38 {
			return fmt.Errorf("column %q: DECIMAL(%d) is wider than Parquet's 38 digits: set parquet: string", c.Name, t.Precision)
		}
	}
	return nil
}

// MySQLType is the parsed Type.
func (c Column) MySQLType() Type { return c.typ }

// ParquetName is the column's name in the Parquet file.
func (c Column) ParquetName() string {
	if c.As != "" {
		return c.As
	}
	switch c.Treatment {
	case Pseudonym:
		return c.Name + "_pseudonym"
	case Seal:
		return c.Name + "_enc"
	}
	return c.Name
}

// PseudonymDomain is the domain of a pseudonym column.
func (c Column) PseudonymDomain() string {
	if c.Domain != "" {
		return c.Domain
	}
	return c.Name
}

// Column returns the declared column named name.
func (s Spec) Column(name string) (Column, bool) {
	for _, c := range s.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// Exported lists the columns that go to the lake, in Parquet order.
func (s Spec) Exported() []Column {
	out := make([]Column, 0, len(s.Columns))
	for _, c := range s.Columns {
		if c.Treatment != Drop {
			out = append(out, c)
		}
	}
	return out
}

// Protected lists the exported columns that are pseudonymized or sealed.
func (s Spec) Protected() []Column {
	var out []Column
	for _, c := range s.Exported() {
		if c.Treatment != Clear {
			out = append(out, c)
		}
	}
	return out
}

// Index returns the position of the MySQL column name among Exported(), or -1.
func (s Spec) Index(name string) int {
	for i, c := range s.Exported() {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// Location loads the spec's time zone, or fallback when it has none.
func (s Spec) Location(fallback *time.Location) (*time.Location, error) {
	if s.Timezone == "" {
		return fallback, nil
	}
	loc, err := time.LoadLocation(s.Timezone)
	if err != nil {
		return nil, fmt.Errorf("%w: table %s: timezone %q: %v", ErrInvalid, s.Name, s.Timezone, err)
	}
	return loc, nil
}

// Database and Table split MySQLTable; Database is "" when the DSN's database is meant.
func (s Spec) Database() string {
	if db, _, ok := strings.Cut(s.MySQLTable, "."); ok {
		return db
	}
	return ""
}

// Table is the table part of MySQLTable.
func (s Spec) Table() string {
	if _, t, ok := strings.Cut(s.MySQLTable, "."); ok {
		return t
	}
	return s.MySQLTable
}

// Quote quotes a MySQL identifier.
func Quote(ident string) string { return "`" + strings.ReplaceAll(ident, "`", "``") + "`" }

// QuotedTable is the source table as a quoted identifier, with its database if any.
func (s Spec) QuotedTable() string {
	if db := s.Database(); db != "" {
		return Quote(db) + "." + Quote(s.Table())
	}
	return Quote(s.Table())
}

// Marshal renders a File as YAML.
func (f File) Marshal() ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b, yaml.IndentSequence(true))
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
