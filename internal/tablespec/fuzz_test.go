package tablespec

import (
	"errors"
	"testing"
)

// A spec file is an operator's input: any bytes give a spec or an error wrapping ErrInvalid,
// never a panic; a spec that parses marshals its policy and parses its YAML suggestion back.
func FuzzParse(f *testing.F) {
	f.Add(BuiltinYAML())
	f.Add([]byte("tables:\n  - name: t\n    mysql_table: t\n    time_column: at\n    id_column: id\n    columns:\n      - {name: id, type: bigint, treatment: clear}\n      - {name: at, type: datetime, treatment: clear}\n"))
	f.Add([]byte("tables: [{name: '../x'}]"))
	f.Add([]byte("sources: {a: {dsn_env: X}}\ntables: []"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		for _, s := range file.Tables {
			_ = s.Policy().Marshal()
			_ = s.Exported()
		}
	})
}

// Column types come from information_schema or a spec: any text gives a type or an error.
func FuzzParseType(f *testing.F) {
	for _, s := range []string{"bigint(20) unsigned", "decimal(65,30)", "enum('a','b,c')", "datetime(6)", "bit(64)", "varchar(255)", "double precision", "json", "set('x')"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		typ, err := ParseType(s)
		if err != nil {
			return
		}
		again, err := ParseType(typ.String())
		if err != nil || !again.Compatible(typ) {
			t.Fatalf("%q normalizes to %q, which parses as %v (%v)", s, typ.String(), again, err)
		}
	})
}
