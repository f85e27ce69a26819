package tablespec

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Kind is the class of a MySQL column type, which decides its Parquet type and how its values
// are scanned, converted and (for protected columns) turned into bytes.
type Kind uint8

// Kinds of MySQL column types a log table may have.
const (
	KindInvalid   Kind = iota
	KindInt            // TINYINT, SMALLINT, MEDIUMINT, INT, BIGINT (signed or unsigned)
	KindDecimal        // DECIMAL(p,s), NUMERIC
	KindFloat          // FLOAT
	KindDouble         // DOUBLE, REAL
	KindString         // CHAR, VARCHAR, *TEXT, ENUM, SET
	KindJSON           // JSON (MySQL), or a MariaDB LONGTEXT declared json
	KindBytes          // BINARY, VARBINARY, *BLOB
	KindDate           // DATE
	KindDatetime       // DATETIME(fsp)
	KindTimestamp      // TIMESTAMP(fsp)
	KindTime           // TIME(fsp)
	KindYear           // YEAR
	KindBit            // BIT(n)
)

var kindNames = map[Kind]string{
	KindInt: "integer", KindDecimal: "decimal", KindFloat: "float", KindDouble: "double", KindString: "string",
	KindJSON: "json", KindBytes: "bytes", KindDate: "date", KindDatetime: "datetime", KindTimestamp: "timestamp",
	KindTime: "time", KindYear: "year", KindBit: "bit",
}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return "invalid"
}

// Type is a parsed MySQL column type (information_schema.COLUMNS.COLUMN_TYPE).
type Type struct {
	Kind      Kind
	Bits      int  // integers: 8, 16, 24, 32 or 64; BIT: its width
	Unsigned  bool // integers
	Precision int  // DECIMAL
	Scale     int  // DECIMAL
	FSP       int  // DATETIME, TIMESTAMP, TIME: fractional-second digits
	Length    int  // CHAR, VARCHAR, BINARY, VARBINARY: declared length (0 when none)
	norm      string
}

// String is the normalized type: lower case, integer display widths dropped (MySQL 8 no longer
// shows them, MariaDB does), so that both servers' spellings of one type compare equal.
func (t Type) String() string { return t.norm }

// Compatible reports whether a column of type t can be exported where the spec declared type
// want: same kind, signedness, width, decimal precision and scale, fractional seconds. String and
// binary lengths may differ, since they change nothing in the Parquet file; any other change
// (INT to BIGINT, DATETIME to TIMESTAMP, DECIMAL(10,2) to DECIMAL(12,2)) changes the file's type
// or values and fails the export.
func (t Type) Compatible(want Type) bool {
	a, b := t, want
	a.Length, b.Length, a.norm, b.norm = 0, 0, "", ""
	return a == b
}

var (
	typeRE   = regexp.MustCompile(`^([a-z]+(?: precision)?)\s*(?:\(([^)]*)\))?\s*((?:\s*(?:unsigned|signed|zerofill))*)\s*$`)
	intBits  = map[string]int{"tinyint": 8, "smallint": 16, "mediumint": 24, "int": 32, "integer": 32, "bigint": 64}
	strTypes = map[string]bool{"char": true, "varchar": true, "tinytext": true, "text": true, "mediumtext": true, "longtext": true, "enum": true, "set": true}
	binTypes = map[string]bool{"binary": true, "varbinary": true, "tinyblob": true, "blob": true, "mediumblob": true, "longblob": true}
)

