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

const typesBegin, typesEnd = "<!-- types:begin -->\n", "<!-- types:end -->"

// The type table of docs/tables.md is what the schema code produces; -update-docs rewrites it.
func TestTheDocsTypeTableIsWhatTheSchemaCodeWrites(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "tables.md")
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(body)
	i, j := strings.Index(doc, typesBegin), strings.Index(doc, typesEnd)
	if i < 0 || j < i {
		t.Fatalf("docs/tables.md lacks the %q ... %q markers", strings.TrimSpace(typesBegin), typesEnd)
	}
	want := doc[:i+len(typesBegin)] + typeTable(t) + doc[j:]
	if *updateDocs {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want != doc {
		t.Fatal("docs/tables.md's type table is stale: go test ./internal/tablespec -run TestTheDocsTypeTable -update-docs")
	}
}
