//go:build integration

package parquetlog

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

func TestDuckDBReadsEveryKindWithItsType(t *testing.T) {
	spec := loadSpec(t, wideSpec)
	p := newProtector(t)
	var rows [][]parquet.Value
	for i := 0; i < 4; i++ {
		rows = append(rows, fileForm(t, spec, p, sourceRow(spec, i)))
	}
	path := filepath.Join(t.TempDir(), "wide.parquet")
	if err := os.WriteFile(path, writeBatches(t, spec, rows, 4, WriterOptions{}), 0o644); err != nil {
		t.Fatal(err)
	}
	root, _ := filepath.Abs("../..")
	got, err := runDuckDB(root, fmt.Sprintf(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('%s'))`, path))
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, r := range got {
		types[r["column_name"]] = r["column_type"]
	}
	want := map[string]string{
		"id": "UBIGINT", "at": "TIMESTAMP WITH TIME ZONE", "i8": "TINYINT", "u16": "USMALLINT", "i24": "INTEGER", "u32": "UINTEGER",
		"i64": "BIGINT", "price": "DECIMAL(10,2)", "big": "DECIMAL(30,4)", "f": "FLOAT", "d": "DOUBLE", "name": "VARCHAR", "kind": "VARCHAR",
		"doc": "JSON", "raw": "BLOB", "day": "DATE", "tod": "TIME", "yr": "SMALLINT", "flag": "BOOLEAN", "bits": "BIGINT",
		"actor_pseudonym": "VARCHAR", "email_enc": "BLOB",
	}
	for col, typ := range want {
		if types[col] != typ {
			t.Errorf("DuckDB reads %s as %q, want %q", col, types[col], typ)
		}
	}
	vals, err := runDuckDB(root, fmt.Sprintf(`SELECT CAST(price AS VARCHAR) AS price, CAST(big AS VARCHAR) AS big, CAST(tod AS VARCHAR) AS tod, CAST("at" AS VARCHAR) AS at_text, doc->>'$.k[1]' AS k FROM read_parquet('%s') ORDER BY id LIMIT 1`, path))
	if err != nil {
		t.Fatal(err)
	}
	if v := vals[0]; v["price"] != "0.00" || v["big"] != "-99999999999999999999999999.9999" || v["tod"] != "23:59:59.999999" || !strings.HasPrefix(v["at_text"], "2025-11-24 16:00:00") || v["k"] != "x" {
		t.Errorf("DuckDB values %v", v)
	}
}