// ParseType parses a MySQL or MariaDB column type as information_schema reports it
// ("bigint(20) unsigned", "varchar(64)", "datetime(6)", "decimal(10,2)", "enum('a','b')",
// "json"). Types a log table does not have (spatial types, vectors) are an error that says to
// drop the column.
func ParseType(s string) (Type, error) {
	low := strings.ToLower(strings.TrimSpace(s))
	var args string
	base := low
	// ENUM and SET lists may hold parentheses inside quoted values: take everything between the
	// first "(" and the last ")".
	if i := strings.IndexByte(low, '('); i > 0 && (strings.HasPrefix(low, "enum") || strings.HasPrefix(low, "set")) {
		j := strings.LastIndexByte(low, ')')
		if j < i {
			return Type{}, fmt.Errorf("type %q: unbalanced parentheses", s)
		}
		base, args = strings.TrimSpace(low[:i]), low[i+1:j]
		t := Type{Kind: KindString, norm: base + "(" + args + ")"}
		return t, nil
	}
	m := typeRE.FindStringSubmatch(low)
	if m == nil {
		return Type{}, fmt.Errorf("type %q is not a MySQL column type this logetl understands", s)
	}
	base, args = m[1], strings.ReplaceAll(m[2], " ", "")
	flags := strings.Fields(m[3])
	unsigned := false
	for _, f := range flags {
		if f == "unsigned" {
			unsigned = true
		}
	}
	nums := func(min, max int) ([]int, error) {
		if args == "" {
			return nil, nil
		}
		parts := strings.Split(args, ",")
		if len(parts) < min || len(parts) > max {
			return nil, fmt.Errorf("type %q: want %d to %d numbers in parentheses", s, min, max)
		}
		out := make([]int, len(parts))
		for i, p := range parts {
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("type %q: %q is not a size", s, p)
			}
			out[i] = n
		}
		return out, nil
	}
	t := Type{}
	switch {
	case intBits[base] > 0:
		if _, err := nums(1, 1); err != nil {
			return Type{}, err
		}
		t = Type{Kind: KindInt, Bits: intBits[base], Unsigned: unsigned}
		if base == "integer" {
			base = "int"
		}
		t.norm = base
		if unsigned {
			t.norm += " unsigned"
		}
		return t, nil
	case base == "bool" || base == "boolean":
		return Type{Kind: KindInt, Bits: 8, norm: "tinyint"}, nil
	case base == "decimal" || base == "numeric" || base == "dec" || base == "fixed":
		n, err := nums(1, 2)
		if err != nil {
			return Type{}, err
		}
		t = Type{Kind: KindDecimal, Precision: 10}
		if len(n) > 0 {
			t.Precision = n[0]
		}
		if len(n) > 1 {
			t.Scale = n[1]
		}
		if t.Precision < 1 || t.Precision > 65 || t.Scale > t.Precision || t.Scale > 30 {
			return Type{}, fmt.Errorf("type %q: precision must be 1..65 and scale 0..min(30, precision)", s)
		}
		t.norm = fmt.Sprintf("decimal(%d,%d)", t.Precision, t.Scale)
		if unsigned {
			t.Unsigned = true
			t.norm += " unsigned"
		}
		return t, nil
	case base == "float":
		n, err := nums(1, 2)
		if err != nil {
			return Type{}, err
		}
		// FLOAT(p) with p > 24 is a DOUBLE, as in MySQL.
		if len(n) == 1 && n[0] > 24 {
			return Type{Kind: KindDouble, norm: "double"}, nil
		}
		return Type{Kind: KindFloat, norm: "float"}, nil
	case base == "double" || base == "double precision" || base == "real":
		if _, err := nums(2, 2); err != nil {
			return Type{}, err
		}
		return Type{Kind: KindDouble, norm: "double"}, nil
	case strTypes[base]:
		n, err := nums(1, 1)
		if err != nil {
			return Type{}, err
		}
		t = Type{Kind: KindString, norm: base}
		if len(n) == 1 {
			t.Length = n[0]
			t.norm = fmt.Sprintf("%s(%d)", base, n[0])
		}
		return t, nil
	case base == "json":
		return Type{Kind: KindJSON, norm: "json"}, nil
	case binTypes[base]:
		n, err := nums(1, 1)
		if err != nil {
			return Type{}, err
		}
		t = Type{Kind: KindBytes, norm: base}
		if len(n) == 1 {
			t.Length = n[0]
			t.norm = fmt.Sprintf("%s(%d)", base, n[0])
		}
		return t, nil
	case base == "date":
		return Type{Kind: KindDate, norm: "date"}, nil
	case base == "datetime" || base == "timestamp" || base == "time":
		n, err := nums(1, 1)
		if err != nil {
			return Type{}, err
		}
		kind := map[string]Kind{"datetime": KindDatetime, "timestamp": KindTimestamp, "time": KindTime}[base]
		t = Type{Kind: kind, norm: base}
		if len(n) == 1 {
			if n[0] > 6 {
				return Type{}, fmt.Errorf("type %q: at most 6 fractional-second digits", s)
			}
			t.FSP = n[0]
		}
		if t.FSP > 0 {
			t.norm = fmt.Sprintf("%s(%d)", base, t.FSP)
		}
		return t, nil
	case base == "year":
		return Type{Kind: KindYear, norm: "year"}, nil
	case base == "bit":
		n, err := nums(1, 1)
		if err != nil {
			return Type{}, err
		}
		t = Type{Kind: KindBit, Bits: 1}
		if len(n) == 1 {
			t.Bits = n[0]
		}
		if t.Bits < 1 || t.Bits > 64 {
			return Type{}, fmt.Errorf("type %q: BIT width must be 1..64", s)
		}
		t.norm = fmt.Sprintf("bit(%d)", t.Bits)
		return t, nil
	default:
		return Type{}, fmt.Errorf("type %q has no Parquet mapping in logetl (spatial, vector and other non-log types): declare the column with treatment drop", s)
	}
}

// MustParseType is ParseType for types known to be valid (tests and the built-in spec).
func MustParseType(s string) Type {
	t, err := ParseType(s)
	if err != nil {
		panic(err)
	}
	return t
}
