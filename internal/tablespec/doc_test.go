package tablespec

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite the type table of docs/tables.md")

// typeRows are the MySQL types of the docs' table, with what DuckDB reads (the types that
// internal/parquetlog's TestDuckDBReadsEveryKindWithItsType checks) and a note.
var typeRows = []struct{ mysql, duckdb, note string }{
	{"tinyint", "TINYINT", "every width signed and unsigned; MEDIUMINT is stored as 32 bits"},
	{"smallint unsigned", "USMALLINT", ""},
	{"mediumint", "INTEGER", ""},
	{"int unsigned", "UINTEGER", ""},
	{"bigint", "BIGINT", ""},
	{"bigint unsigned", "UBIGINT", "`parquet: int64` stores it signed (Athena/Trino and Spark have no unsigned 64-bit type)"},
	{"decimal(10,2)", "DECIMAL(10,2)", "precision ≤ 9: int32, ≤ 18: int64, else fixed bytes"},
	{"decimal(30,4)", "DECIMAL(30,4)", "over 38 digits: `parquet: string`"},
	{"float", "FLOAT", ""},
	{"double", "DOUBLE", ""},
	{"varchar(255)", "VARCHAR", "also CHAR, TEXT, ENUM, SET (SET as its comma-separated text)"},
	{"json", "JSON", "MariaDB's JSON (a LONGTEXT with a json_valid check) is declared `json` too"},
	{"varbinary(16)", "BLOB", "also BINARY, BLOB"},
	{"date", "DATE", ""},
	{"datetime(6)", "TIMESTAMP WITH TIME ZONE", "DATETIME is read as UTC"},
	{"timestamp(3)", "TIMESTAMP WITH TIME ZONE", "read in a UTC session, whatever the server's zone"},
	{"time(6)", "TIME", "outside 00:00..24:00 (MySQL allows ±838h): `parquet: string`"},
	{"year", "SMALLINT", ""},
	{"bit(1)", "BOOLEAN", ""},
	{"bit(8)", "BIGINT", "BIT(64): UBIGINT"},
}

// typeTable renders the MySQL → Parquet table from the code that builds the schema.
func typeTable(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("| MySQL | Parquet (physical, logical) | DuckDB reads | Notes |\n|---|---|---|---|\n")
	for _, r := range typeRows {
		typ, err := ParseType(r.mysql)
		if err != nil {
			t.Fatal(err)
		}
		c := Column{Name: "c", Type: r.mysql, Treatment: Clear, typ: typ}
		s := parquet.NewSchema("x", parquet.Group{"c": parquet.Required(c.BaseNode())}).String()
		leaf := strings.TrimSuffix(strings.TrimSpace(strings.Split(s, "\n")[1]), ";")
		leaf = strings.Replace(strings.TrimPrefix(leaf, "required "), " c", "", 1)
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s |\n", r.mysql, leaf, r.duckdb, r.note)
	}
	return b.String()
}

// fieldTable renders the built-in table's columns and their treatments from its spec.
func fieldTable(t *testing.T) string {
	t.Helper()
	spec, ok := Builtin().Table(BuiltinName)
	if !ok {
		t.Fatal("no built-in table")
	}
	var b strings.Builder
	b.WriteString("| Parquet column | MySQL column | Treatment | Null |\n|---|---|---|---|\n")
	for _, c := range spec.Columns {
		null := ""
		if c.Nullable {
			null = "yes"
		}
		treatment := string(c.Treatment)
		if c.Treatment == Pseudonym {
			treatment += " (domain `" + c.PseudonymDomain() + "`)"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s |\n", c.ParquetName(), c.Name, treatment, null)
	}
	return b.String()
}

// generated replaces the text between a doc's begin and end markers with body, or, without
// -update-docs, fails when the doc differs.
func generated(t *testing.T, doc, name, body string) {
	t.Helper()
	path := filepath.Join("..", "..", "docs", doc)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	begin, end := "<!-- "+name+":begin -->\n", "<!-- "+name+":end -->"
	i, j := strings.Index(text, begin), strings.Index(text, end)
	if i < 0 || j < i {
		t.Fatalf("docs/%s lacks the %q ... %q markers", doc, strings.TrimSpace(begin), end)
	}
	want := text[:i+len(begin)] + body + text[j:]
	if *updateDocs {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want != text {
		t.Fatalf("docs/%s's %s table is stale: go test ./internal/tablespec -update-docs", doc, name)
	}
}

// The tables of the docs are what the code produces; -update-docs rewrites them.
func TestTheDocsTablesAreWhatTheCodeSays(t *testing.T) {
	generated(t, "tables.md", "types", typeTable(t))
	generated(t, "field-protection.md", "fields", fieldTable(t))
}
