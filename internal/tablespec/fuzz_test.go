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

// FuzzDecimal: for any text and any DECIMAL that fits an int64, the allocation-free path of the
// export gives the general path's value, or both refuse the text.
func FuzzDecimal(f *testing.F) {
	for _, s := range []string{"0", "-12.30", "1.235", "999999999999999999", ".5", "5.", "", "-", "1e5"} {
		f.Add(s, uint8(18), uint8(2))
	}
	f.Fuzz(func(t *testing.T, text string, prec, scale uint8) {
		p := 1 + int(prec)%18
		sc := int(scale) % (p + 1)
		col := Column{Name: "d", typ: Type{Kind: KindDecimal, Precision: p, Scale: sc}}
		got, gotErr := unscaledInt64(col, []byte(text))
		want, wantErr := unscaledBig(col, []byte(text))
		if (gotErr != nil) != (wantErr != nil) {
			t.Fatalf("decimal(%d,%d) %q: fast path error %v, general path error %v", p, sc, text, gotErr, wantErr)
		}
		if gotErr == nil && want.Int64() != got {
			t.Fatalf("decimal(%d,%d) %q: fast path %d, general path %s", p, sc, text, got, want)
		}
	})
}
