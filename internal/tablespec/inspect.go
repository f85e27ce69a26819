package tablespec

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// TableInfo is what information_schema says about a MySQL table: the input of Suggest and of
// the export's index check.
type TableInfo struct {
	Database string
	Table    string
	Columns  []ColumnInfo
	Indexes  []IndexInfo
	// Rows is the server's row estimate (information_schema.TABLES.TABLE_ROWS).
	Rows int64
}

// ColumnInfo is one column of information_schema.COLUMNS.
type ColumnInfo struct {
	Name       string
	ColumnType string // COLUMN_TYPE, e.g. "bigint(20) unsigned"
	Nullable   bool
	Key        string // COLUMN_KEY: PRI, UNI, MUL or ""
	Extra      string // EXTRA, e.g. auto_increment
	// JSON is set for MySQL JSON columns and for MariaDB LONGTEXT columns with a json_valid
	// check constraint (MariaDB's JSON type).
	JSON bool
}

// Type is the column's parsed type, JSON for JSON columns.
func (c ColumnInfo) Type() (Type, error) {
	if c.JSON {
		return Type{Kind: KindJSON, norm: "json"}, nil
	}
	return ParseType(c.ColumnType)
}

// IndexInfo is one index of information_schema.STATISTICS, columns in index order.
type IndexInfo struct {
	Name    string
	Unique  bool
	Columns []string
}

// Column returns the column named name.
func (t TableInfo) Column(name string) (ColumnInfo, bool) {
	for _, c := range t.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return ColumnInfo{}, false
}

func (t TableInfo) primaryKey() []string {
	for _, ix := range t.Indexes {
		if ix.Name == "PRIMARY" {
			return ix.Columns
		}
	}
	return nil
}

// WindowIndex finds the index the export reads windows through: one that yields rows in
// (time, id) order for a range of time, so MySQL streams a window off the index with no sort
// and no table scan. That is an index starting with (time, id), or an index on time alone when
// id is the table's primary key (InnoDB secondary indexes end with the primary key, and MySQL's
// and MariaDB's optimizers use that).
func (t TableInfo) WindowIndex(timeCol, idCol string) (string, bool) {
	pk := t.primaryKey()
	for _, ix := range t.Indexes {
		cols := ix.Columns
		if len(cols) == 0 || cols[0] != timeCol {
			continue
		}
		if len(cols) >= 2 && cols[1] == idCol {
			return ix.Name, true
		}
		if len(cols) == 1 && slices.Equal(pk, []string{idCol}) {
			return ix.Name, true
		}
	}
	return "", false
}

// AlterTable is the statement that adds the window index, online on InnoDB.
func (t TableInfo) AlterTable(timeCol, idCol string) string {
	table := Quote(t.Table)
	if t.Database != "" {
		table = Quote(t.Database) + "." + table
	}
	return fmt.Sprintf("ALTER TABLE %s ADD INDEX `logetl_window` (%s, %s), ALGORITHM=INPLACE, LOCK=NONE;", table, Quote(timeCol), Quote(idCol))
}

// Suggestion is a starting spec for a table with notes for its author.
type Suggestion struct {
	Spec Spec
	// Review holds, by column, why a column needs a decision (likely personal data).
	Review map[string]string
	// Index is the window index found, or "" with AlterTable set to the statement that adds it.
	Index      string
	AlterTable string
	// Warnings are problems the author must solve before exporting (no time or id column).
	Warnings []string
}

var (
	piiName = regexp.MustCompile(`(?i)(^|_)(ip|ip_?addr(ess)?|remote_?addr(ess)?|client_?ip|email|e_?mail|mail|phone|mobile|tel|telephone|user_?agent|ua|name|first_?name|last_?name|full_?name|user_?name|login|address|street|city|zip|postcode|postal_?code|birth|birthday|dob|ssn|passport|password|passwd|token|secret|session|cookie|iban|card|lat|lng|latitude|longitude|geo|location)($|_)`)
	// Identifiers of people: joinable, so a pseudonym fits them.
	personID = regexp.MustCompile(`(?i)^(user|actor|owner|author|causer|customer|member|account|person|principal|admin|staff|employee|client|created_by|updated_by|deleted_by|impersonator)(_id|_pk|id)?$`)
	// Columns an analyst obviously wants in clear: what happened, how it went.
	analytic  = regexp.MustCompile(`(?i)^(action|event|event_?(name|type)|activity|verb|operation|op|status|status_?code|state|result|outcome|method|http_?method|route|endpoint|level|severity|log_?name|kind|type|category|channel|source|(subject|object|auditable|resource|model|target|causer|actor|content)_?type|app|application|service|version)$`)
	timeNames = []string{"occurred_at", "created_at", "timestamp", "logged_at", "event_time", "time", "ts", "created", "date", "at"}
)

// Suggest builds a starting spec for info: the id and time columns and columns an analyst
// obviously wants are clear, likely personal data is flagged for review, and everything else
// is drop. The author edits it before the first export; nothing here decides for them what
// may leave MySQL, except that nothing does unless named.
func Suggest(info TableInfo, lakeName string) Suggestion {
	sg := Suggestion{Review: map[string]string{}}
	if lakeName == "" {
		lakeName = strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9_]`).ReplaceAllString(info.Table, "_"))
		if lakeName == "" || lakeName[0] < 'a' || lakeName[0] > 'z' {
			lakeName = "t_" + lakeName
		}
	}
	spec := Spec{Name: lakeName, MySQLTable: info.Table}
	if info.Database != "" {
		spec.MySQLTable = info.Database + "." + info.Table
	}

	// The id: an auto-increment integer primary key, else a single-column integer primary key.
	pk := info.primaryKey()
	for _, c := range info.Columns {
		t, err := c.Type()
		if err != nil || t.Kind != KindInt || c.Nullable {
			continue
		}
		if strings.Contains(c.Extra, "auto_increment") || (len(pk) == 1 && pk[0] == c.Name && spec.IDColumn == "") {
			spec.IDColumn = c.Name
			if strings.Contains(c.Extra, "auto_increment") {
				break
			}
		}
	}
	// The time: a DATETIME/TIMESTAMP column that starts an index, preferring usual names.
	var times []string
	for _, c := range info.Columns {
		if t, err := c.Type(); err == nil && (t.Kind == KindDatetime || t.Kind == KindTimestamp) {
			times = append(times, c.Name)
		}
	}
	score := func(name string) int {
		s := 0
		for _, ix := range info.Indexes {
			if len(ix.Columns) > 0 && ix.Columns[0] == name {
				s += 100
			}
		}
		if i := slices.Index(timeNames, strings.ToLower(name)); i >= 0 {
			s += 50 - i
		}
		return s
	}
	slices.SortStableFunc(times, func(a, b string) int { return score(b) - score(a) })
	if len(times) > 0 {
		spec.TimeColumn = times[0]
	}
	if spec.IDColumn == "" {
		sg.Warnings = append(sg.Warnings, "no unique increasing integer column (an AUTO_INCREMENT primary key): logetl needs one as id_column")
	}
	if spec.TimeColumn == "" {
		sg.Warnings = append(sg.Warnings, "no DATETIME or TIMESTAMP column: logetl needs one as time_column")
	}

	for _, ci := range info.Columns {
		col := Column{Name: ci.Name, Type: ci.ColumnType, Nullable: ci.Nullable, Treatment: Drop}
		t, err := ci.Type()
		if ci.JSON {
			col.Type = "json"
		}
		if err != nil {
			sg.Review[ci.Name] = "no Parquet mapping for this type: keep it dropped"
			spec.Columns = append(spec.Columns, col)
			continue
		}
		col.Type = t.String()
		col.typ = t
		switch {
		case ci.Name == spec.IDColumn || ci.Name == spec.TimeColumn:
			col.Treatment = Clear
		case analytic.MatchString(ci.Name) || strings.HasPrefix(t.norm, "enum(") || strings.HasPrefix(t.norm, "set("):
			col.Treatment = Clear
		case personID.MatchString(ci.Name) || (strings.HasSuffix(strings.ToLower(ci.Name), "_id") && piiName.MatchString(strings.TrimSuffix(strings.ToLower(ci.Name), "_id"))):
			sg.Review[ci.Name] = "identifies a person: pseudonym (count and join without knowing who) or drop"
		case piiName.MatchString(ci.Name):
			sg.Review[ci.Name] = "likely personal data: seal (encrypted, readable with the keyring), pseudonym, or drop"
		case t.Kind == KindJSON || t.Kind == KindBytes || (t.Kind == KindString && (strings.Contains(t.norm, "text") || t.Length > 255)):
			sg.Review[ci.Name] = "free-form content may hold personal data: seal, or clear only if you know it never does"
		}
		if col.Treatment == Clear && ci.Name == spec.IDColumn && t.Unsigned && t.Bits == 64 {
			// Engines handle signed 64-bit ids best; auto-increment ids stay below 2^63.
			col.Parquet = "int64"
		}
		spec.Columns = append(spec.Columns, col)
	}
	sg.Spec = spec
	if spec.TimeColumn != "" && spec.IDColumn != "" {
		if ix, ok := info.WindowIndex(spec.TimeColumn, spec.IDColumn); ok {
			sg.Index = ix
		} else {
			sg.AlterTable = info.AlterTable(spec.TimeColumn, spec.IDColumn)
		}
	}
	return sg
}

// YAML renders the suggestion as a --tables file with the review notes as comments.
func (sg Suggestion) YAML() string {
	var b strings.Builder
	s := sg.Spec
	fmt.Fprintf(&b, "# Starting spec for %s, written by `logetl tables inspect`. Review every column:\n", s.MySQLTable)
	b.WriteString("# clear (as is), pseudonym (keyed HMAC, joinable), seal (AES-GCM, decryptable) or drop (never read).\n")
	b.WriteString("# A column not listed here is never exported.\n")
	for _, w := range sg.Warnings {
		fmt.Fprintf(&b, "# WARNING: %s\n", w)
	}
	switch {
	case sg.Index != "":
		fmt.Fprintf(&b, "# Window index: %s (time_column, id_column order), used by every export.\n", sg.Index)
	case sg.AlterTable != "":
		fmt.Fprintf(&b, "# MISSING INDEX: the export reads windows by (%s, %s) and refuses to scan the table.\n# Add it first:\n#   %s\n", s.TimeColumn, s.IDColumn, sg.AlterTable)
	}
	b.WriteString("tables:\n")
	fmt.Fprintf(&b, "  - name: %s\n    mysql_table: %s\n    time_column: %s\n    id_column: %s\n", s.Name, yamlString(s.MySQLTable), yamlString(s.TimeColumn), yamlString(s.IDColumn))
	b.WriteString("    # timezone: UTC      # of the dt= and week= partitions (default --timezone)\n")
	b.WriteString("    # window: 15m        # export window (default --window)\n")
	b.WriteString("    # retention: 30d     # delete rows from MySQL once the lake provably holds them (default: keep)\n")
	b.WriteString("    columns:\n")
	width := 0
	for _, c := range s.Columns {
		width = max(width, len(columnLine(c)))
	}
	for _, c := range s.Columns {
		line := columnLine(c)
		if note, ok := sg.Review[c.Name]; ok {
			fmt.Fprintf(&b, "      %-*s  # REVIEW: %s\n", width, line, note)
			continue
		}
		fmt.Fprintf(&b, "      %s\n", line)
	}
	return b.String()
}

func columnLine(c Column) string {
	parts := []string{"name: " + yamlString(c.Name), "type: " + yamlString(c.Type)}
	if c.Nullable {
		parts = append(parts, "nullable: true")
	}
	parts = append(parts, "treatment: "+string(c.Treatment))
	if c.As != "" {
		parts = append(parts, "as: "+c.As)
	}
	if c.Parquet != "" {
		parts = append(parts, "parquet: "+c.Parquet)
	}
	return "- {" + strings.Join(parts, ", ") + "}"
}

var plainYAML = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_ .()]*$`)

// yamlString quotes a scalar unless it is plainly safe in YAML flow style.
func yamlString(s string) string {
	if plainYAML.MatchString(s) && !strings.ContainsAny(s, ",:{}[]#&*!|>'\"%@`") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
